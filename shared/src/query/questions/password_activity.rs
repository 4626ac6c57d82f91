//! Usage & insights, authentication methods activity, "Password resets and unlocks": the
//! self-service password management events per day and activity, succeeded and failed — as the
//! Auth Methods Activity workbook counts them (`AuditLogs` logged by "Self-service Password
//! Management", by day and operation).
//!
//! With `per=method`, the self-service password resets by the method the user verified with,
//! succeeded and failed ("Resets by method"). The audit logs do not record the method: the
//! rows by method are Microsoft's `userEventsSummary` (beta, Entra ID P1 or P2), which
//! `collect-inventory` collects where the tenant allows it (`source: microsoft`); beside them
//! one row of ours (`source: entra-monitor`, `method` null) counts the same resets from the logs,
//! so the two can be compared and a tenant without the report still sees its totals.

use super::build::{Builder, DAY_KQL, DAY_SQL, Plan, counts_from, one_of};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use chrono::SecondsFormat;
use rusqlite::types::Value as Sql;

/// The audit service that logs self-service password resets and unlocks.
pub const SSPR_SERVICE: &str = "Self-service Password Management";

/// The audit activity of a self-service password reset.
pub const SSPR_RESET: &str = "Reset password (self-service)";

const PER: [&str; 2] = ["day", "method"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "password-activity",
        description: "Usage & insights, authentication methods: self-service password resets and unlocks per day and activity, succeeded and failed; or (per=method) resets by the method verified with, from Microsoft's userEventsSummary where collected, beside our count from the logs.",
        trigger: Trigger::Http {
            route: "insights/auth-methods/resets",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "per",
        required: false,
        description: "day (the default: per day and activity, from the logs) or method (resets by verification method: Microsoft's userEventsSummary beside our count).",
        example: "method",
        values: &PER,
    }],
    default_days: 30,
};

#[derive(Debug)]
pub struct PasswordActivity;

/// Resets by method.
#[derive(Debug)]
struct ByMethod;

impl Question for PasswordActivity {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(match one_of(q, "per", &PER)?.as_deref() {
            Some("method") => Box::new(ByMethod),
            _ => Box::new(PasswordActivity),
        })
    }
}

impl Asked for ByMethod {
    fn category(&self) -> Category {
        Category::AuditLogs
    }

    /// Microsoft's rows are in the directory inventory, kept in the embedded store only.
    fn embedded_only(&self) -> bool {
        true
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        b.filter(
            "\"LoggedByService\" = ? AND \"OperationName\" = ?",
            &[SSPR_SERVICE, SSPR_RESET],
            format!(
                "LoggedByService == {} and OperationName == {}",
                lit(SSPR_SERVICE),
                lit(SSPR_RESET)
            ),
        );
        let ours = format!(
            "SELECT NULL AS method, COALESCE(SUM(\"Result\" = 'success'), 0) AS ok, COALESCE(SUM(COALESCE(\"Result\", '') != 'success'), 0) AS failed, 'entra-monitor' AS source {}",
            b.source_sql()
        );
        let event = |k: &str| format!("json_extract(body, '$.{k}')");
        let microsoft = format!(
            "SELECT {m} AS method, SUM({ok} = 1) AS ok, SUM(COALESCE({ok}, 0) != 1) AS failed, 'microsoft' AS source \
             FROM inventory WHERE tenant = ? AND kind = 'userEventsSummary' AND removed IS NULL AND {f} = 'reset' \
             AND {t} >= ? AND {t} < ? GROUP BY 1",
            m = event("authMethod"),
            ok = event("isSuccess"),
            f = event("feature"),
            t = event("eventDateTime"),
        );
        // Microsoft's rows come first in the statement, then ours.
        let mut params = vec![
            Sql::Text(tenant.into()),
            Sql::Text(c.from.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Sql::Text(c.to.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ];
        params.extend(b.params);
        let mut kql = b.kql;
        kql.push("| summarize succeeded = countif(Result == \"success\"), failed = countif(Result != \"success\")".into());
        kql.push("| extend method = \"\", source = \"entra-monitor\"".into());
        kql.push("// The rows by method are Microsoft's userEventsSummary, in the embedded store only: the audit logs do not record the method.".into());
        Plan {
            columns: vec!["method", "succeeded", "failed", "source"],
            sql: format!(
                "SELECT * FROM (SELECT * FROM ({microsoft}) UNION ALL SELECT * FROM ({ours})) ORDER BY source, ok + failed DESC, method"
            ),
            params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    fn shape(&self, _c: &Common, mut a: Answer) -> Answer {
        for r in &mut a.rows {
            for v in r.iter_mut().skip(1).take(2) {
                *v = serde_json::json!(crate::query::int(v));
            }
        }
        a
    }
}

impl Asked for PasswordActivity {
    fn category(&self) -> Category {
        Category::AuditLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        b.filter(
            "\"LoggedByService\" = ?",
            &[SSPR_SERVICE],
            format!("LoggedByService == {}", lit(SSPR_SERVICE)),
        );
        let sql = format!(
            "SELECT {DAY_SQL} AS day, COALESCE(\"OperationName\", '') AS activity, SUM(\"Result\" = 'success'), SUM(COALESCE(\"Result\", '') != 'success') {} GROUP BY 1, 2 ORDER BY 1, 2",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push(format!("| summarize succeeded = countif(Result == \"success\"), failed = countif(Result != \"success\") by day = {DAY_KQL}, activity = OperationName"));
        kql.push("| order by day asc, activity asc".into());
        Plan {
            columns: vec!["day", "activity", "succeeded", "failed"],
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        counts_from(a, 2)
    }
}
