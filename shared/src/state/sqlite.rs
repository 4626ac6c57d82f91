//! The SQLite state backend.

use super::embedded;
use super::{
    Checkpoint, DestinationDelta, DestinationHealth, OutboxEntry, Outcome, PageRouting, PageWrite,
    RunFigures, RunRecord, StateError, StateStore, StoredRow,
};
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

impl StateStore for SqliteState {
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

impl SqliteState {
    /// Where the category's collection stands for a tenant.
    pub fn checkpoint(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<Checkpoint>, StateError> {
        Ok(self
            .checkpoints()?
            .into_iter()
            .find(|c| c.tenant == tenant && c.category == category.name()))
    }

    /// Every checkpoint, for the health report.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT tenant, category, watermark, last_run_at, window_from, window_to, records_last_run, new_last_run,
                    requests_last_run, throttled_last_run, rejected_total, drift_total, last_error, paused_until, since
             FROM checkpoints ORDER BY tenant, category",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Checkpoint {
                tenant: r.get(0)?,
                category: r.get(1)?,
                watermark: r
                    .get::<_, Option<String>>(2)?
                    .and_then(|t| parse_time(&t).ok()),
                last_run_at: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|t| parse_time(&t).ok()),
                window_from: r
                    .get::<_, Option<String>>(4)?
                    .and_then(|t| parse_time(&t).ok()),
                window_to: r
                    .get::<_, Option<String>>(5)?
                    .and_then(|t| parse_time(&t).ok()),
                records_last_run: r.get(6)?,
                new_last_run: r.get(7)?,
                requests_last_run: r.get(8)?,
                throttled_last_run: r.get(9)?,
                rejected_total: r.get(10)?,
                drift_total: r.get(11)?,
                last_error: r.get(12)?,
                paused_until: r
                    .get::<_, Option<String>>(13)?
                    .and_then(|t| parse_time(&t).ok()),
                since: r
                    .get::<_, Option<String>>(14)?
                    .and_then(|t| parse_time(&t).ok()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores one page of rows and moves the watermark to `progress`, in one transaction: a
    /// crash leaves either all or nothing. Records are recognised by id: one read again
    /// unchanged (overlap, repeated page, retried run) changes nothing; a new or changed one
    /// goes into the category's embedded table (when routed there) and into the outbox batches
    /// `routing` builds for the external destinations.
    #[allow(clippy::too_many_arguments)]
    pub fn store_page(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        routing: &PageRouting<'_>,
        progress: Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let write = write_rows(&tx, tenant, category, category.name(), rows, routing, now)?;
        // Where collection began is known from the first page on, even if that run never ends.
        tx.execute(
            "INSERT INTO checkpoints (tenant, category, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant, category) DO UPDATE SET since = COALESCE(since, excluded.since)",
            params![tenant, category.name(), since.to_rfc3339()],
        )?;
        if let Some(progress) = progress {
            advance_watermark(&tx, tenant, category, progress)?;
        }
        tx.commit()?;
        Ok(write)
    }

    /// Stores rows imported from files: recognised like collected ones (the same ledger, so a
    /// record imported twice, or imported after it was collected, is a duplicate), into the
    /// embedded table only, without touching collection's checkpoints.
    pub fn store_imported(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let routing = PageRouting::embedded_only();
        let write = write_rows(&tx, tenant, category, category.name(), rows, &routing, now)?;
        tx.execute(
            "INSERT INTO imported_tenants (tenant, last_import) VALUES (?1, ?2)
             ON CONFLICT (tenant) DO UPDATE SET last_import = excluded.last_import",
            params![tenant, now.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(write)
    }

    /// Prepares a large load into a category's table. When the table is empty (history
    /// imported into a new store), its secondary indexes are dropped, to be built once by
    /// [`Self::build_indexes`] when the load is done: sorting the rows once costs far less
    /// than keeping six indexes in order row by row. Answers whether they were dropped. Should
    /// the load stop half way, opening the store builds them again.
    pub fn begin_bulk_load(&self, category: Category) -> Result<bool, StateError> {
        let conn = self.conn();
        let empty: bool = conn.query_row(
            &format!("SELECT NOT EXISTS (SELECT 1 FROM \"{}\")", category.table()),
            [],
            |r| r.get(0),
        )?;
        if empty {
            for (name, _) in embedded::indexes(category) {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS \"{name}\""))?;
            }
            // The hourly summaries are filled from the rows at the end, not row by row.
            for rollup in embedded::rollups()
                .iter()
                .filter(|r| r.category == category)
            {
                for trigger in rollup.triggers() {
                    conn.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{trigger}\""))?;
                }
            }
        }
        Ok(empty)
    }

