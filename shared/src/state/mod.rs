//! Durable state behind a small interface: what the functions must remember between runs.
//!
//! Locally (and by default everywhere) it is a SQLite file in the data directory, created on
//! first use. It holds the run history of timer functions, collection checkpoints, the ledger of
//! records seen, the embedded store's tables ([`embedded`]), the outbox of batches for external
//! destinations and their health figures.

pub mod embedded;
pub mod migrations;
mod sqlite;

pub use sqlite::{AlertClaim, SqliteState};

use crate::model::{Category, Destination};

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
        "the data directory {path} is read-only ({source}): the state database must be written; give this process write access to it or set ENTRA_MONITOR_DATA_DIR to a writable folder (on AWS Lambda, under /tmp)"
    )]
    ReadOnly {
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
    #[error("the state database {path} cannot be brought to this release's schema: {message}")]
    Migrate { path: String, message: String },
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the state database holds a run with unknown outcome \"{0}\"")]
    Corrupt(String),
    #[error(
        "the answer would hold more than {0} values (rows × columns); narrow the range or add a filter"
    )]
    AnswerTooLarge(usize),
}

/// Whether an I/O error says the file system or the folder refuses writes.
pub fn is_read_only(e: &std::io::Error) -> bool {
    // EROFS (30 on Linux and macOS): a read-only file system, such as Lambda's outside /tmp.
    e.kind() == std::io::ErrorKind::PermissionDenied
        || e.kind() == std::io::ErrorKind::ReadOnlyFilesystem
        || e.raw_os_error() == Some(30)
}

/// A normalised row ready to store.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub id: String,
    pub time: DateTime<Utc>,
    /// The table-shaped row.
    pub columns: serde_json::Map<String, serde_json::Value>,
    /// The record as Graph sent it.
    pub raw: serde_json::Value,
}

impl StoredRow {
    /// What recognises a record read again unchanged: a hash of the record as Graph sent it.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        // The record's compact JSON text, hashed in one piece: serde_json writes a record in
        // hundreds of small fragments, and feeding each to the hash on its own cost as much
        // as the hash itself (bench section 3's store writer spent a third of its time here).
        let mut text = Vec::with_capacity(4096);
        let _ = serde_json::to_writer(&mut text, &self.raw);
        let hash = sha2::Sha256::digest(&text);
        let mut out = String::with_capacity(32);
        for b in hash.iter().take(16) {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// A batch for one external destination, built from a page's new and changed rows.
#[derive(Debug, Clone)]
pub struct OutboxBatch {
    pub destination: Destination,
    pub records: usize,
    /// The batch's items as JSON text.
    pub items: String,
}

/// Where a page's new and changed rows go.
pub struct PageRouting<'a> {
    /// Into the category's embedded table.
    pub embedded: bool,
    /// The outbox batches for external destinations.
    pub outbox: &'a (dyn Fn(&[&StoredRow]) -> Vec<OutboxBatch> + Sync),
}

impl PageRouting<'_> {
    /// Only the embedded store.
    pub fn embedded_only() -> PageRouting<'static> {
        PageRouting {
            embedded: true,
            outbox: &|_| Vec::new(),
        }
    }
}

/// A batch waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub seq: i64,
    pub batch_id: String,
    pub destination: Destination,
    pub tenant: String,
    pub category: Category,
    pub created: DateTime<Utc>,
    pub items: String,
}

/// What storing a page changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageWrite {
    pub new: i64,
    pub updated: i64,
    /// Outbox batches written.
    pub batches: i64,
}

/// What one delivery did to a destination, added to its health figures.
#[derive(Debug, Clone, Default)]
pub struct DestinationDelta {
    pub batches_sent: i64,
    pub records_sent: i64,
    pub bytes_sent: i64,
    pub spooled: i64,
    pub replayed: i64,
    pub dead_letters: i64,
    /// A batch was accepted: `last_success` becomes now.
    pub succeeded: bool,
    pub error: Option<String>,
}

/// A destination's health figures, since the state was created.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationHealth {
    pub destination: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub batches_sent: i64,
    pub records_sent: i64,
    pub bytes_sent: i64,
    pub spooled_total: i64,
    pub replayed_total: i64,
    pub dead_letters: i64,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger keeps digests across versions: a record read again after an upgrade must
    /// hash as before (the first 16 bytes of SHA-256 of its compact JSON text, in hex), or
    /// every record of the overlap would be routed again as changed.
    #[test]
    fn a_records_digest_is_sha256_of_its_compact_json() {
        let row = StoredRow {
            id: "1".into(),
            time: Utc::now(),
            columns: serde_json::Map::new(),
            raw: serde_json::json!({"b": ["x", {"c": null}], "a": 1}),
        };
        // sha256(b'{"a":1,"b":["x",{"c":null}]}'), computed outside Rust.
        assert_eq!(row.digest(), "ceec07bc1bf125a4255e37f55e4d546b");
    }

    /// A data folder on a read-only file system (Lambda outside /tmp) or without write access
    /// is named as such, with what to do; other failures keep their own message.
    #[test]
    fn a_read_only_data_folder_is_named_as_such() {
        let erofs = std::io::Error::from_raw_os_error(30);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(is_read_only(&erofs) && is_read_only(&denied));
        assert!(!is_read_only(&std::io::Error::from(
            std::io::ErrorKind::NotFound
        )));
        let e = StateError::ReadOnly {
            path: "/var/task/data".into(),
            source: erofs,
        };
        let text = e.to_string();
        assert!(
            text.contains("/var/task/data is read-only")
                && text.contains("ENTRA_MONITOR_DATA_DIR")
                && text.contains("/tmp"),
            "{text}"
        );
    }
}
