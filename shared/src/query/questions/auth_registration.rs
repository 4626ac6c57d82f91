//! Usage & insights, authentication methods activity, "Registration": from the
//! authentication-methods `userRegistrationDetails` in the directory inventory, how many users
//! are capable of, registered for or enabled for each feature (MFA capable and registered,
//! passwordless capable, SSPR registered / enabled / capable) — as Graph's
//! `usersRegisteredByFeature` counts them, which an app cannot call (delegated only) — or, with
//! `per=method`, how many users registered each method (`usersRegisteredByMethod`). Filters as
//! Graph's: `user_type` (all, member, guest) and `role` (all, admin, user; admin is the row's
//! `isAdmin`). Every row also splits its figure by user type and admin/non-admin.

use super::build::{Plan, counts_from, one_of};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use rusqlite::types::Value as Sql;

const PER: [&str; 2] = ["feature", "method"];
const USER_TYPES: [&str; 3] = ["all", "member", "guest"];
const ROLES: [&str; 3] = ["all", "admin", "user"];

/// The features, as Graph names them, and the `userRegistrationDetails` property of each.
pub const FEATURES: [(&str, &str); 6] = [
    ("mfaCapable", "isMfaCapable"),
    ("mfaRegistered", "isMfaRegistered"),
    ("passwordlessCapable", "isPasswordlessCapable"),
    ("ssprRegistered", "isSsprRegistered"),
    ("ssprEnabled", "isSsprEnabled"),
    ("ssprCapable", "isSsprCapable"),
];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "auth-registration",
        description: "Usage & insights, authentication methods registration: users capable of, registered for or enabled for each feature (MFA, passwordless, SSPR), or per registered method; split by user type and admin/non-admin.",
        trigger: Trigger::Http {
            route: "insights/auth-methods/registration",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "per",
            required: false,
            description: "feature (the default) or method.",
            example: "feature",
            values: &PER,
        },
        Param {
            name: "user_type",
            required: false,
            description: "all (the default), member or guest.",
            example: "member",
            values: &USER_TYPES,
        },
        Param {
            name: "role",
            required: false,
            description: "all (the default), admin (a directory role holder) or user.",
            example: "admin",
            values: &ROLES,
        },
    ],
    default_days: 1,
};

pub struct AuthRegistration;

#[derive(Debug)]
struct Asking {
    per_method: bool,
    user_type: Option<String>,
    admin: Option<bool>,
}

impl Question for AuthRegistration {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            per_method: one_of(q, "per", &PER)?.as_deref() == Some("method"),
            user_type: one_of(q, "user_type", &USER_TYPES)?.filter(|t| t != "all"),
            admin: match one_of(q, "role", &ROLES)?.as_deref() {
                Some("admin") => Some(true),
                Some("user") => Some(false),
                _ => None,
            },
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::AuditLogs
    }

    fn categories(&self) -> Vec<Category> {
        Vec::new()
    }

    fn embedded_only(&self) -> bool {
        true
    }

    fn plan(&self, tenant: &str, _c: &Common) -> Plan {
        let mut params = vec![Sql::Text(tenant.into())];
        let mut filter = String::new();
        if let Some(t) = &self.user_type {
            filter.push_str(" AND json_extract(body, '$.userType') = ?");
            params.push(Sql::Text(t.clone()));
        }
        if let Some(admin) = self.admin {
            filter.push_str(" AND json_extract(body, '$.isAdmin') = ?");
            params.push(Sql::Integer(i64::from(admin)));
        }
        let users = format!(
            "SELECT body, json_extract(body, '$.userType') = 'member' AS member, json_extract(body, '$.isAdmin') = 1 AS admin \
             FROM inventory WHERE tenant = ? AND kind = 'userRegistrationDetails' AND removed IS NULL{filter}"
        );
        let split = |yes: &str| {
            format!(
                "SUM({yes}) AS c1, SUM({yes} AND member) AS c2, SUM({yes} AND NOT member) AS c3, SUM({yes} AND admin) AS c4, SUM({yes} AND NOT admin) AS c5"
            )
        };
        let sql = if self.per_method {
            format!(
                "WITH u AS ({users}) SELECT m.value AS name, {} FROM u, json_each(u.body, '$.methodsRegistered') AS m GROUP BY 1 ORDER BY c1 DESC, name",
                split("1")
            )
        } else {
            // Every feature is a row, counted over the same users.
            let parts = FEATURES
                .iter()
                .enumerate()
                .map(|(i, (feature, property))| {
                    format!(
                        "SELECT {i} AS o, '{feature}' AS name, {} FROM u",
                        split(&format!(
                            "COALESCE(json_extract(body, '$.{property}'), 0) = 1"
                        ))
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            format!("WITH u AS ({users}) SELECT name, c1, c2, c3, c4, c5 FROM ({parts}) ORDER BY o")
        };
        Plan {
            columns: vec![
                if self.per_method { "method" } else { "feature" },
                "users",
                "members",
                "guests",
                "admins",
                "non_admins",
            ],
            sql,
            params,
            kql: "// Not answerable in Log Analytics: the registration details come from the directory inventory, kept in the embedded store only.".into(),
            paged: false,
            rows_only: None,
        }
    }

    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        counts_from(a, 1)
    }
}
