//! A category's records, newest first, with every column of its Entra table, filtered by
//! column values.

use super::build::{Builder, Plan, kql_id, page};
use super::sign_in_breakdown::{
    Dimension, apply_dimensions, dimension_filters, with_dimension_filters,
};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::model::tables::{ColumnType, columns};
use crate::query::Answer;
use crate::query::kql::lit;
use crate::query::params::{Common, KqlTables, ParamError, required, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::{Value, json};

/// The listing's filters: parameter, and the columns it means (the first the table has).
pub const LIST_FILTERS: [(&str, &[&str]); 7] = [
    ("user", &["UserPrincipalName"]),
    ("app", &["AppDisplayName"]),
    ("ip", &["IPAddress", "IpAddress"]),
    ("result", &["ResultType"]),
    ("operation", &["OperationName"]),
    ("correlation_id", &["CorrelationId"]),
    ("id", &["Id"]),
];

/// Result words of the tables whose `ResultType` is not a sign-in error code.
pub const RESULT_WORDS: [&str; 5] = ["success", "failure", "skipped", "warning", "timeout"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "logs",
        description: "A category's records, newest first, with all the Entra table's columns, filtered by user, app, IP, result, operation, correlation id or record id, and user sign-ins by status, location, device, client app, Conditional Access status or risk.",
        trigger: Trigger::Http {
            route: "logs/{category}",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: with_dimension_filters![
        Param {
            name: "user",
            required: false,
            description: "User principal name (any case).",
            example: "adele.vance@contoso.com",
            values: &[],
        },
        Param {
            name: "app",
            required: false,
            description: "App display name.",
            example: "Microsoft Teams",
            values: &[],
        },
        Param {
            name: "ip",
            required: false,
            description: "IP address.",
            example: "203.0.113.7",
            values: &[],
        },
        Param {
            name: "result",
            required: false,
            description: "Result type (sign-in error code, or success/failure).",
            example: "50126",
            values: &[],
        },
        Param {
            name: "operation",
            required: false,
            description: "Operation name.",
            example: "Add member to group",
            values: &[],
        },
        Param {
            name: "correlation_id",
            required: false,
            description: "Correlation id.",
            example: "b7b5a0b4-0000-4000-8000-000000000000",
            values: &[],
        },
        Param {
            name: "id",
            required: false,
            description: "Record id.",
            example: "Directory_0A1B2C",
            values: &[],
        },
    ],
    default_days: 1,
};

pub struct Logs;

#[derive(Debug)]
struct Asking {
    category: Category,
    /// (column, value): equality, without case for names.
    filters: Vec<(&'static str, String)>,
    /// (dimension, value) of a user sign-in: its value equal, without case.
    dimensions: Vec<(&'static Dimension, String)>,
}

/// The user sign-in tables, which the sign-in dimensions filter.
const USER_SIGN_INS: [Category; 2] = [Category::SignInLogs, Category::NonInteractiveUserSignInLogs];

/// `result`: a sign-in result code (digits, 0 for success) or a result word.
fn check_result(v: &str) -> Result<(), ParamError> {
    let code = !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit());
    if code || RESULT_WORDS.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        return Ok(());
    }
    Err(ParamError {
        parameter: "result".into(),
        message: format!(
            "\"{v}\" is not a result; expected a sign-in result code (e.g. 0 or 50126) or one of {}",
            RESULT_WORDS.join(", ")
        ),
    })
}

impl Question for Logs {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let name = required(q, "category", "SignInLogs")?;
        let category = name.parse::<Category>().map_err(|e| ParamError {
            parameter: "category".into(),
            message: e,
        })?;
        let has = |c: &str| columns(category).iter().any(|(n, _)| *n == c);
        let mut filters = Vec::new();
        for (param, candidates) in LIST_FILTERS {
            let Some(v) = text(q, param)? else { continue };
            if param == "result" {
                check_result(&v)?;
            }
            let Some(col) = candidates.iter().copied().find(|c| has(c)) else {
                let usable: Vec<&str> = LIST_FILTERS
                    .iter()
                    .filter(|(_, cs)| cs.iter().any(|c| has(c)))
                    .map(|(p, _)| *p)
                    .collect();
                return Err(ParamError {
                    parameter: param.into(),
                    message: format!(
                        "is not a filter of {category}; expected one of {}",
                        usable.join(", ")
                    ),
                });
            };
            filters.push((col, v));
        }
        let dimensions = dimension_filters(q)?;
        if let Some((d, _)) = dimensions.first()
            && !USER_SIGN_INS.contains(&category)
        {
            return Err(ParamError {
                parameter: d.name.into(),
                message: format!(
                    "filters user sign-ins only (SignInLogs, NonInteractiveUserSignInLogs), not {category}"
                ),
            });
        }
        Ok(Box::new(Asking {
            category,
            filters,
            dimensions,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        self.category
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category, tenant, c);
        let id = kql_id(c);
        for (col, v) in &self.filters {
            b.through_nocase_index(col);
            let kql_col = if *col == "Id" { id } else { col };
            b.filter(
                &format!("\"{col}\" = ? COLLATE NOCASE"),
                &[v],
                format!("{kql_col} =~ {}", lit(v)),
            );
        }
        apply_dimensions(&mut b, &self.dimensions);
        let cols: Vec<&'static str> = columns(self.category).iter().map(|(n, _)| *n).collect();
        let key = self.category.definition().key_column;
        let mut sql = format!(
            "SELECT {} {} ORDER BY \"TimeGenerated\" DESC, \"{key}\"",
            cols.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            b.source_sql()
        );
        let mut kql = b.kql;
        if c.kql_tables == KqlTables::Custom {
            // The custom tables rename the reserved columns back for the answer.
            let id = if key == "Id" {
                format!("Id = {id}, ")
            } else {
                String::new()
            };
            kql.push(format!(
                "| extend {id}TenantId = column_ifexists(\"EntraTenantId\", \"\"), Type = {}",
                lit(self.category.table())
            ));
        }
        kql.push(format!("| project {}", cols.join(", ")));
        kql.push(format!("| order by TimeGenerated desc, {key} asc"));
        let mut params = b.params;
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: cols,
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }

    /// Dynamic columns come back as objects and booleans as booleans, as Log Analytics gives
    /// them.
    fn shape(&self, _c: &Common, mut a: Answer) -> Answer {
        let kinds = columns(self.category);
        for r in &mut a.rows {
            for (v, (_, kind)) in r.iter_mut().zip(kinds) {
                match (kind, &*v) {
                    (ColumnType::Dynamic, Value::String(t)) => {
                        if let Ok(parsed) = serde_json::from_str::<Value>(t) {
                            *v = parsed;
                        }
                    }
                    (ColumnType::Bool, Value::Number(n)) => {
                        *v = json!(n.as_i64() == Some(1));
                    }
                    _ => {}
                }
            }
        }
        a
    }
}
