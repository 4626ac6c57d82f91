//! The store's schema versions. `PRAGMA user_version` counts the [`MIGRATIONS`] applied; a
//! store opened by a newer release gets the missing ones, in order, in one transaction, before
//! anything else reads it. Then the category tables gain the columns their definitions
//! ([`crate::model::tables`]) have and the store lacks, so adding a column to a definition
//! needs no migration of its own.
//! <https://www.sqlite.org/pragma.html#pragma_user_version>
//!
//! To change a bookkeeping table or drop what an earlier version made: add a step at the end
//! of [`MIGRATIONS`] (never edit or reorder one that shipped).

use super::embedded;
use crate::model::Category;
use crate::model::tables::columns;
use rusqlite::{Connection, Transaction};

/// One step from a version to the next.
pub struct Migration {
    /// What it changes, logged when it runs.
    pub describe: &'static str,
    pub apply: fn(&Transaction) -> rusqlite::Result<()>,
}

/// Every step, in order: a store at version `n` has had the first `n`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        describe: "the early records table (rows as JSON) replaced by the ledger and the per-category tables",
        apply: |tx| tx.execute_batch("DROP TABLE IF EXISTS records"),
    },
    Migration {
        describe: "indexes and summaries no query uses any more dropped",
        apply: |tx| tx.execute_batch(&dropped_indexes()),
    },
];

/// The version a store has once opened by this release.
pub fn current() -> i64 {
    MIGRATIONS.len() as i64
}

/// What [`migrate`] did.
#[derive(Debug, Default, PartialEq)]
pub struct Migrated {
    pub from: i64,
    pub to: i64,
    /// `table.column`s added to match the definitions.
    pub columns: Vec<String>,
}

/// Brings a store to this release's schema. A store of a newer release (a version above
/// [`current`]) is refused: this release does not know what those steps changed.
pub fn migrate(conn: &mut Connection) -> Result<Migrated, String> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let from: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if from > current() {
        return Err(format!(
            "the store is of schema version {from}, written by a newer release of entra-monitor (this one knows versions up to {}); run that release, or move the store aside",
            current()
        ));
    }
    for (n, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        (step.apply)(&tx).map_err(|e| format!("migration {}: {e}", n + 1))?;
        tracing::info!(version = n + 1, "state: {}", step.describe);
    }
    tx.pragma_update(None, "user_version", current())
        .map_err(|e| e.to_string())?;
    let columns = add_missing_columns(&tx).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(Migrated {
        from,
        to: current(),
        columns,
    })
}

/// The indexes (and summaries) of earlier versions that no query uses any more (`lower(col) = lower(?)` could
/// not use them).
fn dropped_indexes() -> String {
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
    // Summaries replaced by others (see [`rollups`]).
    for table in embedded::DROPPED_ROLLUPS {
        for trigger in embedded::trigger_names(table) {
            sql.push_str(&format!("DROP TRIGGER IF EXISTS \"{trigger}\";\n"));
        }
        sql.push_str(&format!("DROP TABLE IF EXISTS \"{table}\";\n"));
    }
    sql
}

/// Adds to a store's existing tables the columns our table definitions gained since it was
/// created (`ALTER TABLE … ADD COLUMN`; rows stored before have them empty), so a store of an
/// earlier version opens and goes on. Returns the `table.column`s added.
fn add_missing_columns(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<String>> {
    let mut added = Vec::new();
    for category in Category::ALL {
        let table = category.table();
        let existing: std::collections::BTreeSet<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|n| n.map(|n| n.to_ascii_lowercase()))
            .collect::<Result<_, _>>()?;
        if existing.is_empty() {
            continue;
        }
        for (name, ty) in columns(category) {
            if !existing.contains(&name.to_ascii_lowercase()) {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{table}\" ADD COLUMN \"{name}\" {}",
                    embedded::sql_type(*ty)
                ))?;
                added.push(format!("{table}.{name}"));
            }
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_gets_every_step_and_a_second_open_none() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE records (x)").unwrap();
        let first = migrate(&mut conn).unwrap();
        assert_eq!((first.from, first.to), (0, current()));
        let gone: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'records'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(gone, 0, "step 1 dropped the early table");
        let again = migrate(&mut conn).unwrap();
        assert_eq!((again.from, again.to), (current(), current()));
    }

    #[test]
    fn a_store_of_a_newer_release_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", current() + 1)
            .unwrap();
        let e = migrate(&mut conn).unwrap_err();
        assert!(e.contains("newer release"), "{e}");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, current() + 1);
    }
}
