//! Usage & insights, authentication methods activity, "Password resets and unlocks": the
//! self-service password management events per day and activity, succeeded and failed — as the
//! Auth Methods Activity workbook counts them (`AuditLogs` logged by "Self-service Password
//! Management", by day and operation).

use super::build::{Builder, DAY_KQL, DAY_SQL, Plan, counts_from};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

/// The audit service that logs self-service password resets and unlocks.
pub const SSPR_SERVICE: &str = "Self-service Password Management";

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "password-activity",
        description: "Usage & insights, authentication methods: self-service password resets and unlocks per day and activity, succeeded and failed.",
        trigger: Trigger::Http {
            route: "insights/auth-methods/resets",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 30,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct PasswordActivity;

impl Question for PasswordActivity {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(PasswordActivity))
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
