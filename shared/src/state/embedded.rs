//! The embedded store's tables: one per category, named and shaped like the Entra table
//! (`SigninLogs`, `AuditLogs`, `AADRiskyUsers`, ...) from [`crate::model::tables`], keyed by
//! tenant and record id, with the indexes the query endpoints use.
//!
//! Types map as SQLite holds them: `string` and `datetime` as TEXT (UTC RFC 3339, which sorts
//! in time order), `bool` and `long` as INTEGER, `dynamic` as JSON TEXT (readable with
//! SQLite's `json_extract`).

use crate::model::Category;
use crate::model::tables::{ColumnType, columns};
use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use serde_json::{Map, Value};

/// The column holding the tenant in a category's table.
pub fn tenant_column(category: Category) -> &'static str {
    if columns(category).iter().any(|(n, _)| *n == "TenantId") {
        "TenantId"
    } else {
        "AADTenantId"
    }
}

pub(super) fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool | ColumnType::Long | ColumnType::Int => "INTEGER",
        _ => "TEXT",
    }
}

/// `CREATE TABLE` and `CREATE INDEX` statements for every category.
pub fn schema() -> String {
    let mut sql = String::new();
    for category in Category::ALL {
        let table = category.table();
        let cols: Vec<String> = columns(category)
            .iter()
            .map(|(n, t)| format!("\"{n}\" {}", sql_type(*t)))
            .collect();
        let tenant = tenant_column(category);
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS \"{table}\" ({}, PRIMARY KEY (\"{tenant}\", \"{}\"));\n",
            cols.join(", "),
            category.definition().key_column
        ));
        for (_, create) in indexes(category) {
            sql.push_str(&create);
            sql.push_str(";\n");
        }
    }
    sql
}

/// The secondary indexes of a category's table, as (name, `CREATE INDEX IF NOT EXISTS`).
pub fn indexes(category: Category) -> Vec<(String, String)> {
    let table = category.table();
    let tenant = tenant_column(category);
    let mut out = Vec::new();
    // Interactive sign-ins, the largest table, carry in the time index what the week-long
    // questions count (users, apps, results), so those read the index alone.
    let (covered, name) = if category == Category::SignInLogs {
        (
            ", \"UserPrincipalName\", \"AppDisplayName\", \"AppId\", \"ResultType\", \"ResultDescription\"",
            format!("{table}_by_time_covering"),
        )
    } else {
        ("", format!("{table}_by_time"))
    };
    out.push((
        name.clone(),
        format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON \"{table}\" (\"{tenant}\", \"TimeGenerated\"{covered})"),
    ));
    let has = |c: &str| columns(category).iter().any(|(n, _)| *n == c);
    // What the questions filter on: users and addresses without case (`= ? COLLATE NOCASE`
    // uses these), operations as they are.
    for (col, collate) in [
        ("UserPrincipalName", " COLLATE NOCASE"),
        ("IPAddress", " COLLATE NOCASE"),
        ("IpAddress", " COLLATE NOCASE"),
        ("OperationName", ""),
    ] {
        if has(col) {
            // Each leads with the column, then the tenant, so the planner prefers it to the
            // time index for one user's, address's or operation's records.
            let suffix = if collate.is_empty() {
                "_tenant"
            } else {
                "_nocase"
            };
            let name = format!("{table}_by_{col}{suffix}");
            out.push((
                name.clone(),
                format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON \"{table}\" (\"{col}\"{collate}, \"{tenant}\", \"TimeGenerated\")"),
            ));
        }
    }
    out
}

/// The period a summary's lines cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
}

impl Period {
    /// The line's column: the period's start as the first characters of `TimeGenerated`
    /// (`YYYY-MM-DDTHH` or `YYYY-MM-DD`).
    pub fn column(self) -> &'static str {
        match self {
            Period::Hour => "Hour",
            Period::Day => "Day",
        }
    }

    pub fn chars(self) -> usize {
        match self {
            Period::Hour => 13,
            Period::Day => 10,
        }
    }

    /// The period of a row's time (`row` is `NEW.`, `OLD.` or empty).
    fn of(self, row: &str) -> String {
        format!("substr({row}\"TimeGenerated\", 1, {})", self.chars())
    }
}

