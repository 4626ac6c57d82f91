//! The questions the endpoints answer (PRODUCT.md §3), behind one interface and two backends:
//! the embedded store (SQL over the per-category tables) and Log Analytics (KQL). Each question
//! is planned for both from one definition ([`questions`]); [`finish`] shapes the same answer
//! from either backend's rows.

pub mod codes;
pub mod kql;
pub mod log_analytics;
pub mod params;
pub mod questions;

use chrono::{DateTime, Duration, Utc};
use params::Common;
use questions::{Plan, Question};
use serde_json::{Map, Value, json};

/// What a question returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Figures over the whole answer (status totals, distinct users over the range).
    pub summary: Option<Value>,
    pub next_offset: Option<usize>,
}

/// Shapes backend rows (in the plan's columns) into the question's answer.
pub fn finish(q: &Question, plan: &Plan, c: &Common, mut rows: Vec<Vec<Value>>) -> Answer {
    let mut columns: Vec<String> = plan.columns.iter().map(|s| s.to_string()).collect();
    let mut summary = None;
    let mut next_offset = None;
    if plan.paged && rows.len() > c.limit {
        rows.truncate(c.limit);
        next_offset = Some(c.offset + c.limit);
    }
    match q {
        Question::PasswordResets => {
            // Every day of the range, zero when nothing happened.
            let mut by_day: std::collections::BTreeMap<String, (i64, i64)> = rows
                .iter()
                .map(|r| (text(&r[0]), (int(&r[1]), int(&r[2]))))
                .collect();
            let mut day = c.from.date_naive();
            while day <= c.to.date_naive() {
                by_day.entry(day.to_string()).or_default();
                day += Duration::days(1);
            }
            let (s, a): (i64, i64) = by_day
                .values()
                .fold((0, 0), |(s, a), (x, y)| (s + x, a + y));
            summary = Some(json!({ "self_service": s, "by_admin": a }));
            rows = by_day
                .into_iter()
                .map(|(d, (s, a))| vec![json!(d), json!(s), json!(a)])
                .collect();
        }
        Question::WeeklyUsers => {
            let all = rows.iter().position(|r| text(&r[0]) == "all");
            if let Some(i) = all {
                let r = rows.remove(i);
                summary = Some(json!({ "distinct_users": int(&r[1]), "sign_ins": int(&r[2]) }));
            }
        }
        Question::SignInStatus => {
            let mut totals = Map::new();
            let mut out = Vec::new();
            for r in &rows {
                let code = text(&r[0]);
                let (status, meaning) = codes::classify(&code);
                let n = int(&r[2]);
                let t = totals.entry(status.as_str()).or_insert(json!(0));
                *t = json!(t.as_i64().unwrap_or(0) + n);
                let meaning = meaning.map(String::from).unwrap_or_else(|| text(&r[1]));
                out.push(vec![
                    json!(status.as_str()),
                    json!(code),
                    json!(meaning),
                    json!(n),
                ]);
            }
            for s in ["success", "failure", "interrupted"] {
                totals.entry(s).or_insert(json!(0));
            }
            summary = Some(Value::Object(totals));
            columns = vec![
                "status".into(),
                "code".into(),
                "meaning".into(),
                "sign_ins".into(),
            ];
            rows = out;
        }
        Question::List { category, .. } => {
            // Dynamic columns come back as objects, as Log Analytics gives them.
            let kinds = crate::model::tables::columns(*category);
            for r in &mut rows {
                for (v, (_, kind)) in r.iter_mut().zip(kinds) {
                    match (kind, &*v) {
                        (crate::model::tables::ColumnType::Dynamic, Value::String(t)) => {
                            if let Ok(parsed) = serde_json::from_str::<Value>(t) {
                                *v = parsed;
                            }
                        }
                        (crate::model::tables::ColumnType::Bool, Value::Number(n)) => {
                            *v = json!(n.as_i64() == Some(1));
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
    Answer {
        columns,
        rows,
        summary,
        next_offset,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// The JSON body of an answer.
pub fn to_json(
    name: &str,
    tenant: &str,
    c: &Common,
    a: &Answer,
    next_cursor: Option<String>,
    kql: Option<&str>,
) -> Value {
    let rows: Vec<Value> = a
        .rows
        .iter()
        .map(|r| Value::Object(a.columns.iter().cloned().zip(r.iter().cloned()).collect()))
        .collect();
    let mut body = json!({
        "question": name,
        "tenant": tenant,
        "from": c.from,
        "to": c.to,
        "columns": a.columns,
        "rows": rows,
        "next_cursor": next_cursor,
    });
    if let Some(s) = &a.summary {
        body["summary"] = s.clone();
    }
    if let Some(k) = kql {
        body["kql"] = json!(k);
    }
    body
}

/// RFC 4180 CSV: a header, then one line per row; fields with commas, quotes or line breaks
/// quoted, quotes doubled. A text cell a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return — user names and app names are chosen by
/// whoever signs in) is prefixed with `'`, as OWASP advises:
/// <https://owasp.org/www-community/attacks/CSV_Injection>.
pub fn to_csv(a: &Answer) -> String {
    fn field(v: &Value) -> String {
        let s = match v {
            Value::Null => String::new(),
            Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
                format!("'{s}")
            }
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let mut out = a
        .columns
        .iter()
        .map(|c| field(&json!(c)))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for r in &a.rows {
        out.push_str(&r.iter().map(field).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The most values (rows × columns) one answer may hold: a listing's page is at most
/// 1,000 rows of about 70 columns; an aggregate is bounded by the tenant's users or apps.
pub const MAX_ANSWER_CELLS: usize = 500_000;

/// Runs a plan on the embedded store; an answer larger than [`MAX_ANSWER_CELLS`] is refused
/// before it is built ([`crate::state::StateError::AnswerTooLarge`]).
pub fn run_embedded(
    store: &crate::state::SqliteState,
    plan: &Plan,
) -> Result<Vec<Vec<Value>>, crate::state::StateError> {
    let cap = MAX_ANSWER_CELLS;
    // A bulk load fills the hourly summaries when it ends; until then the rows are read.
    if let Some((sql, params)) = &plan.rows_only
        && !store.summaries_ready()?
    {
        return store.query_rows_bounded(sql, params, cap);
    }
    match store.query_rows_bounded(&plan.sql, &plan.params, cap) {
        // An import into an empty table builds the table's indexes when it ends
        // (`SqliteState::begin_bulk_load`); until then the plan reads without the one it names.
        Err(e) if e.to_string().contains("no such index") => {
            store.query_rows_bounded(&without_index(&plan.sql), &plan.params, cap)
        }
        answer => answer,
    }
}

/// `sql` without its `INDEXED BY "..."` clauses.
fn without_index(sql: &str) -> String {
    const CLAUSE: &str = " INDEXED BY \"";
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(CLAUSE) {
        out.push_str(&rest[..at]);
        let after = &rest[at + CLAUSE.len()..];
        rest = after.find('"').map(|i| &after[i + 1..]).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A range's days, for tests and reports.
pub fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = from.date_naive();
    while d <= to.date_naive() {
        out.push(d.to_string());
        d += Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
        let a = Answer {
            columns: vec!["user".into(), "n".into()],
            rows: vec![
                vec![json!("=HYPERLINK(\"http://evil.example\")"), json!(-1)],
                vec![json!("+1"), json!(2)],
                vec![json!("@SUM(A1)"), json!(3)],
                vec![json!("-2+3"), json!(4)],
                vec![json!("\tx"), json!(5)],
                vec![json!("adele@contoso.com"), json!(6)],
            ],
            summary: None,
            next_offset: None,
        };
        let csv = to_csv(&a);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://evil.example\"\")\",-1");
        assert_eq!(lines[2], "'+1,2");
        assert_eq!(lines[3], "'@SUM(A1),3");
        assert_eq!(lines[4], "'-2+3,4");
        assert_eq!(lines[5], "'\tx,5");
        assert_eq!(lines[6], "adele@contoso.com,6");
    }
}
