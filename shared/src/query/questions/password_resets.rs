//! 3. Password resets per day, self-service and by an admin.

use super::build::{Builder, Plan, Summarised};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, int, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use crate::state::embedded::Period;
use chrono::Duration;
use serde_json::json;

/// Self-service and admin password resets (audit activity names).
pub const SELF_SERVICE_RESET: &str = "Reset password (self-service)";
pub const ADMIN_RESET: &str = "Reset user password";

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "password-resets",
        description: "Password resets per day, self-service and by an admin.",
        trigger: Trigger::Http {
            route: "audit/password-resets",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 7,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct PasswordResets;

impl Question for PasswordResets {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(PasswordResets))
    }
}

impl Asked for PasswordResets {
    fn category(&self) -> Category {
        Category::AuditLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        b.filter(
            "\"OperationName\" IN (?, ?)",
            &[SELF_SERVICE_RESET, ADMIN_RESET],
            format!(
                "OperationName in ({}, {})",
                lit(SELF_SERVICE_RESET),
                lit(ADMIN_RESET)
            ),
        );
        let sql = |use_summary| {
            let (parts, params) = Summarised {
                category: Category::AuditLogs,
                summary: &format!("{}_hourly_operations", Category::AuditLogs.table()),
                period: Period::Hour,
                summary_cols: "substr(\"Hour\", 1, 10) AS day, \"OperationName\" AS op, \"Events\" AS n",
                row_cols: "substr(\"TimeGenerated\", 1, 10) AS day, \"OperationName\" AS op, COUNT(*) AS n",
                row_group: " GROUP BY 1, 2",
                filter: Some((
                    "\"OperationName\" IN (?, ?)",
                    &[SELF_SERVICE_RESET, ADMIN_RESET],
                )),
            }
            .parts(tenant, c, use_summary);
            (
                format!(
                    "SELECT day, SUM(CASE WHEN op = '{SELF_SERVICE_RESET}' THEN n ELSE 0 END), SUM(CASE WHEN op = '{ADMIN_RESET}' THEN n ELSE 0 END) FROM ({parts}) GROUP BY 1 ORDER BY 1"
                ),
                params,
            )
        };
        let (summary_sql, params) = sql(true);
        let mut kql = b.kql;
        kql.push(format!(
            "| summarize self_service = countif(OperationName == {}), by_admin = countif(OperationName == {}) by day = format_datetime(startofday(TimeGenerated), \"yyyy-MM-dd\")",
            lit(SELF_SERVICE_RESET),
            lit(ADMIN_RESET)
        ));
        kql.push("| order by day asc".into());
        Plan {
            columns: vec!["day", "self_service", "by_admin"],
            sql: summary_sql,
            params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: Some(sql(false)),
        }
    }

    /// Every day of the range, zero when nothing happened.
    fn shape(&self, c: &Common, mut a: Answer) -> Answer {
        let mut by_day: std::collections::BTreeMap<String, (i64, i64)> = a
            .rows
            .iter()
            .map(|r| (text(&r[0]), (int(&r[1]), int(&r[2]))))
            .collect();
        let mut day = c.from.date_naive();
        while day <= c.to.date_naive() {
            by_day.entry(day.to_string()).or_default();
            day += Duration::days(1);
        }
        let (s, b): (i64, i64) = by_day
            .values()
            .fold((0, 0), |(s, b), (x, y)| (s + x, b + y));
        a.summary = Some(json!({ "self_service": s, "by_admin": b }));
        a.rows = by_day
            .into_iter()
            .map(|(d, (s, b))| vec![json!(d), json!(s), json!(b)])
            .collect();
        a
    }
}