/// A summary of a category's rows per hour or day, kept by triggers as rows are written,
/// replaced or deleted: the week-long questions read a week of these instead of every row
/// (see `query::questions`). Rows whose keys are equal (NULL matching NULL) share a line.
pub struct Rollup {
    pub category: Category,
    pub table: String,
    pub period: Period,
    /// (column of the line, expression over a row, `{r}` standing before each column name).
    pub keys: &'static [(&'static str, &'static str)],
    /// How many rows the line holds.
    pub count: &'static str,
    /// (column of the line, column of the rows): the greatest value among the line's rows.
    /// `exact` keeps it exact when a row is deleted (the period's rows of the line are read
    /// again when the deleted row held it); otherwise it stays as the greatest seen while the
    /// line lasts.
    pub maxes: &'static [(&'static str, &'static str, bool)],
    /// Key columns the questions also look lines up by, each with its own index.
    pub lookups: &'static [&'static str],
}

/// Earlier summaries, dropped on open.
pub const DROPPED_ROLLUPS: [&str; 1] = ["SigninLogs_hourly_users"];

/// The summaries: interactive sign-ins per day by user (distinct users), per day by user and
/// app (an app's users), per hour by result (status); audit events per hour by activity
/// (password resets). Users are kept per day: a tenant's users mostly sign in once or twice
/// an hour, so per hour there would be about as many lines as sign-ins.
pub fn rollups() -> Vec<Rollup> {
    let signins = Category::SignInLogs.table();
    vec![
        Rollup {
            category: Category::SignInLogs,
            table: format!("{signins}_daily_users"),
            period: Period::Day,
            keys: &[("User", "lower({r}\"UserPrincipalName\")")],
            count: "SignIns",
            maxes: &[],
            lookups: &[],
        },
        Rollup {
            category: Category::SignInLogs,
            table: format!("{signins}_daily_app_users"),
            period: Period::Day,
            keys: &[
                ("UserPrincipalName", "{r}\"UserPrincipalName\""),
                ("AppId", "{r}\"AppId\""),
                ("AppDisplayName", "{r}\"AppDisplayName\""),
            ],
            count: "SignIns",
            maxes: &[("LastSignIn", "TimeGenerated", true)],
            lookups: &["AppId", "AppDisplayName"],
        },
        Rollup {
            category: Category::SignInLogs,
            table: format!("{signins}_hourly_results"),
            period: Period::Hour,
            keys: &[("ResultType", "{r}\"ResultType\"")],
            count: "SignIns",
            maxes: &[("ResultDescription", "ResultDescription", false)],
            lookups: &[],
        },
        Rollup {
            category: Category::AuditLogs,
            table: format!("{}_hourly_operations", Category::AuditLogs.table()),
            period: Period::Hour,
            keys: &[("OperationName", "{r}\"OperationName\"")],
            count: "Events",
            maxes: &[],
            lookups: &[],
        },
    ]
}

/// A key's expression over a row (`NEW.`, `OLD.` or empty).
fn key(expr: &str, row: &str) -> String {
    expr.replace("{r}", row)
}