    /// Builds the indexes and hourly summaries a bulk load dropped (see
    /// [`Self::begin_bulk_load`]).
    pub fn build_indexes(&self) -> Result<(), StateError> {
        let mut conn = self.conn();
        conn.execute_batch(&embedded::schema())?;
        ensure_rollups(&mut conn)?;
        Ok(())
    }

    /// Whether the hourly summaries are kept (their triggers exist): not while a bulk load
    /// into an empty table runs (see [`Self::begin_bulk_load`]).
    pub fn summaries_ready(&self) -> Result<bool, StateError> {
        let rollups = embedded::rollups();
        let names: Vec<String> = rollups.iter().flat_map(|r| r.triggers()).collect();
        let present: i64 = self.reader()?.query_row(
            &format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({})",
                vec!["?"; names.len()].join(", ")
            ),
            rusqlite::params_from_iter(&names),
            |r| r.get(0),
        )?;
        Ok(present as usize == names.len())
    }

    /// The tenants records were imported for.
    pub fn imported_tenants(&self) -> Result<Vec<String>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT tenant FROM imported_tenants ORDER BY tenant")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores rows entra-monitor produced itself in a category's table shape (our risk
    /// detections and risky users): routed like collected rows, each new or changed one once,
    /// but kept apart from what was collected (their own ledger; no checkpoint).
    pub fn store_derived(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        routing: &PageRouting<'_>,
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ledger = format!("{}:{}", crate::detect::SOURCE, category.name());
        let write = write_rows(&tx, tenant, category, &ledger, rows, routing, now)?;
        tx.commit()?;
        Ok(write)
    }

    /// Outbox batches after `after_seq`, oldest first.
    pub fn outbox(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxEntry>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, batch_id, destination, tenant, category, created, items FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, batch_id, destination, tenant, category, created, items) = row?;
            out.push(OutboxEntry {
                seq,
                batch_id,
                destination: destination
                    .parse::<Destination>()
                    .map_err(|_| StateError::Corrupt(destination.clone()))?,
                tenant,
                category: category
                    .parse::<Category>()
                    .map_err(|_| StateError::Corrupt(category.clone()))?,
                created: parse_time(&created)?,
                items,
            });
        }
        Ok(out)
    }

    /// Removes a batch that was delivered or spooled.
    pub fn outbox_done(&self, seq: i64) -> Result<(), StateError> {
        self.conn()
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    /// How many batches wait in the outbox, per destination.
    pub fn outbox_counts(&self) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT destination, COUNT(*) FROM outbox GROUP BY destination")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds what a delivery did to a destination's health figures.
    pub fn note_destination(
        &self,
        destination: Destination,
        d: &DestinationDelta,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let now = now.to_rfc3339();
        self.conn().execute(
            "INSERT INTO destination_health (destination) VALUES (?1) ON CONFLICT DO NOTHING",
            params![destination.name()],
        )?;
        self.conn().execute(
            "UPDATE destination_health SET
                batches_sent = batches_sent + ?2, records_sent = records_sent + ?3, bytes_sent = bytes_sent + ?4,
                spooled_total = spooled_total + ?5, replayed_total = replayed_total + ?6, dead_letters = dead_letters + ?7,
                last_success = CASE WHEN ?8 THEN ?10 ELSE last_success END,
                last_error = COALESCE(?9, last_error),
                last_error_at = CASE WHEN ?9 IS NULL THEN last_error_at ELSE ?10 END
             WHERE destination = ?1",
            params![
                destination.name(),
                d.batches_sent,
                d.records_sent,
                d.bytes_sent,
                d.spooled,
                d.replayed,
                d.dead_letters,
                d.succeeded,
                d.error,
                now,
            ],
        )?;
        Ok(())
    }

    /// Every destination's health figures.
    pub fn destination_health(&self) -> Result<Vec<DestinationHealth>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT destination, last_success, last_error, last_error_at, batches_sent, records_sent, bytes_sent, spooled_total, replayed_total, dead_letters
             FROM destination_health ORDER BY destination",
        )?;
        let time = |t: Option<String>| t.and_then(|t| parse_time(&t).ok());
        let rows = stmt.query_map([], |r| {
            Ok(DestinationHealth {
                destination: r.get(0)?,
                last_success: time(r.get(1)?),
                last_error: r.get(2)?,
                last_error_at: time(r.get(3)?),
                batches_sent: r.get(4)?,
                records_sent: r.get(5)?,
                bytes_sent: r.get(6)?,
                spooled_total: r.get(7)?,
                replayed_total: r.get(8)?,
                dead_letters: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes embedded rows whose event time is before `cutoff`, and ledger entries before
    /// `ledger_cutoff`. Returns the rows deleted per table.
    pub fn apply_retention(
        &self,
        cutoff: DateTime<Utc>,
        ledger_cutoff: DateTime<Utc>,
    ) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let t = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut out = BTreeMap::new();
        for c in Category::ALL {
            let n = conn.execute(
                &format!("DELETE FROM \"{}\" WHERE \"TimeGenerated\" < ?1", c.table()),
                params![t(cutoff)],
            )?;
            out.insert(c.table().to_string(), n as i64);
        }
        let n = conn.execute(
            "DELETE FROM seen WHERE time < ?1",
            params![t(ledger_cutoff)],
        )?;
        out.insert("seen".into(), n as i64);
        Ok(out)
    }

    /// A stored document (JSON), if any.
    pub fn document<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM documents WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StateError::Corrupt(format!("document {name}: {e}")))
        })
        .transpose()
    }

    /// Stores detections (a key already stored is kept) and the documents that go with them,
    /// in one transaction. Returns the keys that were new.
    pub fn store_detections(
        &self,
        tenant: &str,
        detections: &[crate::detect::Detection],
        documents: &[(&str, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut new = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO risk_detections (tenant, key, name, risk_level, user, ip, first_seen, last_seen, record_ids, evidence, detected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            for d in detections {
                let added = insert.execute(params![
                    tenant,
                    d.key,
                    d.name,
                    d.risk_level,
                    d.user,
                    d.ip,
                    t(d.first_seen),
                    t(d.last_seen),
                    serde_json::to_string(&d.record_ids).unwrap_or_default(),
                    d.evidence,
                    t(now),
                ])?;
                if added == 1 {
                    new.push(d.key.clone());
                }
            }
        }
        for (name, value) in documents {
            tx.execute(
                "INSERT INTO documents (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
        }
        tx.commit()?;
        Ok(new)
    }

    /// Our detections of a tenant that began in `[from, to]`: source, name, risk level, user,
    /// ip, first and last seen, evidence, record ids (JSON text), risk state.
    pub fn risk_detections(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.query_rows(
            "SELECT 'entra-monitor', name, risk_level, user, ip, first_seen, last_seen, evidence, record_ids, 'atRisk' FROM risk_detections WHERE tenant = ?1 AND first_seen >= ?2 AND first_seen <= ?3",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(t(from)),
                rusqlite::types::Value::Text(t(to)),
            ],
        )
    }

    /// Whether an alert for this detection was sent; otherwise, when fewer than `max` alerts
    /// went out since `since`, records it as sent and answers Ok(true) to send it now.
    pub fn claim_alert(
        &self,
        tenant: &str,
        key: &str,
        since: DateTime<Utc>,
        max: usize,
        now: DateTime<Utc>,
    ) -> Result<AlertClaim, StateError> {
        let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let sent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM alerts_sent WHERE tenant = ?1 AND key = ?2",
            params![tenant, key],
            |r| r.get(0),
        )?;
        if sent > 0 {
            return Ok(AlertClaim::AlreadySent);
        }
        let recent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM alerts_sent WHERE at >= ?1",
            params![t(since)],
            |r| r.get(0),
        )?;
        if recent as usize >= max {
            return Ok(AlertClaim::RateLimited);
        }
        tx.execute(
            "INSERT INTO alerts_sent (tenant, key, at) VALUES (?1, ?2, ?3)",
            params![tenant, key, t(now)],
        )?;
        tx.commit()?;
        Ok(AlertClaim::Send)
    }

    /// Forgets a claimed alert whose sending failed, so a later run tries again.
    pub fn release_alert(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM alerts_sent WHERE tenant = ?1 AND key = ?2",
            params![tenant, key],
        )?;
        Ok(())
    }

    /// Records a risk action (dismiss, confirm compromised) in the audit trail.
    pub fn record_risk_action(
        &self,
        tenant: &str,
        user: &str,
        action: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO risk_actions (tenant, user, action, actor, reason, at) VALUES (?1, lower(?2), ?3, ?4, ?5, ?6)",
            params![tenant, user, action, actor, reason, at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)],
        )?;
        Ok(())
    }

    /// A tenant's risk actions, oldest first: user, action, actor, reason, at.
    pub fn risk_actions(&self, tenant: &str) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows(
            "SELECT user, action, actor, reason, at FROM risk_actions WHERE tenant = ?1 ORDER BY at, rowid",
            &[rusqlite::types::Value::Text(tenant.into())],
        )
    }

    /// Password resets (self-service or by an admin) of a tenant's users: user, time.
    pub fn password_resets(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows(
            "SELECT lower(json_extract(\"TargetResources\", '$[0].userPrincipalName')), \"TimeGenerated\" FROM \"AuditLogs\"
             WHERE \"AADTenantId\" = ?1 AND \"TimeGenerated\" >= ?2 AND \"OperationName\" IN ('Reset password (self-service)', 'Reset user password', 'Change password (self-service)')",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ],
        )
    }

    /// Risky sign-ins of a tenant in `[from, to]`, newest first: the interactive sign-ins our
    /// detections name, and those Microsoft rated at risk (`RiskLevelDuringSignIn` low, medium
    /// or high). Each: id, time, user, ip, location, app, result, risk level (the higher of ours
    /// and Microsoft's), Microsoft's level, risk state, sources, our detections (name and level).
    pub fn risky_sign_ins(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use rusqlite::types::Value::Text;
        use serde_json::{Value, json};
        let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let sql = format!(
            "SELECT s.\"Id\", s.\"TimeGenerated\", s.\"UserPrincipalName\", s.\"IPAddress\", s.\"Location\", s.\"AppDisplayName\", s.\"ResultType\", s.\"RiskLevelDuringSignIn\", s.\"RiskState\", d.name, d.risk_level
             FROM \"SigninLogs\" s
             LEFT JOIN (SELECT r.name, r.risk_level, j.value AS id FROM risk_detections r, json_each(r.record_ids) j WHERE r.tenant = ?1) d ON d.id = s.\"Id\"
             WHERE s.\"{}\" = ?1 AND s.\"TimeGenerated\" >= ?2 AND s.\"TimeGenerated\" <= ?3
               AND (d.id IS NOT NULL OR s.\"RiskLevelDuringSignIn\" IN ('low', 'medium', 'high'))
             ORDER BY s.\"TimeGenerated\" DESC, s.\"Id\"",
            embedded::tenant_column(Category::SignInLogs)
        );
        let rank = |l: &str| {
            ["none", "low", "medium", "high"]
                .iter()
                .position(|x| *x == l)
                .unwrap_or(0)
        };
        let mut out: Vec<Vec<Value>> = Vec::new();
        let mut last_id = Value::Null;
        for r in self.query_rows(&sql, &[Text(tenant.into()), Text(t(from)), Text(t(to))])? {
            if r[0] != last_id {
                last_id = r[0].clone();
                let microsoft = r[7].as_str().filter(|l| rank(l) > 0);
                out.push(vec![
                    r[0].clone(),
                    r[1].clone(),
                    r[2].clone(),
                    r[3].clone(),
                    r[4].clone(),
                    r[5].clone(),
                    r[6].clone(),
                    json!(microsoft.unwrap_or("none")),
                    json!(microsoft),
                    r[8].clone(),
                    json!(if microsoft.is_some() {
                        vec!["Microsoft"]
                    } else {
                        vec![]
                    }),
                    json!([]),
                ]);
            }
            let (Some(row), Some(name), Some(level)) =
                (out.last_mut(), r[9].as_str(), r[10].as_str())
            else {
                continue;
            };
            if rank(level) > rank(row[7].as_str().unwrap_or("none")) {
                row[7] = json!(level);
            }
            if let Some(sources) = row[10].as_array_mut()
                && !sources.contains(&json!(crate::detect::SOURCE))
            {
                sources.insert(0, json!(crate::detect::SOURCE));
            }
            if let Some(found) = row[11].as_array_mut() {
                found.push(json!({ "name": name, "risk_level": level }));
            }
        }
        Ok(out)
    }

    /// A user's object id, from what was collected: Microsoft's risky-user record, else the
    /// newest sign-in.
    pub fn user_object_id(&self, tenant: &str, upn: &str) -> Result<Option<String>, StateError> {
        use rusqlite::types::Value::Text;
        let (tenant, upn) = (Text(tenant.into()), Text(upn.to_ascii_lowercase()));
        let risky = format!(
            "SELECT \"Id\" FROM \"AADRiskyUsers\" WHERE \"{}\" = ?1 AND lower(\"UserPrincipalName\") = ?2 AND coalesce(\"SourceSystem\", '') != ?3 LIMIT 1",
            embedded::tenant_column(Category::RiskyUsers)
        );
        let signed_in = format!(
            "SELECT \"UserId\" FROM \"SigninLogs\" WHERE \"{}\" = ?1 AND lower(\"UserPrincipalName\") = ?2 AND \"UserId\" != '' ORDER BY \"TimeGenerated\" DESC LIMIT 1",
            embedded::tenant_column(Category::SignInLogs)
        );
        for rows in [
            self.query_rows(
                &risky,
                &[
                    tenant.clone(),
                    upn.clone(),
                    Text(crate::detect::SOURCE.into()),
                ],
            )?,
            self.query_rows(&signed_in, &[tenant, upn])?,
        ] {
            if let Some(id) = rows.first().and_then(|r| r[0].as_str()) {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    }

    /// Microsoft's risk detections (the collected `AADUserRiskEvents`, not the rows of ours
    /// routed there) in the columns of [`SqliteState::risk_detections`], source `Microsoft`.
    pub fn microsoft_detections(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use serde_json::{Value, json};
        Ok(self
            .embedded_rows(tenant, Category::UserRiskEvents, from, to)?
            .into_iter()
            .filter(|m| m.get("Source").and_then(|s| s.as_str()) != Some(crate::detect::SOURCE))
            .map(|m| {
                let get = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
                vec![
                    json!("Microsoft"),
                    get("RiskEventType"),
                    get("RiskLevel"),
                    get("UserPrincipalName"),
                    get("IpAddress"),
                    get("TimeGenerated"),
                    get("TimeGenerated"),
                    get("RiskDetail"),
                    json!([get("Id")]),
                    get("RiskState"),
                ]
            })
            .collect())
    }

    /// A category's embedded rows of a tenant in `[from, to]`, as column → value maps.
    pub fn embedded_rows(
        &self,
        tenant: &str,
        category: Category,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StateError> {
        let mut out = Vec::new();
        self.each_embedded_row(tenant, category, (from, to), &mut |r| out.push(r))?;
        Ok(out)
    }

    /// Hands each of a tenant's rows of a category in `[from, to]` to `each`, in time order,
    /// one at a time (a day of a large tenant's sign-ins does not fit in memory as maps).
    pub fn each_embedded_row(
        &self,
        tenant: &str,
        category: Category,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        each: &mut dyn FnMut(serde_json::Map<String, serde_json::Value>),
    ) -> Result<(), StateError> {
        use rusqlite::types::ValueRef;
        let cols: Vec<&str> = crate::model::tables::columns(category)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let sql = format!(
            "SELECT {} FROM \"{}\" WHERE \"{}\" = ?1 AND \"TimeGenerated\" >= ?2 AND \"TimeGenerated\" <= ?3 ORDER BY \"TimeGenerated\"",
            cols.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            category.table(),
            embedded::tenant_column(category)
        );
        let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![tenant, t(from), t(to)])?;
        while let Some(r) = rows.next()? {
            let mut row = serde_json::Map::new();
            for (i, c) in cols.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(v) => serde_json::json!(v),
                    ValueRef::Real(v) => serde_json::json!(v),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        serde_json::Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                };
                row.insert((*c).to_string(), v);
            }
            each(row);
        }
        Ok(())
    }

    /// The earliest event time stored for a tenant's category.
    pub fn earliest(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<DateTime<Utc>>, StateError> {
        let t: Option<String> = self.conn().query_row(
            &format!(
                "SELECT MIN(\"TimeGenerated\") FROM \"{}\" WHERE \"{}\" = ?1",
                category.table(),
                embedded::tenant_column(category)
            ),
            params![tenant],
            |r| r.get(0),
        )?;
        Ok(t.and_then(|t| parse_time(&t).ok()))
    }

    /// How many rows a category's embedded table holds for a tenant.
    pub fn embedded_count(&self, tenant: &str, category: Category) -> Result<i64, StateError> {
        Ok(self.conn().query_row(
            &format!(
                "SELECT COUNT(*) FROM \"{}\" WHERE \"{}\" = ?1",
                category.table(),
                embedded::tenant_column(category)
            ),
            params![tenant],
            |r| r.get(0),
        )?)
    }

    /// Runs a query of the query endpoints on the embedded store, values bound as parameters;
    /// answers rows of JSON values (integers, reals, text; null).
    pub fn query_rows(
        &self,
        sql: &str,
        params: &[rusqlite::types::Value],
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows_bounded(sql, params, usize::MAX)
    }

    /// [`Self::query_rows`], refusing (before more is built) an answer of more than
    /// `max_cells` values (rows × columns).
    pub fn query_rows_bounded(
        &self,
        sql: &str,
        params: &[rusqlite::types::Value],
        max_cells: usize,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use rusqlite::types::ValueRef;
        use serde_json::json;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let max_rows = max_cells / n.max(1);
        let mut count = 0usize;
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(v) => json!(v),
                        ValueRef::Real(v) => json!(v),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            json!(String::from_utf8_lossy(t))
                        }
                    })
                })
                .collect()
        })?;
        let mut out = Vec::new();
        for row in rows {
            count += 1;
            if count > max_rows {
                return Err(StateError::AnswerTooLarge(max_cells));
            }
            out.push(row?);
        }
        Ok(out)
    }

    /// Keeps a record that could not be normalised, with the reason, so nothing is lost.
    pub fn reject(
        &self,
        tenant: &str,
        category: Category,
        reason: &str,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO rejected_records (tenant, category, seen_at, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, category.name(), now.to_rfc3339(), reason, raw],
        )?;
        Ok(())
    }

    /// Records how a collection run of one category ended.
    pub fn finish_run(
        &self,
        tenant: &str,
        category: Category,
        run: &RunFigures,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(to) = run.completed_to {
            advance_watermark(&tx, tenant, category, to)?;
        }
        tx.execute(
            "INSERT INTO checkpoints (tenant, category) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![tenant, category.name()],
        )?;
        tx.execute(
            "UPDATE checkpoints SET last_run_at = ?3, window_from = ?4, window_to = ?5, records_last_run = ?6, new_last_run = ?7,
                requests_last_run = ?8, throttled_last_run = ?9, rejected_total = rejected_total + ?10, drift_total = drift_total + ?11,
                last_error = ?12, paused_until = ?13, since = COALESCE(since, ?4)
             WHERE tenant = ?1 AND category = ?2",
            params![
                tenant,
                category.name(),
                run.at.to_rfc3339(),
                run.window_from.map(|t| t.to_rfc3339()),
                run.window_to.map(|t| t.to_rfc3339()),
                run.records,
                run.new,
                run.requests,
                run.throttled,
                run.rejected,
                run.drift,
                run.error,
                run.paused_until.map(|t| t.to_rfc3339()),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The ids stored for a tenant and category.
    pub fn record_ids(&self, tenant: &str, category: Category) -> Result<Vec<String>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM seen WHERE tenant = ?1 AND category = ?2 ORDER BY id")?;
        let ids = stmt.query_map(params![tenant, category.name()], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// How many records are stored, per tenant and category.
    pub fn record_counts_all(&self) -> Result<BTreeMap<(String, String), i64>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT tenant, category, COUNT(*) FROM seen GROUP BY tenant, category")?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many records are stored, per category, for a tenant.
    pub fn record_counts(&self, tenant: &str) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT category, COUNT(*) FROM seen WHERE tenant = ?1 GROUP BY category")?;
        let rows = stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
            let args = params![
                tenant,
                ledger,
                r.id,
                r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                digest,
                now
            ];
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
    let to = to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(function: &str, minute: u32, outcome: Outcome) -> RunRecord {
        let started_at = Utc.with_ymd_and_hms(2026, 11, 27, 10, minute, 0).unwrap();
        RunRecord {
            function: function.into(),
            invocation_id: format!("inv-{minute}"),
            host: "local".into(),
            started_at,
            finished_at: started_at + chrono::Duration::milliseconds(250),
            duration_ms: 250,
            outcome,
            detail: "did things".into(),
            past_due: false,
        }
    }

    /// A store made before a table gained a column opens: the column is added, the rows
    /// stored before keep theirs, and new rows fill it.
    #[test]
    fn a_store_of_an_earlier_version_gains_the_new_columns_and_keeps_its_rows() {
        let dir = std::env::temp_dir().join(format!("entra-state-columns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        let row = |id: &str, session: &str| {
            let record = serde_json::json!({
                "id": id, "createdDateTime": "2026-11-27T09:00:00Z", "userPrincipalName": "a@b.c",
                "sessionId": session, "status": { "errorCode": 0 }
            });
            let r = crate::model::rows::normalise(Category::SignInLogs, "t1", &record).unwrap();
            StoredRow {
                id: r.id,
                time: r.time,
                columns: r.columns,
                raw: record,
            }
        };
        let path = {
            let store = SqliteState::open(&dir).unwrap();
            store
                .store_page(
                    "t1",
                    Category::SignInLogs,
                    &[row("old", "s1")],
                    &PageRouting::embedded_only(),
                    None,
                    at,
                    at,
                )
                .unwrap();
            store.path().to_path_buf()
        };
        // What an earlier version's table looked like: without the column.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("ALTER TABLE SigninLogs DROP COLUMN SessionId")
            .unwrap();
        let store = SqliteState::open(&dir).unwrap();
        store
            .store_page(
                "t1",
                Category::SignInLogs,
                &[row("new", "s2")],
                &PageRouting::embedded_only(),
                None,
                at,
                at,
            )
            .unwrap();
        let rows = store
            .embedded_rows(
                "t1",
                Category::SignInLogs,
                at - chrono::Duration::days(1),
                at,
            )
            .unwrap();
        let mut sessions: Vec<(String, serde_json::Value)> = rows
            .iter()
            .map(|r| {
                (
                    r["Id"].as_str().unwrap().to_string(),
                    r["SessionId"].clone(),
                )
            })
            .collect();
        sessions.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            sessions,
            [
                ("new".to_string(), serde_json::json!("s2")),
                ("old".to_string(), serde_json::Value::Null)
            ]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A long read (a question over millions of rows) does not hold up a write (a collection
    /// run's page): it reads on its own connection. With one connection behind a lock, the
    /// write could only finish after the read (issue 19: a collection run went from 0.15 s to
    /// 16 s behind one expensive question).
    #[test]
    fn a_long_read_does_not_hold_up_a_write() {
        let dir = std::env::temp_dir().join(format!("entra-state-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(SqliteState::open(&dir).unwrap());
        store
            .record_run(&run("collect-audit", 1, Outcome::Succeeded))
            .unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let order = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (store, order) = (store.clone(), order.clone());
            std::thread::spawn(move || {
                started_tx.send(()).unwrap();
                // Tens of millions of rows counted: seconds of work for SQLite.
                let n = store
                    .query_rows(
                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT COUNT(*) FROM c",
                        &[],
                    )
                    .unwrap();
                order.lock().unwrap().push("read");
                n
            })
        };
        started_rx.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        store
            .record_run(&run("collect-audit", 2, Outcome::Succeeded))
            .unwrap();
        order.lock().unwrap().push("write");
        let n = reader.join().unwrap();
        assert_eq!(n[0][0], serde_json::json!(30_000_000));
        assert_eq!(*order.lock().unwrap(), ["write", "read"]);
        assert_eq!(
            store.last_runs().unwrap()["collect-audit"].invocation_id,
            "inv-2"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_latest_run_of_each_function_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("entra-state-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = SqliteState::open(&dir).unwrap();
            s.record_run(&run("a", 1, Outcome::Succeeded)).unwrap();
            s.record_run(&run("a", 2, Outcome::Failed)).unwrap();
            s.record_run(&run("b", 3, Outcome::Skipped)).unwrap();
        }
        let s = SqliteState::open(&dir).unwrap();
        let last = s.last_runs().unwrap();
        assert_eq!(last.len(), 2);
        assert_eq!(last["a"], run("a", 2, Outcome::Failed));
        assert_eq!(last["b"].outcome, Outcome::Skipped);
        // The WAL is checkpointed at 64 MiB (16,384 pages of 4 KiB).
        let pragma = |name: &str| {
            s.conn()
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(pragma("page_size"), 4096);
        assert_eq!(pragma("wal_autocheckpoint"), 16384);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_corrupt_database_file_is_named_with_what_to_do() {
        let dir = std::env::temp_dir().join(format!("entra-state-corrupt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("state.sqlite"), vec![b'x'; 4096]).unwrap();
        let e = SqliteState::open(&dir).unwrap_err().to_string();
        assert!(
            e.contains("state.sqlite is unusable") && e.contains("move the file aside"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
