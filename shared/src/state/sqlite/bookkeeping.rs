//! A tenant's category's bookkeeping — its checkpoint, the ledger entries the next run's
//! overlap can meet again, and the outbox batches not yet delivered — taken out of the store
//! as one document and put back, so that it can live somewhere more durable than local disk
//! ([`crate::state::durable`]). The embedded rows are not part of it.

use super::SqliteState;
use crate::clock::Timestamp;
use crate::model::Category;
use crate::state::StateError;
use chrono::{DateTime, Utc};
use rusqlite::params;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The document's version: a release refuses one it does not know.
const VERSION: u32 = 1;

/// One tenant's category's bookkeeping, rows as column → value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bookkeeping {
    pub version: u32,
    pub tenant: String,
    pub category: String,
    pub checkpoint: Option<Map<String, Value>>,
    /// Ledger entries from the next run's window start on.
    pub seen: Vec<Map<String, Value>>,
    /// Batches waiting for their destination (without their local sequence number).
    pub outbox: Vec<Map<String, Value>>,
}

impl SqliteState {
    /// The bookkeeping of a tenant's category: the ledger only from `keep_from` (where the next
    /// run's overlap begins) on.
    pub fn bookkeeping(
        &self,
        tenant: &str,
        category: Category,
        keep_from: Option<DateTime<Utc>>,
    ) -> Result<Bookkeeping, StateError> {
        let conn = self.conn();
        let rows = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<_, StateError> {
            let mut stmt = conn.prepare(sql)?;
            let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
            let out = stmt
                .query_map(args, |r| {
                    let mut row = Map::new();
                    for (i, name) in names.iter().enumerate() {
                        row.insert(name.clone(), json_of(r.get::<_, SqlValue>(i)?));
                    }
                    Ok(row)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(out)
        };
        let name = category.name();
        let keep_from = keep_from.map(|t| t.rfc3339_millis()).unwrap_or_default();
        let checkpoint = rows(
            "SELECT * FROM checkpoints WHERE tenant = ?1 AND category = ?2",
            &[&tenant, &name],
        )?
        .into_iter()
        .next();
        let seen = rows(
            "SELECT * FROM seen WHERE tenant = ?1 AND category = ?2 AND time >= ?3",
            &[&tenant, &name, &keep_from],
        )?;
        let mut outbox = rows(
            "SELECT * FROM outbox WHERE tenant = ?1 AND category = ?2 ORDER BY seq",
            &[&tenant, &name],
        )?;
        for batch in &mut outbox {
            batch.remove("seq");
        }
        Ok(Bookkeeping {
            version: VERSION,
            tenant: tenant.to_string(),
            category: name.to_string(),
            checkpoint,
            seen,
            outbox,
        })
    }

    /// Replaces the bookkeeping of the document's tenant and category with the document's, in
    /// one transaction. Column names are checked against the tables, never trusted.
    pub fn restore_bookkeeping(&self, b: &Bookkeeping) -> Result<(), StateError> {
        if b.version != VERSION {
            return Err(StateError::Corrupt(format!(
                "the durable bookkeeping of {} {} is of version {} (this release knows {VERSION}); run the release that wrote it",
                b.tenant, b.category, b.version
            )));
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for table in ["checkpoints", "seen", "outbox"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = ?1 AND category = ?2"),
                params![b.tenant, b.category],
            )?;
        }
        let checkpoint = b.checkpoint.iter();
        for (table, rows) in [
            ("checkpoints", checkpoint.collect::<Vec<_>>()),
            ("seen", b.seen.iter().collect()),
            ("outbox", b.outbox.iter().collect()),
        ] {
            let known: Vec<String> = tx
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for row in rows {
                let mine = |v: &Value| v.as_str() == Some(b.tenant.as_str());
                if !row.get("tenant").is_some_and(mine)
                    || row.get("category").and_then(Value::as_str) != Some(&b.category)
                {
                    return Err(StateError::Corrupt(format!(
                        "the durable bookkeeping of {} {} holds a {table} row of another tenant or category",
                        b.tenant, b.category
                    )));
                }
                let mut columns = Vec::new();
                let mut values = Vec::new();
                for (column, value) in row {
                    if column == "seq" || !known.contains(column) {
                        return Err(StateError::Corrupt(format!(
                            "the durable bookkeeping of {} {} names a column {table}.{column} this release does not have",
                            b.tenant, b.category
                        )));
                    }
                    columns.push(format!("\"{column}\""));
                    values.push(sql_of(value));
                }
                let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
                tx.execute(
                    &format!(
                        "INSERT INTO {table} ({}) VALUES ({})",
                        columns.join(", "),
                        marks.join(", ")
                    ),
                    rusqlite::params_from_iter(values),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn json_of(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => Value::from(f),
        SqlValue::Text(t) => Value::String(t),
        // No bookkeeping column holds bytes; kept as text if one ever does.
        SqlValue::Blob(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
    }
}

fn sql_of(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Integer)
            .unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or_default())),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

impl SqliteState {
    /// Stores a small named document (JSON), replacing one of the same name.
    pub fn set_document<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StateError> {
        let text = serde_json::to_string(value)
            .map_err(|e| StateError::Corrupt(format!("document {name}: {e}")))?;
        self.conn().execute(
            "INSERT INTO documents (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, text],
        )?;
        Ok(())
    }
}
