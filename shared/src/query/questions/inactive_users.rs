//! Usage & insights, inactive users and guests: the tenant's users (from the directory
//! inventory) whose last successful sign-in is older than `days` (90 by default, within the
//! 90–180 days Microsoft suggests) or who never signed in, leaving out accounts created more
//! recently than that. Each row gives the last attempted interactive sign-in, the last
//! non-interactive one, the last successful one, the days since it, and its source: Graph's
//! `signInActivity` where the tenant is licensed for it (Entra ID P1), else our logs over the
//! range asked (the row says `logs`, and what the range covers is all it can know).
//! <https://learn.microsoft.com/entra/identity/monitoring-health/howto-manage-inactive-user-accounts>

use super::build::{Builder, Plan, one_of, page_sql};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::clock::Timestamp;
use crate::model::Category;
use crate::query::params::{Common, ParamError, text as param};
use crate::query::{Answer, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value as Sql;
use serde_json::json;

/// The values of `user_type`.
const USER_TYPES: [&str; 3] = ["all", "member", "guest"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "inactive-users",
        description: "Usage & insights, inactive users and guests: users whose last successful sign-in is older than `days` (or who never signed in), from signInActivity where licensed, else from the logs.",
        trigger: Trigger::Http {
            route: "insights/inactive-users",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "days",
            required: false,
            description: "Inactive for at least this many days (1 to 3650; default 90).",
            example: "90",
            values: &[],
        },
        Param {
            name: "user_type",
            required: false,
            description: "all (the default), member or guest.",
            example: "guest",
            values: &USER_TYPES,
        },
    ],
    default_days: 90,
};

pub struct InactiveUsers;

#[derive(Debug)]
struct Asking {
    days: i64,
    user_type: Option<&'static str>,
}

impl Question for InactiveUsers {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let days = match param(q, "days")? {
            None => 90,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| ParamError {
                    parameter: "days".into(),
                    message: format!("\"{d}\" is not a number of days from 1 to 3650"),
                })?,
        };
        let user_type = match one_of(q, "user_type", &USER_TYPES)?.as_deref() {
            Some("member") => Some("Member"),
            Some("guest") => Some("Guest"),
            _ => None,
        };
        Ok(Box::new(Asking { days, user_type }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn categories(&self) -> Vec<Category> {
        vec![Category::SignInLogs, Category::NonInteractiveUserSignInLogs]
    }

    fn embedded_only(&self) -> bool {
        true
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let user = |f: &str| format!("json_extract(body, '$.{f}')");
        let mut params = vec![Sql::Text(tenant.into())];
        let mut type_filter = String::new();
        if let Some(t) = self.user_type {
            type_filter = " AND json_extract(body, '$.userType') = ?".into();
            params.push(Sql::Text(t.into()));
        }
        let users = format!(
            "SELECT {} AS id, {} AS upn, {} AS name, {} AS type, {} AS enabled, {} AS created, \
             json_type(body, '$.signInActivity') IS NOT NULL AS licensed, \
             {} AS a_last, {} AS a_bg, {} AS a_ok \
             FROM inventory WHERE tenant = ? AND kind = 'users' AND removed IS NULL{type_filter}",
            user("id"),
            user("userPrincipalName"),
            user("displayName"),
            user("userType"),
            user("accountEnabled"),
            user("createdDateTime"),
            user("signInActivity.lastSignInDateTime"),
            user("signInActivity.lastNonInteractiveSignInDateTime"),
            user("signInActivity.lastSuccessfulSignInDateTime"),
        );
        let mut logs = |category: Category| {
            let b = Builder::new(category, tenant, c);
            params.extend(b.params.clone());
            format!(
                "SELECT \"UserId\" AS id, MAX(\"TimeGenerated\") AS last, MAX(CASE WHEN \"ResultType\" = '0' THEN \"TimeGenerated\" END) AS ok {} GROUP BY 1",
                b.source_sql()
            )
        };
        let interactive = logs(Category::SignInLogs);
        let background = logs(Category::NonInteractiveUserSignInLogs);
        let threshold = (c.to - Duration::days(self.days)).rfc3339_millis();
        params.push(Sql::Text(threshold.clone()));
        params.push(Sql::Text(threshold));
        let mut sql = format!(
            "WITH u AS ({users}), i AS ({interactive}), n AS ({background}), \
             a AS (SELECT u.id, u.upn, u.name, u.type, u.enabled, u.created, \
             CASE WHEN u.licensed THEN 'signInActivity' ELSE 'logs' END AS source, \
             CASE WHEN u.licensed THEN u.a_last ELSE i.last END AS last_sign_in, \
             CASE WHEN u.licensed THEN u.a_bg ELSE n.last END AS last_non_interactive, \
             CASE WHEN u.licensed THEN u.a_ok ELSE MAX(COALESCE(i.ok, ''), COALESCE(n.ok, '')) END AS last_ok \
             FROM u LEFT JOIN i ON i.id = u.id LEFT JOIN n ON n.id = u.id) \
             SELECT id, upn, name, type, enabled, created, last_sign_in, last_non_interactive, NULLIF(last_ok, ''), source FROM a \
             WHERE (COALESCE(last_ok, '') = '' OR last_ok < ?) AND created < ? \
             ORDER BY COALESCE(last_ok, '') , upn"
        );
        page_sql(&mut sql, &mut params, c);
        Plan {
            columns: vec![
                "user_id",
                "user_principal_name",
                "display_name",
                "user_type",
                "account_enabled",
                "created",
                "last_sign_in",
                "last_non_interactive_sign_in",
                "last_successful_sign_in",
                "source",
            ],
            sql,
            params,
            kql: "// Not answerable in Log Analytics: the users come from the directory inventory, kept in the embedded store only.".into(),
            paged: true,
            rows_only: None,
        }
    }

    /// Days since the last successful sign-in (none: never signed in, as far as the source
    /// shows); `account_enabled` as a boolean.
    fn shape(&self, c: &Common, mut a: Answer) -> Answer {
        a.columns.push("days_inactive".into());
        for r in &mut a.rows {
            if let Some(n) = r[4].as_i64() {
                r[4] = json!(n == 1);
            }
            let days = DateTime::parse_from_rfc3339(&text(&r[8]))
                .ok()
                .map(|t| (c.to - t.with_timezone(&Utc)).num_days());
            r.push(json!(days));
        }
        a
    }
}
