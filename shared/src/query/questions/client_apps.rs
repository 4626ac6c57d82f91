//! Sign-ins per client app (`ClientAppUsed`): how many, how many failed, by how many users, and
//! whether the client uses legacy authentication — as the "Sign-ins using legacy
//! authentication" workbook counts it, every client but the browser and modern apps:
//! <https://learn.microsoft.com/en-us/entra/identity/monitoring-health/workbook-legacy-authentication>

use super::build::{Builder, Plan, lists};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::{Value, json};

/// The clients that use modern authentication; every other one is legacy.
pub const MODERN_CLIENTS: [&str; 2] = ["Browser", "Mobile Apps and Desktop clients"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "client-apps",
        description: "Interactive sign-ins per client app: sign-ins, failures, distinct users, and whether the client uses legacy authentication.",
        trigger: Trigger::Http {
            route: "signins/client-apps",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 7,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct ClientApps;

impl Question for ClientApps {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(ClientApps))
    }
}

impl Asked for ClientApps {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let b = Builder::new(self.category(), tenant, c);
        let (modern_sql, modern_kql) = lists(&MODERN_CLIENTS);
        let sql = format!(
            "SELECT client, client NOT IN ({modern_sql}, ''), n, failures, users FROM (SELECT COALESCE(\"ClientAppUsed\", '') AS client, COUNT(*) AS n, SUM(\"ResultType\" != '0') AS failures, COUNT(DISTINCT lower(\"UserPrincipalName\")) AS users {} GROUP BY 1) ORDER BY n DESC, client",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push("| summarize sign_ins = count(), failures = countif(ResultType != \"0\"), users = count_distinct(tolower(UserPrincipalName)) by client_app = ClientAppUsed".into());
        kql.push(format!(
            "| extend legacy = client_app !in ({modern_kql}, \"\")"
        ));
        kql.push("| project client_app, legacy, sign_ins, failures, users".into());
        kql.push("| order by sign_ins desc, client_app asc".into());
        Plan {
            columns: vec!["client_app", "legacy", "sign_ins", "failures", "users"],
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// `legacy` is a boolean from either backend (SQLite answers 0 or 1).
    fn shape(&self, _c: &Common, mut a: Answer) -> Answer {
        for r in &mut a.rows {
            if let Value::Number(n) = &r[1] {
                r[1] = json!(n.as_i64() == Some(1));
            }
        }
        a
    }
}
