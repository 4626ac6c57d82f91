//! Importing logs from files into the embedded store, for offline investigation: Graph
//! exports, diagnostic-settings archives (Storage's `insights-logs-*` blobs, Event Hubs
//! messages) and Log Analytics exports, recognised per record without being told.
//!
//! Records go through the same normalisation as collected ones and into the same ledger, so a
//! record imported twice — or imported after being collected — is a duplicate, and a later
//! version of a record replaces the earlier one. Nothing is routed to external destinations
//! (the files came from them). One bad record is reported with its line and skipped.

pub mod classify;
pub mod read;

use crate::model::Category;
use crate::state::{SqliteState, StateError, StoredRow};
use chrono::{DateTime, Utc};
use classify::{Refusal, classify};
use read::{Input, Layout};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The formats records come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Microsoft Graph records (signIn, directoryAudit, provisioningObjectSummary,
    /// riskDetection, riskyUser), alone or in `{"value":[...]}` pages.
    Graph,
    /// Diagnostic-settings records: the Graph record in `properties`, with `category`,
    /// `tenantId`, `time`.
    DiagnosticSettings,
    /// Rows of the Entra tables of Log Analytics (`SigninLogs`, `AuditLogs`, ...).
    LogAnalytics,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Graph => "graph",
            Format::DiagnosticSettings => "diagnostic-settings",
            Format::LogAnalytics => "log-analytics",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Format::Graph,
            Format::DiagnosticSettings,
            Format::LogAnalytics,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            format!(
                "unknown format \"{}\"; expected graph, diagnostic-settings or log-analytics",
                s.trim()
            )
        })
    }
}

/// What the command line says about the records.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The tenant of records that do not carry one (Graph records never do).
    pub tenant: Option<String>,
    /// Every record is of this format (otherwise recognised per record).
    pub format: Option<Format>,
    /// Every record is of this category (otherwise read from the record).
    pub category: Option<Category>,
}

/// Records stored per transaction.
const BATCH: usize = 2_000;
/// Rejections listed per file (all are counted).
pub const LISTED: usize = 5;

/// What happened to one category's records of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub new: u64,
    /// Later versions of records already stored (same id, different content).
    pub updated: u64,
    /// Records already stored exactly so.
    pub duplicates: u64,
    /// Records followed, in the same batch of the file, by another version of themselves
    /// (same id): the last one is stored.
    pub superseded: u64,
}

/// One file's import.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub name: String,
    pub layout: Option<&'static str>,
    pub formats: BTreeSet<&'static str>,
    pub categories: BTreeMap<Category, Counts>,
    /// The first few rejected records: line and reason.
    pub rejected: Vec<(usize, String)>,
    pub rejected_total: u64,
    /// Why the file (or the rest of it) could not be read; or why it is no known format.
    pub error: Option<String>,
    /// The error is the caller's to fix with an option (`--tenant`, `--category`).
    pub needs_option: bool,
    pub bytes: u64,
}

impl FileReport {
    pub fn records(&self) -> u64 {
        self.categories.values().map(|c| c.read).sum()
    }
    pub fn clean(&self) -> bool {
        self.rejected_total == 0 && self.error.is_none()
    }
}

/// The time span imported per tenant and category (new or updated records only), for the
/// detections to run over.
pub type Spans = BTreeMap<(String, Category), (DateTime<Utc>, DateTime<Utc>)>;

/// Progress so far, for a progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub records: u64,
    pub bytes: u64,
}

/// Imports files into one store.
pub struct Importer<'a> {
    store: &'a SqliteState,
    options: Options,
    now: DateTime<Utc>,
    pending: BTreeMap<(String, Category), Vec<StoredRow>>,
    pending_count: usize,
    pub spans: Spans,
    records_done: u64,
    /// Categories met so far, and whether any table's indexes wait to be built.
    met: std::collections::BTreeSet<Category>,
    indexes_dropped: bool,
}

