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
        // Replaced by `_by_{col}_covering` (apps: with the users and times the app questions
        // count) and `_by_OperationName_tenant` (counted without reading the table).
        for col in ["AppId", "AppDisplayName", "OperationName"] {
            sql.push_str(&format!(
                "DROP INDEX IF EXISTS \"{}_by_{col}\";\n",
                category.table()
            ));
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
    // uses these), apps and operations as they are.
    for (col, collate) in [
        ("UserPrincipalName", " COLLATE NOCASE"),
        ("IPAddress", " COLLATE NOCASE"),
        ("IpAddress", " COLLATE NOCASE"),
        ("OperationName", ""),
        ("AppId", ""),
        ("AppDisplayName", ""),
    ] {
        if has(col) {
            // Each leads with the column, then the tenant, so the planner prefers it to the
            // time index for one user's, address's, app's or operation's records; apps also
            // carry the user, so which users sign in to an app is read from the index alone.
            let app = col.starts_with("App");
            let suffix = if app {
                "_covering"
            } else if collate.is_empty() {
                "_tenant"
            } else {
                "_nocase"
            };
            let tenant_key = format!(", \"{tenant}\"");
            let user = if app && has("UserPrincipalName") {
                ", \"UserPrincipalName\""
            } else {
                ""
            };
            let name = format!("{table}_by_{col}{suffix}");
            out.push((
                name.clone(),
                format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON \"{table}\" (\"{col}\"{collate}{tenant_key}, \"TimeGenerated\"{user})"),
            ));
        }
    }
    out
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
