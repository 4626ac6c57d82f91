//! Durable state behind a small interface: what the functions must remember between runs.
//!
//! Locally (and by default everywhere) it is a SQLite file in the data directory, created on
//! first use. It holds the run history of timer functions, collection checkpoints, the ledger of
//! records seen, the embedded store's tables ([`embedded`]), the outbox of batches for external
//! destinations and their health figures.

pub mod durable;
pub mod embedded;
pub mod filesystem;
pub mod lease;
pub mod migrations;
pub mod objects;
pub mod s3;
pub mod settings;
mod sqlite;

pub use sqlite::{
    AlertClaim, EvaluationChanges, InventoryChanges, ResourceFilter, SqliteState, StateChange,
    StoredAlert,
};

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
        "the data directory {path} is on a network file system ({fstype}): SQLite's WAL mode and locking do not work there and the store would be corrupted; set ENTRA_MONITOR_DATA_DIR to local disk (e.g. /tmp/entra-monitor; on Azure's Consumption and Premium plans $HOME is an Azure Files share)"
    )]
    NetworkFileSystem { path: String, fstype: String },
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

// What a state backend offers, one interface per concern. The SQLite backend implements them
// all; a backend for the cloud (Azure Storage, S3) implements them on its own services. The
// embedded tables (rows, the ledger, the questions' reads) are SQLite's own (`SqliteState`).

/// The run history of the timer functions.
pub trait Runs: Send + Sync {
    /// Appends one run to the history.
    fn record_run(&self, run: &RunRecord) -> Result<(), StateError>;
    /// The latest run of each function, by function name.
    fn last_runs(&self) -> Result<BTreeMap<String, RunRecord>, StateError>;
}

/// Where collection stands per tenant and category.
pub trait Checkpoints: Send + Sync {
    /// The category's checkpoint for a tenant, if it was ever collected.
    fn checkpoint(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<Checkpoint>, StateError>;
    /// Every checkpoint.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StateError>;
    /// Keeps a record that is not one, with its reason.
    fn reject(
        &self,
        tenant: &str,
        category: Category,
        reason: &str,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError>;
    /// Records a run's figures, its error and how far it read.
    fn finish_run(
        &self,
        tenant: &str,
        category: Category,
        run: &RunFigures,
    ) -> Result<(), StateError>;
}

/// The batches waiting for the external destinations, and the destinations' health.
pub trait Outbox: Send + Sync {
    /// Batches after `after_seq`, oldest first.
    fn outbox(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxEntry>, StateError>;
    /// A batch delivered (or spooled): it leaves the outbox.
    fn outbox_done(&self, seq: i64) -> Result<(), StateError>;
    /// Batches waiting, per destination.
    fn outbox_counts(&self) -> Result<BTreeMap<String, i64>, StateError>;
    /// Adds a delivery's figures to a destination's health.
    fn note_destination(
        &self,
        destination: Destination,
        d: &DestinationDelta,
        now: DateTime<Utc>,
    ) -> Result<(), StateError>;
    /// Every destination's health figures.
    fn destination_health(&self) -> Result<Vec<DestinationHealth>, StateError>;
}

/// Our risk detections, the alerts sent for them and the actions taken on risky users.
pub trait RiskStore: Send + Sync {
    /// Stores detections (a key already stored is kept) and the documents that go with them,
    /// together. Returns the keys that were new.
    fn store_detections(
        &self,
        tenant: &str,
        detections: &[crate::detect::Detection],
        documents: &[(&str, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StateError>;
    /// Our detections first seen in a range, newest first, as answer rows.
    fn risk_detections(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError>;
    /// Claims the right to alert once for `key`, within `max` alerts since `since`.
    fn claim_alert(
        &self,
        tenant: &str,
        key: &str,
        since: DateTime<Utc>,
        max: usize,
        now: DateTime<Utc>,
    ) -> Result<AlertClaim, StateError>;
    /// Gives a claim back (its alert could not be sent).
    fn release_alert(&self, tenant: &str, key: &str) -> Result<(), StateError>;
    /// Records who did what to a user's risk, when and why.
    fn record_risk_action(
        &self,
        tenant: &str,
        user: &str,
        action: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StateError>;
    /// The actions taken on the tenant's risky users, as rows.
    fn risk_actions(&self, tenant: &str) -> Result<Vec<Vec<serde_json::Value>>, StateError>;
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
