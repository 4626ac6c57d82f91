//! Usage & insights, drill-down of an app's sign-in activity: the sign-ins that did not
//! succeed, per app and result code, with the code's meaning and how Entra's workbooks count it
//! (failure, or "pending user action" — see [`codes::WORKBOOK_INTERRUPTS`]).

use super::build::{Builder, Plan, SIGN_IN_TYPE, sign_in_type};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::{Category, is_guid};
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, text as param};
use crate::query::{Answer, codes, int, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::json;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "app-sign-in-failures",
        description: "Usage & insights, app sign-in activity drill-down: sign-ins that failed or were interrupted, per app and error code, with the code's meaning.",
        trigger: Trigger::Http {
            route: "insights/app-sign-ins/failures",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        SIGN_IN_TYPE,
        Param {
            name: "app",
            required: false,
            description: "Only this app: its application id or display name (any case).",
            example: "Microsoft Teams",
            values: &[],
        },
    ],
    default_days: 30,
};

pub struct AppSignInFailures;

#[derive(Debug)]
struct Asking {
    category: Category,
    app: Option<String>,
}

impl Question for AppSignInFailures {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            category: sign_in_type(q)?,
            app: param(q, "app")?,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        self.category
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category, tenant, c);
        b.filter(
            "COALESCE(\"ResultType\", '') != '0'",
            &[],
            "ResultType != \"0\"".into(),
        );
        if let Some(app) = &self.app {
            if is_guid(app) {
                b.filter("\"AppId\" = ?", &[app], format!("AppId == {}", lit(app)));
            } else {
                b.filter(
                    "\"AppDisplayName\" = ? COLLATE NOCASE",
                    &[app],
                    format!("AppDisplayName =~ {}", lit(app)),
                );
            }
        }
        let sql = format!(
            "SELECT COALESCE(\"AppId\", '') AS app_id, MAX(\"AppDisplayName\"), COALESCE(\"ResultType\", '') AS code, MAX(\"ResultDescription\"), COUNT(*) AS n {} GROUP BY 1, 3 ORDER BY n DESC, app_id, code",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push("| summarize app = take_any(AppDisplayName), description = take_any(ResultDescription), sign_ins = count() by app_id = AppId, code = ResultType".into());
        kql.push("| project app_id, app, code, description, sign_ins".into());
        kql.push("| order by sign_ins desc, app_id asc, code asc".into());
        Plan {
            columns: vec!["app_id", "app", "code", "description", "sign_ins"],
            sql,
            params: b.params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// Each code with how the workbooks count it and its meaning (ours where we know the code,
    /// else Entra's failure reason).
    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        let rows = a
            .rows
            .iter()
            .map(|r| {
                let code = text(&r[2]);
                let meaning = codes::classify(&code)
                    .1
                    .map(String::from)
                    .unwrap_or_else(|| text(&r[3]));
                vec![
                    r[0].clone(),
                    r[1].clone(),
                    json!(codes::workbook_status(&code).as_str()),
                    json!(code),
                    json!(meaning),
                    json!(int(&r[4])),
                ]
            })
            .collect();
        Answer {
            columns: ["app_id", "app", "status", "code", "meaning", "sign_ins"]
                .map(String::from)
                .to_vec(),
            rows,
            summary: None,
            next_offset: a.next_offset,
        }
    }
}
