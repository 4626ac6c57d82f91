//! The SQLite state backend.

use super::{Outcome, RunRecord, StateError, StateStore};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// State in one SQLite file, `state.sqlite` in the data directory.
pub struct SqliteState {
    path: PathBuf,
    conn: Mutex<Connection>,
}

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
";

impl SqliteState {
    /// Opens (creating if needed) `state.sqlite` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StateError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
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
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
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
