//! What the questions are built from: the plan both backends run, a builder of the range,
//! tenant and filter conditions in SQL and KQL together, paging, and the reading of the hourly
//! and daily summaries for whole periods of a range.

use crate::clock::Timestamp;
use crate::model::Category;
use crate::model::tables::columns;
use crate::query::kql::{lit, time as kt};
use crate::query::params::{Common, KqlTables, ParamError, text};
use crate::state::embedded::{Period, tenant_column};
use chrono::{DateTime, Duration, DurationRound, Utc};
use rusqlite::types::Value as Sql;
use std::collections::BTreeMap;

/// A parameter that must be one of `allowed` (any case; answered in the listed spelling).
pub(super) fn one_of(
    q: &BTreeMap<String, String>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, ParamError> {
    let Some(v) = text(q, name)? else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&v))
        .map(|a| Some(a.to_string()))
        .ok_or_else(|| ParamError {
            parameter: name.into(),
            message: format!(
                "\"{v}\" is not allowed; expected one of {}",
                allowed.join(", ")
            ),
        })
}

/// A question planned for both backends.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub columns: Vec<&'static str>,
    pub sql: String,
    pub params: Vec<Sql>,
    pub kql: String,
    /// The plan pages itself (LIMIT/OFFSET in the text); otherwise the whole answer is one
    /// page (aggregates).
    pub paged: bool,
    /// For a plan that reads the hourly summaries: the same question over the rows alone, for
    /// while the summaries are being built (`SqliteState::summaries_ready`).
    pub rows_only: Option<(String, Vec<Sql>)>,
}

/// The KQL tenant column: Log Analytics names the Entra tenant `AADTenantId` where the table
/// has it.
pub(super) fn kql_tenant(category: Category) -> &'static str {
    if columns(category).iter().any(|(n, _)| *n == "AADTenantId") {
        "AADTenantId"
    } else {
        "TenantId"
    }
}

/// The record id column of the KQL tables: renamed in the custom tables (Log Analytics
/// reserves `id`).
pub(super) fn kql_id(c: &Common) -> &'static str {
    match c.kql_tables {
        KqlTables::Entra => "Id",
        KqlTables::Custom => "RecordId",
    }
}

/// The Log Analytics table of `category` the KQL reads.
pub(super) fn kql_table(category: Category, c: &Common) -> String {
    match c.kql_tables {
        KqlTables::Entra => category.table().to_string(),
        KqlTables::Custom => crate::destinations::log_analytics::schema::table_name(category),
    }
}

/// The `type` parameter of the usage reports over user sign-ins.
pub(super) const SIGN_IN_TYPE: super::Param = super::Param {
    name: "type",
    required: false,
    description: "Which user sign-ins: interactive (the default) or non-interactive.",
    example: "interactive",
    values: &SIGN_IN_TYPES,
};

/// The values of [`SIGN_IN_TYPE`].
pub(super) const SIGN_IN_TYPES: [&str; 2] = ["interactive", "non-interactive"];

/// Reads [`SIGN_IN_TYPE`]: the category of the sign-ins asked about.
pub(super) fn sign_in_type(q: &BTreeMap<String, String>) -> Result<Category, ParamError> {
    Ok(match one_of(q, "type", &SIGN_IN_TYPES)?.as_deref() {
        Some("non-interactive") => Category::NonInteractiveUserSignInLogs,
        _ => Category::SignInLogs,
    })
}

/// The SQL of a row's day (`YYYY-MM-DD`, UTC) and its KQL.
pub(super) const DAY_SQL: &str = "substr(\"TimeGenerated\", 1, 10)";
pub(super) const DAY_KQL: &str = "format_datetime(startofday(TimeGenerated), \"yyyy-MM-dd\")";

/// Counts as JSON numbers from either backend (SQLite answers integers, the Log Analytics API
/// may answer them as text): every cell of every row from column `first` on.
pub(super) fn counts_from(mut a: crate::query::Answer, first: usize) -> crate::query::Answer {
    for r in &mut a.rows {
        for v in r.iter_mut().skip(first) {
            *v = serde_json::json!(crate::query::int(v));
        }
    }
    a
}

/// `values` as a SQL list of literals (for fixed, known values such as result codes) and as a
/// KQL one.
pub(super) fn lists(values: &[&str]) -> (String, String) {
    let sql = values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let kql = values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ");
    (sql, kql)
}

pub(super) struct Builder {
    pub category: Category,
    /// An index to read through (SQLite would rather scan the covering time index for one
    /// user's rows than seek that user's).
    pub index: Option<String>,
    sql_where: Vec<String>,
    pub params: Vec<Sql>,
    pub kql: Vec<String>,
}

impl Builder {
    pub(super) fn new(category: Category, tenant: &str, c: &Common) -> Self {
        let t = |x: chrono::DateTime<chrono::Utc>| x.rfc3339_millis();
        Builder {
            category,
            index: None,
            sql_where: vec![
                format!("\"{}\" = ?", tenant_column(category)),
                "\"TimeGenerated\" >= ?".into(),
                "\"TimeGenerated\" <= ?".into(),
            ],
            params: vec![
                Sql::Text(tenant.into()),
                Sql::Text(t(c.from)),
                Sql::Text(t(c.to)),
            ],
            kql: vec![
                kql_table(category, c),
                format!(
                    "| where TimeGenerated between ({} .. {})",
                    kt(c.from),
                    kt(c.to)
                ),
                format!("| where {} == {}", kql_tenant(category), lit(tenant)),
            ],
        }
    }

