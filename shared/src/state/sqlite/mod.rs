//! The SQLite state backend.

use super::embedded;
use super::{
    Checkpoint, Checkpoints, DestinationDelta, DestinationHealth, Outbox, OutboxEntry, Outcome,
    PageRouting, PageWrite, RiskStore, RunFigures, RunRecord, Runs, StateError, StoredRow,
};
use crate::clock::Timestamp;
use crate::model::{Category, Destination};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// State in one SQLite file, `state.sqlite` in the data directory.
pub struct SqliteState {
    path: PathBuf,
    /// The one writing connection (collection, imports, state changes).
    conn: Mutex<Connection>,
    /// Read-only connections for questions and listings: in WAL mode a reader sees the last
    /// commit and neither waits for the writer nor makes it wait.
    /// <https://www.sqlite.org/wal.html#concurrency>
    readers: Mutex<Vec<Connection>>,
    /// What `PRAGMA quick_check` said of the file: None while it runs (it reads every page,
    /// so it runs on its own thread after the open), then Ok or the problems it found.
    integrity: Arc<Mutex<Option<Result<(), String>>>>,
}

/// A read-only connection borrowed from the pool, given back when dropped.
struct Reader<'a> {
    state: &'a SqliteState,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.state.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// Read-only connections kept open between requests.
const MAX_IDLE_READERS: usize = 4;

