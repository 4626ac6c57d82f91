//! 2. Which users sign in to an app.

use super::build::{Builder, Plan, Summarised, page_kql, page_sql};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, required};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use crate::state::embedded::Period;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "app-users",
        description: "Which users sign in to an app: sign-ins and last sign-in per user.",
        trigger: Trigger::Http {
            route: "signins/app-users",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "app",
        required: true,
        description: "The app's display name or application id.",
        example: "Microsoft Teams",
        values: &[],
    }],
    default_days: 7,
};

pub struct AppUsers;

#[derive(Debug)]
struct Asking {
    app: String,
}

impl Question for AppUsers {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            app: required(q, "app", "Outlook")?,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let app = &self.app;
        let mut b = Builder::new(self.category(), tenant, c);
        // An app id is a GUID and a display name never is: one column is compared (an OR of
        // the two kept SQLite from using an index). The KQL keeps both.
        let column = if crate::model::is_guid(app) {
            "AppId"
        } else {
            "AppDisplayName"
        };
        b.filter(
            &format!("\"{column}\" = ?"),
            &[app],
            format!("AppDisplayName == {} or AppId == {}", lit(app), lit(app)),
        );
        let filter = format!("\"{column}\" = ?");
        let sql = |use_summary| {
            let (parts, mut params) = Summarised {
                category: Category::SignInLogs,
                summary: &format!("{}_daily_app_users", Category::SignInLogs.table()),
                period: Period::Day,
                summary_cols: "\"UserPrincipalName\" AS u, \"SignIns\" AS n, \"LastSignIn\" AS last",
                row_cols: "\"UserPrincipalName\" AS u, COUNT(*) AS n, MAX(\"TimeGenerated\") AS last",
                row_group: " GROUP BY 1",
                filter: Some((&filter, &[app.as_str()])),
            }
            .parts(tenant, c, use_summary);
            let mut sql = format!(
                "SELECT u, SUM(n), MAX(last) FROM ({parts}) GROUP BY u ORDER BY SUM(n) DESC, u"
            );
            page_sql(&mut sql, &mut params, c);
            (sql, params)
        };
        let mut kql = b.kql;
        kql.push("| summarize sign_ins = count(), last_sign_in = max(TimeGenerated) by user = UserPrincipalName".into());
        kql.push("| order by sign_ins desc, user asc".into());
        page_kql(&mut kql, c);
        let (summary_sql, params) = sql(true);
        Plan {
            columns: vec!["user", "sign_ins", "last_sign_in"],
            sql: summary_sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: Some(sql(false)),
        }
    }
}
