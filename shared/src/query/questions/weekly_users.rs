//! 5. Users who signed in, per day and distinct over the range.

use super::build::{Builder, Plan, Summarised};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, int, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use crate::state::embedded::Period;
use serde_json::json;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "weekly-users",
        description: "How many users signed in: per day, and distinct over the range (a week by default).",
        trigger: Trigger::Http {
            route: "signins/users",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 7,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct WeeklyUsers;

impl Question for WeeklyUsers {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(WeeklyUsers))
    }
}

impl Asked for WeeklyUsers {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let b = Builder::new(self.category(), tenant, c);
        let sql = |use_summary| {
            let (parts, params) = Summarised {
                category: Category::SignInLogs,
                summary: &format!("{}_daily_users", Category::SignInLogs.table()),
                period: Period::Day,
                summary_cols: "\"Day\" AS day, \"User\" AS user, \"SignIns\" AS n",
                row_cols: "substr(\"TimeGenerated\", 1, 10) AS day, lower(\"UserPrincipalName\") AS user, COUNT(*) AS n",
                row_group: " GROUP BY 1, 2",
                filter: None,
            }
            .parts(tenant, c, use_summary);
            // The lines (a day's users) are read once: the days and the whole range count them.
            (
                format!(
                    "WITH u AS MATERIALIZED ({parts}) SELECT day, COUNT(DISTINCT user), SUM(n) FROM u GROUP BY 1 UNION ALL SELECT 'all', COUNT(DISTINCT user), COALESCE(SUM(n), 0) FROM u ORDER BY 1"
                ),
                params,
            )
        };
        let (summary_sql, params) = sql(true);
        let kql = format!(
            "let base = {};\nunion (base | summarize users = count_distinct(tolower(UserPrincipalName)), sign_ins = count() by day = format_datetime(startofday(TimeGenerated), \"yyyy-MM-dd\")), (base | summarize users = count_distinct(tolower(UserPrincipalName)), sign_ins = count() | extend day = \"all\")\n| project day, users, sign_ins\n| order by day asc",
            b.kql.join("\n")
        );
        Plan {
            columns: vec!["day", "users", "sign_ins"],
            sql: summary_sql,
            params,
            kql,
            paged: false,
            rows_only: Some(sql(false)),
        }
    }

    /// The line of the whole range becomes the summary.
    fn shape(&self, _c: &Common, mut a: Answer) -> Answer {
        if let Some(i) = a.rows.iter().position(|r| text(&r[0]) == "all") {
            let r = a.rows.remove(i);
            a.summary = Some(json!({ "distinct_users": int(&r[1]), "sign_ins": int(&r[2]) }));
        }
        a
    }
}
