//! Durable state behind a small interface: what the functions must remember between runs.
//!
//! Locally (and by default everywhere) it is a SQLite file in the data directory, created on
//! first use. Today it holds the run history of timer functions; checkpoints, seen ids and
//! profiles join it as the features that need them land.

mod sqlite;

pub use sqlite::SqliteState;

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Not run because the previous run of the same function was still going.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Outcome::Succeeded),
            "failed" => Some(Outcome::Failed),
            "skipped" => Some(Outcome::Skipped),
            _ => None,
        }
    }
}

/// One run of a timer function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub function: String,
    pub invocation_id: String,
    /// Which host ran it: `local`, `azure`, `lambda`.
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub outcome: Outcome,
    /// What the run did, or why it failed.
    pub detail: String,
    /// The trigger fired later than scheduled (Azure's `IsPastDue`).
    pub past_due: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "cannot create the data directory {path}: {source}; set ENTRA_MONITOR_DATA_DIR to a writable folder"
    )]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the state database {path} is unusable: {source}; move the file aside (a new one is created) or set ENTRA_MONITOR_DATA_DIR"
    )]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the state database holds a run with unknown outcome \"{0}\"")]
    Corrupt(String),
}

/// A normalised row ready to store.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub id: String,
    pub time: DateTime<Utc>,
    /// The table-shaped row, as JSON text.
    pub row: String,
    /// The record as Graph sent it, as JSON text.
    pub raw: String,
}

/// What storing a page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageWrite {
    pub new: i64,
    pub updated: i64,
}

/// The figures of one collection run of one category.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub at: DateTime<Utc>,
    pub window_from: Option<DateTime<Utc>>,
    pub window_to: Option<DateTime<Utc>>,
    /// Set when the whole window was read: the watermark moves to it.
    pub completed_to: Option<DateTime<Utc>>,
    pub records: i64,
    pub new: i64,
    pub requests: i64,
    pub throttled: i64,
    pub rejected: i64,
    pub drift: i64,
    pub error: Option<String>,
    pub paused_until: Option<DateTime<Utc>>,
}

/// Where collection stands for one tenant and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    pub tenant: String,
    pub category: String,
    /// Records up to here are stored (later arrivals are caught by the overlap).
    pub watermark: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub window_from: Option<DateTime<Utc>>,
    pub window_to: Option<DateTime<Utc>>,
    pub records_last_run: i64,
    pub new_last_run: i64,
    pub requests_last_run: i64,
    pub throttled_last_run: i64,
    pub rejected_total: i64,
    pub drift_total: i64,
    pub last_error: Option<String>,
    pub paused_until: Option<DateTime<Utc>>,
    /// Where collection began (the first run's window start); re-reads never go before it.
    pub since: Option<DateTime<Utc>>,
}

/// What every state backend offers.
pub trait StateStore: Send + Sync {
    /// Appends one run to the history.
    fn record_run(&self, run: &RunRecord) -> Result<(), StateError>;
    /// The latest run of each function, by function name.
    fn last_runs(&self) -> Result<BTreeMap<String, RunRecord>, StateError>;
}