impl std::fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteState")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS function_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    past_due INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS function_runs_by_function ON function_runs (function, id);
-- Every record collected, whatever its routes: what makes a re-read record recognisable
-- (same id, same digest) so it is routed once, and a changed one routed again.
CREATE TABLE IF NOT EXISTS seen (
    tenant TEXT NOT NULL,
    category TEXT NOT NULL,
    id TEXT NOT NULL,
    time TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (tenant, category, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (tenant, category, time);
-- Batches for external destinations, written with the page they came from; removed once
-- delivered or spooled.
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    tenant TEXT NOT NULL,
    category TEXT NOT NULL,
    created TEXT NOT NULL,
    records INTEGER NOT NULL,
    items TEXT NOT NULL
);
-- Our risk detections, one row per incident.
CREATE TABLE IF NOT EXISTS risk_detections (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    user TEXT NOT NULL,
    ip TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    evidence TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX IF NOT EXISTS risk_detections_by_time ON risk_detections (tenant, first_seen);
-- Who dismissed a user's risk or confirmed them compromised, when, why (the audit trail).
CREATE TABLE IF NOT EXISTS risk_actions (
    tenant TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_actions_by_user ON risk_actions (tenant, user, at);
-- Small named documents (learned history, detection progress), as JSON.
-- Alerts sent to the webhook (dedupe and rate limit).
CREATE TABLE IF NOT EXISTS alerts_sent (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
-- Alerts waiting to be sent (recommendations'): kept until the webhook takes them.
CREATE TABLE IF NOT EXISTS alerts_queued (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    queued TEXT NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (tenant, key)
);
CREATE TABLE IF NOT EXISTS documents (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS destination_health (
    destination TEXT PRIMARY KEY,
    last_success TEXT,
    last_error TEXT,
    last_error_at TEXT,
    batches_sent INTEGER NOT NULL DEFAULT 0,
    records_sent INTEGER NOT NULL DEFAULT 0,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    spooled_total INTEGER NOT NULL DEFAULT 0,
    replayed_total INTEGER NOT NULL DEFAULT 0,
    dead_letters INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected_records (
    tenant TEXT NOT NULL,
    category TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL
);
-- Tenants whose records were imported from files (`entra-monitor import`), which the
-- endpoints answer for like configured ones.
CREATE TABLE IF NOT EXISTS imported_tenants (
    tenant TEXT PRIMARY KEY,
    last_import TEXT NOT NULL
);
-- The directory inventory: objects as last listed, what changed, and each kind's last
-- complete listing (sqlite/inventory.rs).
CREATE TABLE IF NOT EXISTS inventory (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed TEXT,
    PRIMARY KEY (tenant, kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inventory_changes (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    change TEXT NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS inventory_changes_by_time ON inventory_changes (tenant, kind, at);
CREATE TABLE IF NOT EXISTS inventory_syncs (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    listed INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind)
);
-- Recommendations (sqlite/recommendations.rs): each type's status per tenant and source, the
-- resources each impacts, and every change of status (the system's and people's).
CREATE TABLE IF NOT EXISTS recommendations (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    impact_start TEXT NOT NULL,
    last_checked TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    last_modified_by TEXT NOT NULL,
    postpone_until TEXT,
    note TEXT,
    PRIMARY KEY (tenant, type, source)
);
CREATE TABLE IF NOT EXISTS recommendation_resources (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    status TEXT NOT NULL,
    added TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    last_modified_by TEXT NOT NULL,
    postpone_until TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, type, source, subject_id)
);
CREATE TABLE IF NOT EXISTS recommendation_history (
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject_id TEXT,
    at TEXT NOT NULL,
    status_from TEXT,
    status_to TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recommendation_history_by_type ON recommendation_history (tenant, type, at);
-- How far each tenant's recommendation history has been routed as records (its rowid).
CREATE TABLE IF NOT EXISTS recommendation_routed (
    tenant TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recommendation_runs (
    tenant TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
-- Where a kind Graph tracks changes of (delta query) goes on from: the last round's
-- `@odata.deltaLink`, written with the snapshot it brought up to date.
CREATE TABLE IF NOT EXISTS inventory_delta (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    link TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (tenant, kind)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    tenant TEXT NOT NULL,
    category TEXT NOT NULL,
    watermark TEXT,
    last_run_at TEXT,
    window_from TEXT,
    window_to TEXT,
    records_last_run INTEGER NOT NULL DEFAULT 0,
    new_last_run INTEGER NOT NULL DEFAULT 0,
    requests_last_run INTEGER NOT NULL DEFAULT 0,
    throttled_last_run INTEGER NOT NULL DEFAULT 0,
    rejected_total INTEGER NOT NULL DEFAULT 0,
    drift_total INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    paused_until TEXT,
    since TEXT,
    PRIMARY KEY (tenant, category)
);
";

impl SqliteState {
    /// Opens (creating if needed) `state.sqlite` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StateError> {
        let folder = data_dir.display().to_string();
        std::fs::create_dir_all(data_dir).map_err(|source| {
            if super::is_read_only(&source) {
                StateError::ReadOnly {
                    path: folder.clone(),
                    source,
                }
            } else {
                StateError::DataDir {
                    path: folder.clone(),
                    source,
                }
            }
        })?;
        if let Some(fstype) = super::filesystem::network_filesystem(data_dir) {
            return Err(StateError::NetworkFileSystem {
                path: folder,
                fstype,
            });
        }
        // A folder that refuses writes is named as such, not taken for a broken database.
        let probe = data_dir.join(format!(".write-check-{}", std::process::id()));
        match std::fs::write(&probe, b"") {
            Ok(()) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(source) if super::is_read_only(&source) => {
                return Err(StateError::ReadOnly {
                    path: folder,
                    source,
                });
            }
            Err(_) => {}
        }
        let path = data_dir.join("state.sqlite");
        let open_err = |source| StateError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        // Several processes (serve, run, a second host) may share the file.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // Large sorts (an index built after an import, a summary filled from the rows) use a
        // second thread.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        conn.pragma_update(None, "threads", threads as i64)
            .map_err(open_err)?;
        // In WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may undo
        // the last pages, but each with its checkpoint (one transaction), so they are read
        // again — nothing is lost. An application crash loses nothing either way.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        // Pages stay 4 KiB. 16 KiB pages were measured (bench, 2 cores): the 5.5M-row bulk
        // load took 348 s instead of 426, but collection, whose transactions touch index and
        // ledger pages here and there, slowed from 161 s to 264 s for a 1M backfill.
        // A page of a thousand sign-ins fills the default 1,000-page WAL (4 MB of 4 KiB pages):
        // it was copied into the database after nearly every page. Checkpointing at 64 MiB of
        // WAL writes an index page touched by several pages once (bench section 3: the
        // store's write took 15% less time).
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(open_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", (64 << 20) / page_size.max(512))
            .map_err(open_err)?;
        // A row replaced by `INSERT OR REPLACE` fires the delete triggers only with recursive
        // triggers on: the hourly summaries (see `embedded::rollups`) must see it leave.
        conn.pragma_update(None, "recursive_triggers", "ON")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        conn.execute_batch(health::SCHEMA).map_err(open_err)?;
        let mut conn = conn;
        let migrated =
            super::migrations::migrate(&mut conn).map_err(|message| StateError::Migrate {
                path: path.display().to_string(),
                message,
            })?;
        if migrated.from != migrated.to {
            tracing::info!(
                from = migrated.from,
                to = migrated.to,
                "state: schema upgraded"
            );
        }
        if !migrated.columns.is_empty() {
            tracing::info!(columns = %migrated.columns.join(", "), "state: columns added to the tables");
        }
        conn.execute_batch(&embedded::schema()).map_err(open_err)?;
        ensure_rollups(&mut conn).map_err(open_err)?;
        let state = Self {
            path,
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            integrity: Arc::new(Mutex::new(None)),
        };
        state.check_integrity();
        Ok(state)
    }

    /// Starts `PRAGMA quick_check` on a read-only connection of its own thread.
    /// <https://www.sqlite.org/pragma.html#pragma_quick_check>
    fn check_integrity(&self) {
        let path = self.path.clone();
        let slot = self.integrity.clone();
        let run = move || {
            let verdict = (|| -> rusqlite::Result<Result<(), String>> {
                let conn = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(30))?;
                let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
                let lines: Vec<String> = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(if lines == ["ok"] {
                    Ok(())
                } else {
                    Err(lines.join("; "))
                })
            })()
            .unwrap_or_else(|e| Err(e.to_string()));
            if let Err(problem) = &verdict {
                tracing::error!(
                    "the state database {} failed its integrity check: {problem}",
                    path.display()
                );
            }
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(verdict);
        };
        if std::thread::Builder::new()
            .name("state-integrity".into())
            .spawn(run)
            .is_err()
        {
            tracing::warn!("cannot start the state integrity check");
        }
    }

    /// The integrity check's verdict: None while it runs, else Ok or the problems found.
    pub fn integrity(&self) -> Option<Result<(), String>> {
        self.integrity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A read-only connection: an idle one, or a new one.
    fn reader(&self) -> Result<Reader<'_>, StateError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                use rusqlite::OpenFlags;
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        Ok(Reader {
            state: self,
            conn: Some(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Notes `tenant`'s history routed as records up to `rowid`, in `table` (a
    /// `(tenant, last_rowid)` table of this schema).
    fn mark_routed(&self, table: &str, tenant: &str, rowid: i64) -> Result<(), StateError> {
        self.conn().execute(
            &format!(
                "INSERT INTO {table} (tenant, last_rowid) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET last_rowid = max(last_rowid, excluded.last_rowid)"
            ),
            rusqlite::params![tenant, rowid],
        )?;
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written; keep going.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What [`SqliteState::claim_alert`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertClaim {
    Send,
    AlreadySent,
    RateLimited,
}

impl Runs for SqliteState {
    fn record_run(&self, run: &RunRecord) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO function_runs (function, invocation_id, host, started_at, finished_at, duration_ms, outcome, detail, past_due)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.function,
                run.invocation_id,
                run.host,
                run.started_at.to_rfc3339(),
                run.finished_at.to_rfc3339(),
                run.duration_ms,
                run.outcome.as_str(),
                run.detail,
                run.past_due,
            ],
        )?;
        Ok(())
    }

    fn last_runs(&self) -> Result<BTreeMap<String, RunRecord>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT function, invocation_id, host, started_at, finished_at, duration_ms, outcome, detail, past_due
             FROM function_runs WHERE id IN (SELECT MAX(id) FROM function_runs GROUP BY function)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, bool>(8)?,
            ))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (
                function,
                invocation_id,
                host,
                started,
                finished,
                duration_ms,
                outcome,
                detail,
                past_due,
            ) = row?;
            let outcome =
                Outcome::parse(&outcome).ok_or_else(|| StateError::Corrupt(outcome.clone()))?;
            let record = RunRecord {
                function: function.clone(),
                invocation_id,
                host,
                started_at: parse_time(&started)?,
                finished_at: parse_time(&finished)?,
                duration_ms,
                outcome,
                detail,
                past_due,
            };
            out.insert(function, record);
        }
        Ok(out)
    }
}

/// Records rows in the ledger `ledger` (by id and digest) and, for the new or changed ones,
/// writes the category's embedded table and the outbox batches `routing` builds.
fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    category: Category,
    ledger: &str,
    rows: &[StoredRow],
    routing: &PageRouting<'_>,
    now: DateTime<Utc>,
) -> Result<PageWrite, StateError> {
    let mut write = PageWrite::default();
    let mut changed: Vec<&StoredRow> = Vec::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO seen (tenant, category, id, time, digest, first_seen, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE seen SET time = ?4, digest = ?5, updated = ?6 WHERE tenant = ?1 AND category = ?2 AND id = ?3 AND digest != ?5",
        )?;
        let now = now.to_rfc3339();
        for r in rows {
            let digest = r.digest();
            let args = params![tenant, ledger, r.id, r.time.rfc3339_millis(), digest, now];
            if insert.execute(args)? == 1 {
                write.new += 1;
                changed.push(r);
            } else if update.execute(args)? == 1 {
                write.updated += 1;
                changed.push(r);
            }
        }
    }
    if routing.embedded && !changed.is_empty() {
        let mut upsert = tx.prepare_cached(&embedded::upsert_sql(category))?;
        for r in &changed {
            upsert.execute(rusqlite::params_from_iter(embedded::values(
                category, &r.columns,
            )))?;
        }
    }
    if !changed.is_empty() {
        let mut add = tx.prepare_cached(
            "INSERT INTO outbox (batch_id, destination, tenant, category, created, records, items) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for batch in (routing.outbox)(&changed) {
            let batch_id = format!(
                "{}-{:016x}",
                now.format("%Y%m%dT%H%M%S%3fZ"),
                fastrand::u64(..)
            );
            add.execute(params![
                batch_id,
                batch.destination.name(),
                tenant,
                category.name(),
                now.to_rfc3339(),
                batch.records as i64,
                batch.items,
            ])?;
            write.batches += 1;
        }
    }
    Ok(write)
}

/// Creates the hourly summaries whose triggers are missing (a new store, a store written
/// before they existed, or a bulk load — finished or interrupted) and fills them from the rows,
/// with the triggers, in one transaction.
fn ensure_rollups(conn: &mut Connection) -> rusqlite::Result<()> {
    for rollup in embedded::rollups() {
        let names = rollup.triggers();
        let present: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?1, ?2)",
            params![names[0], names[1]],
            |r| r.get(0),
        )?;
        if present == 2 {
            continue;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(&rollup.create())?;
        tx.execute_batch(&rollup.rebuild())?;
        tx.execute_batch(&rollup.create_triggers())?;
        tx.commit()?;
    }
    Ok(())
}

fn advance_watermark(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    category: Category,
    to: DateTime<Utc>,
) -> Result<(), StateError> {
    // Fixed-width UTC text compares in time order, so MAX keeps the watermark monotonic.
    let to = to.rfc3339_millis();
    tx.execute(
        "INSERT INTO checkpoints (tenant, category, watermark) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, category) DO UPDATE SET watermark = MAX(COALESCE(watermark, ''), excluded.watermark)",
        params![tenant, category.name(), to],
    )?;
    Ok(())
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StateError::Corrupt(text.to_string()))
}

pub mod bookkeeping;
pub use health::{StateChange, StoredAlert};
pub use inventory::InventoryChanges;
pub use recommendations::{EvaluationChanges, ResourceFilter};
mod checkpoints;
mod health;
mod inventory;
mod outbox;
mod recommendations;
mod records;
mod risk;
#[cfg(test)]
mod tests;
