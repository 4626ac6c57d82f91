//! 6. Sign-in status: success, failure, interrupted, with each result code and its meaning.

use super::build::{Builder, Plan, Summarised};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, codes, int, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use crate::state::embedded::Period;
use serde_json::{Map, Value, json};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "sign-in-status",
        description: "Sign-ins by status (success, failure, interrupted) with each result code and its meaning.",
        trigger: Trigger::Http {
            route: "signins/status",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 7,
};

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct SignInStatus;

impl Question for SignInStatus {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(SignInStatus))
    }
}

impl Asked for SignInStatus {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let b = Builder::new(self.category(), tenant, c);
        let sql = |use_summary| {
            let (parts, params) = Summarised {
                category: Category::SignInLogs,
                summary: &format!("{}_hourly_results", Category::SignInLogs.table()),
                period: Period::Hour,
                summary_cols: "\"ResultType\" AS code, \"ResultDescription\" AS description, \"SignIns\" AS n",
                row_cols: "\"ResultType\" AS code, MAX(\"ResultDescription\") AS description, COUNT(*) AS n",
                row_group: " GROUP BY 1",
                filter: None,
            }
            .parts(tenant, c, use_summary);
            (
                format!(
                    "SELECT code, MAX(description), SUM(n) FROM ({parts}) GROUP BY 1 ORDER BY 3 DESC, 1"
                ),
                params,
            )
        };
        let (summary_sql, params) = sql(true);
        let mut kql = b.kql;
        kql.push("| summarize description = take_any(ResultDescription), sign_ins = count() by code = ResultType".into());
        kql.push("| order by sign_ins desc, code asc".into());
        Plan {
            columns: vec!["code", "description", "sign_ins"],
            sql: summary_sql,
            params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: Some(sql(false)),
        }
    }

    /// Each code with its status and meaning; totals per status (every status, zero when none).
    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        let mut totals = Map::new();
        let mut rows = Vec::new();
        for r in &a.rows {
            let code = text(&r[0]);
            let (status, meaning) = codes::classify(&code);
            let n = int(&r[2]);
            let t = totals.entry(status.as_str()).or_insert(json!(0));
            *t = json!(t.as_i64().unwrap_or(0) + n);
            let meaning = meaning.map(String::from).unwrap_or_else(|| text(&r[1]));
            rows.push(vec![
                json!(status.as_str()),
                json!(code),
                json!(meaning),
                json!(n),
            ]);
        }
        for s in ["success", "failure", "interrupted"] {
            totals.entry(s).or_insert(json!(0));
        }
        Answer {
            columns: ["status", "code", "meaning", "sign_ins"]
                .map(String::from)
                .to_vec(),
            rows,
            summary: Some(Value::Object(totals)),
            next_offset: a.next_offset,
        }
    }
}
