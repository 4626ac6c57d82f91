//! Usage & insights, authentication methods activity, "Sign-ins by method": every
//! authentication step of the interactive sign-ins, per method, succeeded and failed — as the
//! Auth Methods Activity workbook counts them: one step of `AuthenticationDetails` is one use;
//! "Previously satisfied" and empty methods are not a use, nor a requirement satisfied by a
//! claim in the token; password hash sync, pass-through and cloud-only passwords are all
//! "Password". Microsoft's `userSignInsByAuthMethodSummary` is delegated-only.

use super::build::{Builder, Plan, SIGN_IN_TYPE, counts_from, lists, sign_in_type};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "auth-method-usage",
        description: "Usage & insights, authentication methods: uses of each method in sign-ins (one authentication step is one use), succeeded and failed.",
        trigger: Trigger::Http {
            route: "insights/auth-methods/usage",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[SIGN_IN_TYPE],
    default_days: 30,
};

/// Methods the workbook counts as "Password".
pub const PASSWORD_METHODS: [&str; 4] = ["PHS", "PHS, StagedRollout", "CloudOnlyPassword", "PTA"];
/// Steps that are not a use of a method.
pub const NOT_A_USE: [&str; 2] = ["", "Previously satisfied"];
/// The step result of a requirement satisfied by a claim in the token.
pub const BY_TOKEN_CLAIM: &str = "MFA requirement satisfied by claim in the token";

pub struct AuthMethodUsage;

#[derive(Debug)]
struct Asking {
    category: Category,
}

impl Question for AuthMethodUsage {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            category: sign_in_type(q)?,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        self.category
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let b = Builder::new(self.category, tenant, c);
        let (password_sql, password_kql) = lists(&PASSWORD_METHODS);
        let (skip_sql, skip_kql) = lists(&NOT_A_USE);
        let step = |field: &str| format!("json_extract(j.value, '$.{field}')");
        let sql = format!(
            "SELECT CASE WHEN m IN ({password_sql}) THEN 'Password' ELSE m END AS method, COUNT(*) AS n, SUM(ok), COUNT(*) - SUM(ok) FROM \
             (SELECT {} AS m, COALESCE({} = 1, 0) AS ok, COALESCE({}, '') AS detail \
             FROM (SELECT \"AuthenticationDetails\" AS d {}) AS s, \
             json_each(CASE WHEN json_valid(s.d) THEN s.d ELSE '[]' END) AS j) \
             WHERE COALESCE(m, '') NOT IN ({skip_sql}) AND detail != '{BY_TOKEN_CLAIM}' \
             GROUP BY 1 ORDER BY n DESC, method",
            step("authenticationMethod"),
            step("succeeded"),
            step("authenticationStepResultDetail"),
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push("| mv-expand step = todynamic(AuthenticationDetails)".into());
        kql.push("| extend method = tostring(step.authenticationMethod), ok = tobool(step.succeeded), detail = tostring(step.authenticationStepResultDetail)".into());
        kql.push(format!(
            "| where method !in ({skip_kql}) and detail != \"{BY_TOKEN_CLAIM}\""
        ));
        kql.push(format!(
            "| extend method = iff(method in ({password_kql}), \"Password\", method)"
        ));
        kql.push("| summarize uses = count(), succeeded = countif(ok == true) by method".into());
        kql.push("| extend failed = uses - succeeded".into());
        kql.push("| order by uses desc, method asc".into());
        Plan {
            columns: vec!["method", "uses", "succeeded", "failed"],
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        counts_from(a, 1)
    }
}