    /// A condition: SQL with `?` for `values`, and its KQL.
    pub(super) fn filter(&mut self, sql: &str, values: &[&str], kql: String) {
        self.sql_where.push(sql.into());
        self.params
            .extend(values.iter().map(|v| Sql::Text((*v).to_string())));
        self.kql.push(format!("| where {kql}"));
    }

    pub(super) fn source_sql(&self) -> String {
        format!(
            "FROM \"{}\"{} WHERE {}",
            self.category.table(),
            self.index
                .as_ref()
                .map(|i| format!(" INDEXED BY \"{i}\""))
                .unwrap_or_default(),
            self.sql_where.join(" AND ")
        )
    }

    /// Reads through the index of a column filtered without case (see `embedded::schema`).
    pub(super) fn through_nocase_index(&mut self, col: &str) {
        if self.index.is_none() && ["UserPrincipalName", "IPAddress", "IpAddress"].contains(&col) {
            self.index = Some(format!("{}_by_{col}_nocase", self.category.table()));
        }
    }
}

/// SQL and KQL paging of an ordered listing.
pub(super) fn page(sql: &mut String, params: &mut Vec<Sql>, kql: &mut Vec<String>, c: &Common) {
    page_sql(sql, params, c);
    page_kql(kql, c);
}

pub(super) fn page_sql(sql: &mut String, params: &mut Vec<Sql>, c: &Common) {
    // One row more than the page tells whether another page follows.
    sql.push_str(" LIMIT ? OFFSET ?");
    params.push(Sql::Integer(c.limit as i64 + 1));
    params.push(Sql::Integer(c.offset as i64));
}

pub(super) fn page_kql(kql: &mut Vec<String>, c: &Common) {
    kql.push(format!(
        "| serialize Row = row_number() | where Row > {} | take {} | project-away Row",
        c.offset,
        c.limit + 1
    ));
}

/// An inclusive range of times.
pub(super) type Range = (DateTime<Utc>, DateTime<Utc>);

/// The parts of `[from, to]` (times to the millisecond): the whole periods inside it, as
/// `[first, end)` keys of a summary's lines (`YYYY-MM-DDTHH` or `YYYY-MM-DD`), and the rest at
/// either end, as inclusive ranges of the rows.
pub(super) fn split(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: Period,
) -> (Option<(String, String)>, Vec<Range>) {
    let (length, format) = match period {
        Period::Hour => (Duration::hours(1), "%Y-%m-%dT%H"),
        Period::Day => (Duration::days(1), "%Y-%m-%d"),
    };
    let floor = |t: DateTime<Utc>| t.duration_trunc(length).unwrap_or(t);
    let first = if floor(from) == from {
        from
    } else {
        floor(from) + length
    };
    let end = floor(to);
    if first >= end {
        return (None, vec![(from, to)]);
    }
    let key = |t: DateTime<Utc>| t.format(format).to_string();
    let mut edges = Vec::new();
    if from < first {
        edges.push((from, first - Duration::milliseconds(1)));
    }
    edges.push((end, to));
    (Some((key(first), key(end))), edges)
}

/// How a week-long question reads a summary (see `embedded::rollups`) for the whole periods
/// of its range and the rows for the rest.
pub(super) struct Summarised<'a> {
    pub(super) category: Category,
    pub(super) summary: &'a str,
    pub(super) period: Period,
    /// Columns over the summary's lines, and the same columns over the rows (a line's count
    /// where a row counts one).
    pub(super) summary_cols: &'a str,
    pub(super) row_cols: &'a str,
    /// After each read of the rows (a GROUP BY makes them lines).
    pub(super) row_group: &'a str,
    /// A condition on columns both have, with `?` for the values.
    pub(super) filter: Option<(&'a str, &'a [&'a str])>,
}

impl Summarised<'_> {
    /// A `UNION ALL` of the summary's lines and the rows at the ends, with its parameters;
    /// without `use_summary`, of the rows alone.
    pub(super) fn parts(&self, tenant: &str, c: &Common, use_summary: bool) -> (String, Vec<Sql>) {
        let t = |x: DateTime<Utc>| x.rfc3339_millis();
        let tenant_col = tenant_column(self.category);
        let (filter_sql, values) = match self.filter {
            Some((sql, values)) => (format!(" AND {sql}"), values),
            None => (String::new(), &[][..]),
        };
        let (periods, edges) = if use_summary {
            split(c.from, c.to, self.period)
        } else {
            (None, vec![(c.from, c.to)])
        };
        let mut parts = Vec::new();
        let mut params = Vec::new();
        let bind = |params: &mut Vec<Sql>, bounds: [String; 2]| {
            params.push(Sql::Text(tenant.into()));
            params.extend(bounds.map(Sql::Text));
            params.extend(values.iter().map(|v| Sql::Text((*v).into())));
        };
        if let Some((first, end)) = periods {
            parts.push(format!(
                "SELECT {} FROM \"{}\" WHERE \"{tenant_col}\" = ? AND \"{p}\" >= ? AND \"{p}\" < ?{filter_sql}",
                self.summary_cols,
                self.summary,
                p = self.period.column(),
            ));
            bind(&mut params, [first, end]);
        }
        for (from, to) in edges {
            parts.push(format!(
                "SELECT {} FROM \"{}\" WHERE \"{tenant_col}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" <= ?{filter_sql}{}",
                self.row_cols,
                self.category.table(),
                self.row_group,
            ));
            bind(&mut params, [t(from), t(to)]);
        }
        (parts.join(" UNION ALL "), params)
    }
}
