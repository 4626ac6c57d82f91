//! 4. A user's sign-in pattern: weekday-hour, locations, apps, devices, results.

use super::build::{Builder, Plan};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, required};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "sign-in-pattern",
        description: "A user's sign-in pattern: weekday-hour (0 = Sunday), locations, apps, devices, results.",
        trigger: Trigger::Http {
            route: "signins/pattern",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "user",
        required: true,
        description: "The user principal name (any case).",
        example: "adele.vance@contoso.com",
        values: &[],
    }],
    default_days: 30,
};

/// The facets: (dimension, key in SQL, key in KQL).
const FACETS: [(&str, &str, &str); 5] = [
    (
        "hour_weekday",
        "CAST(strftime('%w', \"TimeGenerated\") AS TEXT) || '-' || strftime('%H', \"TimeGenerated\")",
        "strcat(tostring(toint(dayofweek(TimeGenerated) / 1d)), \"-\", format_datetime(TimeGenerated, \"HH\"))",
    ),
    (
        "location",
        "COALESCE(json_extract(\"LocationDetails\", '$.city') || ', ', '') || COALESCE(\"Location\", '')",
        "strcat(iff(isempty(tostring(LocationDetails.city)), \"\", strcat(tostring(LocationDetails.city), \", \")), Location)",
    ),
    ("app", "\"AppDisplayName\"", "AppDisplayName"),
    (
        "device",
        "COALESCE(json_extract(\"DeviceDetail\", '$.operatingSystem'), '') || ' / ' || COALESCE(json_extract(\"DeviceDetail\", '$.browser'), '')",
        "strcat(tostring(DeviceDetail.operatingSystem), \" / \", tostring(DeviceDetail.browser))",
    ),
    ("result", "\"ResultType\"", "ResultType"),
];

pub struct SignInPattern;

#[derive(Debug)]
struct Asking {
    user: String,
}

impl Question for SignInPattern {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            user: required(q, "user", "adele.vance@contoso.com")?,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        b.through_nocase_index("UserPrincipalName");
        b.filter(
            "\"UserPrincipalName\" = ? COLLATE NOCASE",
            &[&self.user],
            format!("UserPrincipalName =~ {}", lit(&self.user)),
        );
        // Facets as (dimension, key, count) rows: one query, one shape for both backends.
        let fw = b.source_sql();
        let mut parts = Vec::new();
        let mut params = Vec::new();
        let mut kql_parts = Vec::new();
        for (dim, sql_key, kql_key) in FACETS {
            parts.push(format!(
                "SELECT '{dim}' AS d, {sql_key} AS k, COUNT(*) AS n {fw} GROUP BY 2"
            ));
            params.extend(b.params.iter().cloned());
            kql_parts.push(format!(
                "(base | summarize sign_ins = count() by key = {kql_key} | extend dimension = {})",
                lit(dim)
            ));
        }
        let sql = format!("{} ORDER BY 1, 3 DESC, 2", parts.join(" UNION ALL "));
        let kql = format!(
            "let base = {};\nunion {}\n| project dimension, key, sign_ins\n| order by dimension asc, sign_ins desc, key asc",
            b.kql.join("\n"),
            kql_parts.join(", ")
        );
        Plan {
            columns: vec!["dimension", "key", "sign_ins"],
            sql,
            params,
            kql,
            paged: false,
            rows_only: None,
        }
    }
}
