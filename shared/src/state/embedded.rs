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

fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool | ColumnType::Long => "INTEGER",
        _ => "TEXT",
    }
}

/// The indexes of earlier versions that no query uses any more (`lower(col) = lower(?)` could
/// not use them), dropped on open.
pub fn dropped_indexes() -> String {
    let mut sql = String::new();
    for category in Category::ALL {
        for col in ["UserPrincipalName", "IPAddress", "IpAddress"] {
            sql.push_str(&format!(
                "DROP INDEX IF EXISTS \"{}_by_{col}\";\n",
                category.table()
            ));
        }
        if category == Category::SignInLogs {
            sql.push_str(&format!(
                "DROP INDEX IF EXISTS \"{}_by_time\";\n",
                category.table()
            ));
        }
        // Replaced by `_by_OperationName_tenant` (counted without reading the table).
        sql.push_str(&format!(
            "DROP INDEX IF EXISTS \"{}_by_OperationName\";\n",
            category.table()
        ));
        // Which users sign in to an app is read from the hourly summary (see [`rollups`]),
        // the hours at the range's ends through the time index.
        for col in ["AppId", "AppDisplayName"] {
            for suffix in ["", "_covering"] {
                sql.push_str(&format!(
                    "DROP INDEX IF EXISTS \"{}_by_{col}{suffix}\";\n",
                    category.table()
                ));
            }
        }
    }
    sql
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
            "CREATE TABLE IF NOT EXISTS \"{table}\" ({}, PRIMARY KEY (\"{tenant}\", \"Id\"));\n",
            cols.join(", ")
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

/// A summary of a category's rows per hour, kept by triggers as rows are written, replaced
/// or deleted: the week-long questions read a week of these instead of every row (see
/// `query::questions`). Rows whose key columns are equal (NULL matching NULL) share a line.
pub struct Rollup {
    pub category: Category,
    pub table: String,
    /// Key columns besides the tenant and the hour (`substr(TimeGenerated, 1, 13)`).
    pub keys: &'static [&'static str],
    /// How many rows the line holds.
    pub count: &'static str,
    /// (column of the line, column of the rows): the greatest value among the line's rows.
    /// `exact` keeps it exact when a row is deleted (the hour's rows are read again when the
    /// deleted row held it); otherwise it stays as the greatest seen while the line lasts.
    pub maxes: &'static [(&'static str, &'static str, bool)],
}

/// The hourly summaries: interactive sign-ins by user and app (who signs in, per day and to
/// an app) and by result (status); audit events by activity (password resets).
pub fn rollups() -> Vec<Rollup> {
    vec![
        Rollup {
            category: Category::SignInLogs,
            table: format!("{}_hourly_users", Category::SignInLogs.table()),
            keys: &["UserPrincipalName", "AppId", "AppDisplayName"],
            count: "SignIns",
            maxes: &[("LastSignIn", "TimeGenerated", true)],
        },
        Rollup {
            category: Category::SignInLogs,
            table: format!("{}_hourly_results", Category::SignInLogs.table()),
            keys: &["ResultType"],
            count: "SignIns",
            maxes: &[("ResultDescription", "ResultDescription", false)],
        },
        Rollup {
            category: Category::AuditLogs,
            table: format!("{}_hourly_operations", Category::AuditLogs.table()),
            keys: &["OperationName"],
            count: "Events",
            maxes: &[],
        },
    ]
}

