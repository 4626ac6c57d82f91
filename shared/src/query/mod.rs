//! The questions the endpoints answer, behind one interface and two backends: the embedded
//! store (SQL over the per-category tables) and Log Analytics (KQL). Each question is planned
//! for both from one definition ([`questions`]); [`finish`] shapes the same answer from either
//! backend's rows.

pub mod codes;
pub mod kql;
pub mod log_analytics;
pub mod params;
pub mod questions;

use chrono::{DateTime, Duration, Utc};
use params::Common;
use questions::{Asked, Plan};
use serde_json::{Value, json};

/// What a question returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Figures over the whole answer (status totals, distinct users over the range).
    pub summary: Option<Value>,
    pub next_offset: Option<usize>,
}

/// Shapes backend rows (in the plan's columns) into the question's answer: a page cut to its
/// limit (the plan reads one row more, telling whether another page follows), then the
/// question's own shaping.
pub fn finish(q: &dyn Asked, plan: &Plan, c: &Common, mut rows: Vec<Vec<Value>>) -> Answer {
    let mut next_offset = None;
    if plan.paged && rows.len() > c.limit {
        rows.truncate(c.limit);
        next_offset = Some(c.offset + c.limit);
    }
    let answer = Answer {
        columns: plan.columns.iter().map(|s| s.to_string()).collect(),
        rows,
        summary: None,
        next_offset,
    };
    q.shape(c, answer)
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn int(v: &Value) -> i64 {
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