impl Rollup {
    fn tenant(&self) -> &'static str {
        tenant_column(self.category)
    }

    /// `CREATE TABLE` and its indexes: (tenant, period, keys), read by period and updated by
    /// key; (lookup, tenant, period) for each lookup column.
    pub fn create(&self) -> String {
        let (t, tenant, period) = (&self.table, self.tenant(), self.period.column());
        let keys = each(self.keys, |(k, _)| format!(", \"{k}\" TEXT"));
        let maxes = each(self.maxes, |(m, _, _)| format!(", \"{m}\" TEXT"));
        let key_cols = each(self.keys, |(k, _)| format!(", \"{k}\""));
        let lookups = each(self.lookups, |l| {
            format!(
                "CREATE INDEX IF NOT EXISTS \"{t}_by_{l}\" ON \"{t}\" (\"{l}\", \"{tenant}\", \"{period}\");\n"
            )
        });
        format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (\"{tenant}\" TEXT, \"{period}\" TEXT{keys}, \"{count}\" INTEGER NOT NULL{maxes});\n\
             CREATE INDEX IF NOT EXISTS \"{t}_by_{period}\" ON \"{t}\" (\"{tenant}\", \"{period}\"{key_cols});\n{lookups}",
            count = self.count,
        )
    }

    /// The names of the two triggers.
    pub fn triggers(&self) -> [String; 2] {
        trigger_names(&self.table)
    }

    /// The line of a row (`NEW.` or `OLD.`), as a WHERE clause over the summary.
    fn line_of(&self, row: &str) -> String {
        let mut w = vec![
            format!("\"{0}\" = {row}\"{0}\"", self.tenant()),
            format!("\"{}\" = {}", self.period.column(), self.period.of(row)),
        ];
        w.extend(
            self.keys
                .iter()
                .map(|(k, expr)| format!("\"{k}\" IS {}", key(expr, row))),
        );
        w.join(" AND ")
    }

    /// The greatest `column` among the deleted row's line's remaining rows.
    fn remaining_max(&self, column: &str) -> String {
        let (table, tenant) = (self.category.table(), self.tenant());
        let period = self.period.of("OLD.");
        let same = each(self.keys, |(_, expr)| {
            format!(" AND {} IS {}", key(expr, ""), key(expr, "OLD."))
        });
        let rows = format!(
            "SELECT MAX(\"{column}\") FROM \"{table}\" WHERE \"{tenant}\" = OLD.\"{tenant}\" AND \"TimeGenerated\" >= {period} AND \"TimeGenerated\" < {period} || '~'{same}"
        );
        if self.keys.iter().any(|(k, _)| *k == "UserPrincipalName") {
            // A user's rows are found through the user's (NOCASE) index, not the day's.
            format!(
                "CASE WHEN OLD.\"UserPrincipalName\" IS NULL THEN ({rows}) ELSE ({rows} AND \"UserPrincipalName\" = OLD.\"UserPrincipalName\" COLLATE NOCASE) END"
            )
        } else {
            format!("({rows})")
        }
    }

    /// `CREATE TRIGGER` for inserted rows (a replaced row is deleted first: recursive triggers
    /// are on, see `SqliteState::open`) and deleted ones.
    pub fn create_triggers(&self) -> String {
        let [on_insert, on_delete] = self.triggers();
        let (t, table, count, tenant) = (
            &self.table,
            self.category.table(),
            self.count,
            self.tenant(),
        );
        let period = self.period.column();
        let raise = each(self.maxes, |(m, c, _)| {
            format!(
                ", \"{m}\" = CASE WHEN \"{m}\" IS NULL OR NEW.\"{c}\" > \"{m}\" THEN NEW.\"{c}\" ELSE \"{m}\" END"
            )
        });
        let cols = each(self.keys, |(k, _)| format!(", \"{k}\""));
        let max_cols = each(self.maxes, |(m, _, _)| format!(", \"{m}\""));
        let new_keys = each(self.keys, |(_, expr)| format!(", {}", key(expr, "NEW.")));
        let new_maxes = each(self.maxes, |(_, c, _)| format!(", NEW.\"{c}\""));
        let lower = each(self.maxes, |(m, c, exact)| {
            if *exact {
                format!(
                    ", \"{m}\" = CASE WHEN \"{m}\" IS OLD.\"{c}\" THEN {} ELSE \"{m}\" END",
                    self.remaining_max(c)
                )
            } else {
                String::new()
            }
        });
        let (new_line, old_line) = (self.line_of("NEW."), self.line_of("OLD."));
        let new_period = self.period.of("NEW.");
        format!(
            "CREATE TRIGGER IF NOT EXISTS \"{on_insert}\" AFTER INSERT ON \"{table}\" BEGIN\n\
             UPDATE \"{t}\" SET \"{count}\" = \"{count}\" + 1{raise} WHERE {new_line};\n\
             INSERT INTO \"{t}\" (\"{tenant}\", \"{period}\"{cols}, \"{count}\"{max_cols}) SELECT NEW.\"{tenant}\", {new_period}{new_keys}, 1{new_maxes} WHERE changes() = 0;\n\
             END;\n\
             CREATE TRIGGER IF NOT EXISTS \"{on_delete}\" AFTER DELETE ON \"{table}\" BEGIN\n\
             UPDATE \"{t}\" SET \"{count}\" = \"{count}\" - 1{lower} WHERE {old_line};\n\
             DELETE FROM \"{t}\" WHERE {old_line} AND \"{count}\" <= 0;\n\
             END;\n"
        )
    }

    /// Fills the summary from the table's rows (after a bulk load, or for a store written
    /// before the summary existed).
    pub fn rebuild(&self) -> String {
        let (t, table, count, tenant) = (
            &self.table,
            self.category.table(),
            self.count,
            self.tenant(),
        );
        let period = self.period.column();
        let cols = each(self.keys, |(k, _)| format!(", \"{k}\""));
        let exprs = each(self.keys, |(_, expr)| format!(", {}", key(expr, "")));
        let max_cols = each(self.maxes, |(m, _, _)| format!(", \"{m}\""));
        let max_of = each(self.maxes, |(_, c, _)| format!(", MAX(\"{c}\")"));
        let groups: String = (3..3 + self.keys.len()).map(|i| format!(", {i}")).collect();
        format!(
            "DELETE FROM \"{t}\";\n\
             INSERT INTO \"{t}\" (\"{tenant}\", \"{period}\"{cols}, \"{count}\"{max_cols}) SELECT \"{tenant}\", {}{exprs}, COUNT(*){max_of} FROM \"{table}\" GROUP BY 1, 2{groups};\n",
            self.period.of(""),
        )
    }
}