impl Rollup {
    fn tenant(&self) -> &'static str {
        tenant_column(self.category)
    }

    /// `CREATE TABLE` and its index (tenant, hour, keys): read by hour, updated by key.
    pub fn create(&self) -> String {
        let t = &self.table;
        let keys: String = each(self.keys, |k| format!(", \"{k}\" TEXT"));
        let maxes: String = each(self.maxes, |(m, _, _)| format!(", \"{m}\" TEXT"));
        let key_cols: String = each(self.keys, |k| format!(", \"{k}\""));
        format!(
            "CREATE TABLE IF NOT EXISTS \"{t}\" (\"{tenant}\" TEXT, \"Hour\" TEXT{keys}, \"{count}\" INTEGER NOT NULL{maxes});\n\
             CREATE INDEX IF NOT EXISTS \"{t}_by_hour\" ON \"{t}\" (\"{tenant}\", \"Hour\"{key_cols});\n",
            tenant = self.tenant(),
            count = self.count,
        )
    }

    /// The names of the two triggers.
    pub fn triggers(&self) -> [String; 2] {
        [
            format!("{}_on_insert", self.table),
            format!("{}_on_delete", self.table),
        ]
    }

    /// The line of a row (`NEW` or `OLD`), as a WHERE clause over the summary.
    fn line_of(&self, row: &str) -> String {
        let mut w = vec![
            format!("\"{0}\" = {row}.\"{0}\"", self.tenant()),
            format!("\"Hour\" = substr({row}.\"TimeGenerated\", 1, 13)"),
        ];
        w.extend(
            self.keys
                .iter()
                .map(|k| format!("\"{k}\" IS {row}.\"{k}\"")),
        );
        w.join(" AND ")
    }

    /// `CREATE TRIGGER` for inserted rows (a replaced row is deleted first: recursive triggers
    /// are on, see `SqliteState::open`) and deleted ones.
    pub fn create_triggers(&self) -> String {
        let [on_insert, on_delete] = self.triggers();
        let (t, table, count) = (&self.table, self.category.table(), self.count);
        let raise: String = self
            .maxes
            .iter()
            .map(|(m, c, _)| {
                format!(", \"{m}\" = CASE WHEN \"{m}\" IS NULL OR NEW.\"{c}\" > \"{m}\" THEN NEW.\"{c}\" ELSE \"{m}\" END")
            })
            .collect();
        let cols: String = each(self.keys, |k| format!(", \"{k}\""));
        let max_cols: String = each(self.maxes, |(m, _, _)| format!(", \"{m}\""));
        let new_keys: String = each(self.keys, |k| format!(", NEW.\"{k}\""));
        let new_maxes: String = each(self.maxes, |(_, c, _)| format!(", NEW.\"{c}\""));
        // The hour's remaining rows of the line, for a greatest value the deleted row held.
        let tenant = self.tenant();
        let same: String = each(self.keys, |k| format!(" AND \"{k}\" IS OLD.\"{k}\""));
        let lower: String = self
            .maxes
            .iter()
            .filter(|(_, _, exact)| *exact)
            .map(|(m, c, _)| {
                format!(
                    ", \"{m}\" = CASE WHEN \"{m}\" IS OLD.\"{c}\" THEN (SELECT MAX(\"{c}\") FROM \"{table}\" WHERE \"{tenant}\" = OLD.\"{tenant}\" AND \"TimeGenerated\" >= substr(OLD.\"TimeGenerated\", 1, 13) AND \"TimeGenerated\" < substr(OLD.\"TimeGenerated\", 1, 13) || ':60'{same}) ELSE \"{m}\" END"
                )
            })
            .collect();
        let (new_line, old_line) = (self.line_of("NEW"), self.line_of("OLD"));
        format!(
            "CREATE TRIGGER IF NOT EXISTS \"{on_insert}\" AFTER INSERT ON \"{table}\" BEGIN\n\
             UPDATE \"{t}\" SET \"{count}\" = \"{count}\" + 1{raise} WHERE {new_line};\n\
             INSERT INTO \"{t}\" (\"{tenant}\", \"Hour\"{cols}, \"{count}\"{max_cols}) SELECT NEW.\"{tenant}\", substr(NEW.\"TimeGenerated\", 1, 13){new_keys}, 1{new_maxes} WHERE changes() = 0;\n\
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
        let cols: String = each(self.keys, |k| format!(", \"{k}\""));
        let max_cols: String = each(self.maxes, |(m, _, _)| format!(", \"{m}\""));
        let max_of: String = each(self.maxes, |(_, c, _)| format!(", MAX(\"{c}\")"));
        format!(
            "DELETE FROM \"{t}\";\n\
             INSERT INTO \"{t}\" (\"{tenant}\", \"Hour\"{cols}, \"{count}\"{max_cols}) SELECT \"{tenant}\", substr(\"TimeGenerated\", 1, 13){cols}, COUNT(*){max_of} FROM \"{table}\" GROUP BY 1, 2{cols};\n"
        )
    }
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
            (ColumnType::Long, Some(Value::Number(n))) => {
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
                "Id": "x", tenant_column(c): "t", "TimeGenerated": "2026-11-27T10:00:00.000Z"
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
            assert_eq!(n, 1, "{c}: the key is (tenant, Id)");
        }
    }
}
