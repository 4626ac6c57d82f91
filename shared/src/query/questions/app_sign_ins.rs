//! Usage & insights, "Application sign-in activity": per app (or per app per day) the
//! successful, failed and interrupted sign-ins, the success rate and the distinct users — as
//! Entra's Sign-ins workbook counts them: success is result 0, "pending user action" is one of
//! [`codes::WORKBOOK_INTERRUPTS`], everything else is a failure; the success rate is successes
//! over all sign-ins. Interactive sign-ins by default, non-interactive with
//! `type=non-interactive`. Microsoft's own report (`applicationSignInDetailedSummary`) is
//! delegated-only, so an app-only collector recomputes it from the logs.

use super::build::{Builder, DAY_KQL, DAY_SQL, Plan, SIGN_IN_TYPE, lists, one_of, sign_in_type};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, codes, int};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::json;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "app-sign-ins",
        description: "Usage & insights, app sign-in activity: per app (or per app per day) successful, failed and interrupted sign-ins, success rate and distinct users.",
        trigger: Trigger::Http {
            route: "insights/app-sign-ins",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        SIGN_IN_TYPE,
        Param {
            name: "per",
            required: false,
            description: "app (the default: one row per app over the range) or day (one row per app per day).",
            example: "app",
            values: &PER,
        },
    ],
    default_days: 30,
};

/// The values of `per`.
const PER: [&str; 2] = ["app", "day"];

pub struct AppSignIns;

#[derive(Debug)]
struct Asking {
    category: Category,
    per_day: bool,
}

impl Question for AppSignIns {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            category: sign_in_type(q)?,
            per_day: one_of(q, "per", &PER)?.as_deref() == Some("day"),
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        self.category
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let b = Builder::new(self.category, tenant, c);
        let (interrupts_sql, interrupts_kql) = lists(codes::WORKBOOK_INTERRUPTS);
        let (day_sql, day_group, day_kql, day_order) = if self.per_day {
            (
                format!("{DAY_SQL} AS day, "),
                "1, 2",
                format!("day = {DAY_KQL}, "),
                "day asc, ",
            )
        } else {
            (String::new(), "1", String::new(), "")
        };
        let inner = format!(
            "SELECT {day_sql}COALESCE(\"AppId\", '') AS app_id, MAX(\"AppDisplayName\") AS app, COUNT(*) AS n, \
             SUM(\"ResultType\" = '0') AS ok, SUM(\"ResultType\" IN ({interrupts_sql})) AS pending, \
             COUNT(DISTINCT \"UserId\") AS users {} GROUP BY {day_group}",
            b.source_sql(),
        );
        let day = if self.per_day { "day, " } else { "" };
        let sql = format!(
            "SELECT {day}app_id, app, n, ok, n - ok - pending, pending, ROUND(CAST(ok AS REAL) / n, 4), users FROM ({inner}) ORDER BY {day}n DESC, app_id"
        );
        let mut kql = b.kql;
        kql.push(format!(
            "| summarize app = take_any(AppDisplayName), sign_ins = count(), successful = countif(ResultType == \"0\"), interrupted = countif(ResultType in ({interrupts_kql})), users = count_distinct(UserId) by {day_kql}app_id = AppId"
        ));
        kql.push("| extend failed = sign_ins - successful - interrupted, success_rate = round(todouble(successful) / sign_ins, 4)".into());
        kql.push(format!(
            "| project {day}app_id, app, sign_ins, successful, failed, interrupted, success_rate, users"
        ));
        kql.push(format!("| order by {day_order}sign_ins desc, app_id asc"));
        let mut columns = vec!["app_id", "app", "sign_ins", "successful", "failed"];
        columns.extend(["interrupted", "success_rate", "users"]);
        if self.per_day {
            columns.insert(0, "day");
        }
        Plan {
            columns,
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// Counts as numbers and the success rate from them, so both backends answer alike.
    fn shape(&self, _c: &Common, mut a: Answer) -> Answer {
        let first = usize::from(self.per_day) + 2;
        for r in &mut a.rows {
            for (i, v) in r.iter_mut().enumerate().skip(first) {
                if i != first + 4 {
                    *v = json!(int(v));
                }
            }
            let (total, good) = (int(&r[first]), int(&r[first + 1]));
            r[first + 4] = json!(if total == 0 {
                0.0
            } else {
                (good as f64 / total as f64 * 10_000.0).round() / 10_000.0
            });
        }
        a
    }
}