/// A summary's triggers.
pub fn trigger_names(table: &str) -> [String; 2] {
    [format!("{table}_on_insert"), format!("{table}_on_delete")]
}

/// Each item's text, joined.
fn each<T>(items: &[T], text: impl Fn(&T) -> String) -> String {
    items.iter().map(text).collect()
}

/// The upsert for a category's table: a record read again replaces its row.
pub fn upsert_sql(category: Category) -> String {
    let names: Vec<String> = columns(category)
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect();
    let params: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT OR REPLACE INTO \"{}\" ({}) VALUES ({})",
        category.table(),
        names.join(", "),
        params.join(", ")
    )
}

/// A row's values in column order, borrowing the row's text (a large backfill writes millions
/// of rows; copying every string first cost as much as a tenth of the store's write).
pub fn values(category: Category, row: &Map<String, Value>) -> Vec<ToSqlOutput<'_>> {
    columns(category)
        .iter()
        .map(|(name, ty)| match (ty, row.get(*name)) {
            (_, None | Some(Value::Null)) => ToSqlOutput::Owned(Sql::Null),
            (ColumnType::Bool, Some(Value::Bool(b))) => ToSqlOutput::Owned(Sql::Integer(*b as i64)),
            (ColumnType::Long | ColumnType::Int, Some(Value::Number(n))) => {
                ToSqlOutput::Owned(n.as_i64().map(Sql::Integer).unwrap_or(Sql::Null))
            }
            (_, Some(Value::String(s))) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            (_, Some(v)) => ToSqlOutput::Owned(Sql::Text(v.to_string())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_created_with_its_columns_and_key() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&schema()).unwrap();
        for c in Category::ALL {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM pragma_table_info('{}')", c.table()),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n as usize, columns(c).len(), "{c}");
            let row: Map<String, Value> = serde_json::from_value(serde_json::json!({
                c.definition().key_column: "x", tenant_column(c): "t", "TimeGenerated": "2026-11-27T10:00:00.000Z"
            }))
            .unwrap();
            for _ in 0..2 {
                conn.execute(&upsert_sql(c), rusqlite::params_from_iter(values(c, &row)))
                    .unwrap();
            }
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM \"{}\"", c.table()),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{c}: the key is (tenant, its id)");
        }
    }
}
