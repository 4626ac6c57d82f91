//! Usage & insights, authentication methods activity, "Sign-ins by authentication
//! requirement": successful interactive sign-ins per day, single-factor and multifactor — as
//! the Auth Methods Activity workbook counts them: the latest successful sign-in of each
//! correlation id (one sign-in flow), by its `AuthenticationRequirement`. Microsoft's own
//! `userMfaSignInSummary` is beta and licence-bound; this is computed from the logs.

use super::build::{Builder, DAY_KQL, Plan};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, days, int, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::json;
use std::collections::BTreeMap;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "auth-requirements",
        description: "Usage & insights, authentication methods: successful interactive sign-ins per day, single-factor and multifactor.",
        trigger: Trigger::Http {
            route: "insights/auth-methods/requirements",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 30,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct AuthRequirements;

impl Question for AuthRequirements {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(AuthRequirements))
    }
}

const SINGLE: &str = "singleFactorAuthentication";
const MULTI: &str = "multiFactorAuthentication";

impl Asked for AuthRequirements {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        b.filter("\"ResultType\" = '0'", &[], "ResultType == \"0\"".into());
        // SQLite takes a bare column from the row holding the MAX.
        let sql = format!(
            "SELECT substr(t, 1, 10) AS day, SUM(req = '{SINGLE}'), SUM(req = '{MULTI}'), COUNT(*) FROM \
             (SELECT MAX(\"TimeGenerated\") AS t, \"AuthenticationRequirement\" AS req {} GROUP BY COALESCE(\"CorrelationId\", \"Id\")) \
             GROUP BY 1 ORDER BY 1",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push("| extend flow = iff(isempty(CorrelationId), Id, CorrelationId)".into());
        kql.push("| summarize arg_max(TimeGenerated, AuthenticationRequirement) by flow".into());
        kql.push(format!(
            "| summarize single_factor = countif(AuthenticationRequirement == \"{SINGLE}\"), multifactor = countif(AuthenticationRequirement == \"{MULTI}\"), sign_ins = count() by day = {DAY_KQL}"
        ));
        kql.push("| order by day asc".into());
        Plan {
            columns: vec!["day", "single_factor", "multifactor", "sign_ins"],
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// Every day of the range (zero when none), and the totals.
    fn shape(&self, c: &Common, mut a: Answer) -> Answer {
        let mut per_day: BTreeMap<String, [i64; 3]> = days(c.from, c.to)
            .into_iter()
            .map(|d| (d, [0; 3]))
            .collect();
        for r in &a.rows {
            per_day.insert(text(&r[0]), [int(&r[1]), int(&r[2]), int(&r[3])]);
        }
        let mut total = [0; 3];
        a.rows = per_day
            .into_iter()
            .map(|(d, n)| {
                (0..3).for_each(|i| total[i] += n[i]);
                vec![json!(d), json!(n[0]), json!(n[1]), json!(n[2])]
            })
            .collect();
        a.summary = Some(json!({
            "single_factor": total[0], "multifactor": total[1], "sign_ins": total[2],
            "multifactor_share": if total[2] == 0 { 0.0 } else {
                (total[1] as f64 / total[2] as f64 * 10_000.0).round() / 10_000.0
            },
        }));
        a
    }
}