impl<'a> Importer<'a> {
    pub fn new(store: &'a SqliteState, options: Options, now: DateTime<Utc>) -> Self {
        Self {
            store,
            options,
            now,
            pending: BTreeMap::new(),
            pending_count: 0,
            spans: Spans::new(),
            records_done: 0,
            met: Default::default(),
            indexes_dropped: false,
        }
    }

    /// Whether [`Self::finish`] has indexes to build.
    pub fn indexes_pending(&self) -> bool {
        self.indexes_dropped
    }

    /// Builds the indexes of the tables that were empty when the import began (their rows
    /// were written without them: see `SqliteState::begin_bulk_load`). Call once every file
    /// is imported, before anything reads the tables; answers whether there were any.
    pub fn finish(&mut self) -> Result<bool, StateError> {
        if !std::mem::take(&mut self.indexes_dropped) {
            return Ok(false);
        }
        self.store.build_indexes()?;
        Ok(true)
    }

    /// Imports one input; `progress` is called as records are stored. Only the state store
    /// failing is an error: anything wrong with the file is in the report.
    pub fn import(
        &mut self,
        input: &Input,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<FileReport, StateError> {
        let mut report = FileReport {
            name: input.name(),
            ..FileReport::default()
        };
        let bytes = Arc::new(AtomicU64::new(0));
        let mut reader = match read::open(input, bytes.clone()) {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(format!("cannot open: {e}"));
                return Ok(report);
            }
        };
        let mut failure: Option<StateError> = None;
        let mut stop = false;
        let outcome = read::records(&mut reader, &mut |(line, item)| {
            if stop {
                return;
            }
            let refusal = match item {
                Err(reason) => Refusal::Record(reason),
                Ok(record) => match classify(record, &self.options) {
                    Ok(c) => {
                        report.formats.insert(c.format.name());
                        report.categories.entry(c.category).or_default().read += 1;
                        self.pending
                            .entry((c.tenant, c.category))
                            .or_default()
                            .push(c.row);
                        self.pending_count += 1;
                        if self.pending_count >= BATCH {
                            if let Err(e) = self.flush(&mut report) {
                                failure = Some(e);
                                stop = true;
                            }
                            progress(Progress {
                                records: self.records_done,
                                bytes: bytes.load(Ordering::Relaxed),
                            });
                        }
                        return;
                    }
                    Err(r) => r,
                },
            };
            match refusal {
                Refusal::Record(reason) => {
                    report.rejected_total += 1;
                    if report.rejected.len() < LISTED {
                        report.rejected.push((line, reason));
                    }
                }
                Refusal::NeedsOption(reason) => {
                    report.error = Some(format!("line {line}: {reason}"));
                    report.needs_option = true;
                    stop = true;
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        self.flush(&mut report)?;
        report.bytes = bytes.load(Ordering::Relaxed);
        progress(Progress {
            records: self.records_done,
            bytes: report.bytes,
        });
        match outcome {
            Ok(layout) => {
                report.layout = Some(layout.describe());
                if layout == Layout::Empty {
                    report.error = Some("the file is empty".into());
                } else if report.error.is_none()
                    && report.records() == 0
                    && let Some((line, reason)) = report.rejected.first()
                {
                    report.error = Some(format!(
                        "not a format this imports (no record recognised; line {line}: {reason})"
                    ));
                }
            }
            Err(e) => {
                if report.error.is_none() {
                    report.error = Some(e);
                }
            }
        }
        Ok(report)
    }

    /// Stores what is pending, one transaction per tenant and category.
    fn flush(&mut self, report: &mut FileReport) -> Result<(), StateError> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_count = 0;
        for ((tenant, category), rows) in pending {
            // The last version of a record in the batch is the one stored.
            let read = rows.len();
            let mut ids = std::collections::HashSet::new();
            let mut rows: Vec<StoredRow> = rows
                .into_iter()
                .rev()
                .filter(|r| ids.insert(r.id.clone()))
                .collect();
            rows.reverse();
            if self.met.insert(category) && self.store.begin_bulk_load(category)? {
                self.indexes_dropped = true;
            }
            let write = self
                .store
                .store_imported(&tenant, category, &rows, self.now)?;
            let counts = report.categories.entry(category).or_default();
            counts.new += write.new as u64;
            counts.updated += write.updated as u64;
            counts.duplicates += rows.len() as u64 - (write.new + write.updated) as u64;
            counts.superseded += (read - rows.len()) as u64;
            self.records_done += read as u64;
            if write.new + write.updated > 0 {
                let (lo, hi) = rows
                    .iter()
                    .fold((rows[0].time, rows[0].time), |(lo, hi), r| {
                        (lo.min(r.time), hi.max(r.time))
                    });
                self.spans
                    .entry((tenant, category))
                    .and_modify(|s| *s = (s.0.min(lo), s.1.max(hi)))
                    .or_insert((lo, hi));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const T: &str = "11111111-2222-3333-4444-555555555555";

    fn sign_in(id: &str, user: &str) -> String {
        format!(
            "{{\"time\":\"2026-11-27T10:00:00Z\",\"category\":\"SignInLogs\",\"tenantId\":\"{T}\",\"properties\":{{\"id\":\"{id}\",\"createdDateTime\":\"2026-11-27T10:00:00Z\",\"userPrincipalName\":\"{user}\",\"userId\":\"u\",\"status\":{{\"errorCode\":0}}}}}}"
        )
    }

    #[test]
    fn a_second_import_of_the_same_file_adds_nothing_and_a_later_version_replaces() {
        let dir = std::env::temp_dir().join(format!("import-unit-{}", fastrand::u64(..)));
        let store = SqliteState::open(&dir).unwrap();
        let file = dir.join("a.json");
        let mut f = std::fs::File::create(&file).unwrap();
        writeln!(f, "{}", sign_in("1", "a@x.com")).unwrap();
        writeln!(f, "{}", sign_in("2", "b@x.com")).unwrap();
        writeln!(f, "{}", sign_in("2", "c@x.com")).unwrap();
        drop(f);
        let mut importer = Importer::new(&store, Options::default(), Utc::now());
        let input = Input::File(file);
        let first = importer.import(&input, &mut |_| {}).unwrap();
        let c = &first.categories[&Category::SignInLogs];
        assert_eq!(
            (c.read, c.new, c.updated, c.duplicates, c.superseded),
            (3, 2, 0, 0, 1)
        );
        let again = importer.import(&input, &mut |_| {}).unwrap();
        let c = &again.categories[&Category::SignInLogs];
        assert_eq!(
            (c.read, c.new, c.updated, c.duplicates, c.superseded),
            (3, 0, 0, 2, 1)
        );
        assert_eq!(store.embedded_count(T, Category::SignInLogs).unwrap(), 2);
        assert!(first.clean());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_import_into_empty_tables_builds_their_indexes_when_it_finishes() {
        let dir = std::env::temp_dir().join(format!("import-unit-{}", fastrand::u64(..)));
        let store = SqliteState::open(&dir).unwrap();
        let indexes = || {
            store
                .query_rows(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'SigninLogs' AND sql IS NOT NULL",
                    &[],
                )
                .unwrap()[0][0]
                .as_i64()
                .unwrap()
        };
        let all = indexes();
        assert!(all > 0);
        let file = dir.join("a.json");
        std::fs::write(&file, format!("{}\n", sign_in("1", "a@x.com"))).unwrap();
        let mut importer = Importer::new(&store, Options::default(), Utc::now());
        importer
            .import(&Input::File(file.clone()), &mut |_| {})
            .unwrap();
        assert!(importer.indexes_pending());
        assert_eq!(indexes(), 0, "rows first");
        assert!(importer.finish().unwrap());
        assert_eq!(indexes(), all);
        // Into a table with rows, the indexes stay.
        std::fs::write(&file, format!("{}\n", sign_in("2", "b@x.com"))).unwrap();
        let mut importer = Importer::new(&store, Options::default(), Utc::now());
        importer.import(&Input::File(file), &mut |_| {}).unwrap();
        assert!(!importer.indexes_pending());
        assert_eq!(indexes(), all);
        assert!(!importer.finish().unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }
}
