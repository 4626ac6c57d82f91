//! Export records → hourly `PT1H.json` blobs (or files), one record per line.
//!
//! A batch written twice adds its lines once: to a Blob account each hour's part of a batch is
//! one block whose id is derived from its lines (record id and content), and a block already
//! committed is not committed again; commits are conditional on the blob's ETag, so concurrent
//! writers do not lose each other's lines. To a folder, lines the file already holds are
//! skipped. A record that changed (a risky user dismissed within the hour) is a new line, as
//! diagnostic settings write one per change.

use super::service::{BlobError, BlobService};
use super::target::StorageTarget;
use crate::destinations::{Batch, BoxFuture, Guarantee, RetryPolicy, SendError, Sent, Sink};
use crate::model::Category;
use crate::model::Destination;
use base64::Engine;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// One record to archive.
#[derive(Debug, Clone)]
pub struct ExportLine {
    pub id: String,
    pub time: DateTime<Utc>,
    /// The diagnostic-settings export record ([`crate::model::export::export_record`]).
    pub record: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} kept changing under concurrent writers; the batch will be retried")]
    Contended { path: String },
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub lines: usize,
    /// Lines already present (a retried batch).
    pub skipped: usize,
}

/// `insights-logs-<category, lower case>`.
pub fn container(category: Category) -> String {
    format!("insights-logs-{}", category.name().to_ascii_lowercase())
}

/// `tenantId=<id>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json` for the hour holding `time`.
pub fn blob_path(tenant_id: &str, time: DateTime<Utc>) -> String {
    format!(
        "tenantId={tenant_id}/y={:04}/m={:02}/d={:02}/h={:02}/m=00/PT1H.json",
        time.year(),
        time.month(),
        time.day(),
        time.hour()
    )
}

/// Where the archive is written.
pub enum Place {
    Folder(std::path::PathBuf),
    Blob(BlobService),
}

/// The diagnostic-settings archive, with its retries.
pub struct StorageSink {
    place: Place,
    retry: RetryPolicy,
}

impl StorageSink {
    pub fn new(target: StorageTarget) -> Result<Self, StorageError> {
        Ok(Self::at(match target {
            StorageTarget::Account {
                endpoint,
                account,
                key,
            } => Place::Blob(BlobService::new(&endpoint, &account, &key)?),
            StorageTarget::Folder(dir) => Place::Folder(dir),
        }))
    }

    pub fn at(place: Place) -> Self {
        Self {
            place,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How many block-list commits lost a race with another writer (and were retried).
    pub fn conflicts(&self) -> u64 {
        match &self.place {
            Place::Folder(_) => 0,
            Place::Blob(blob) => blob.conflicts(),
        }
    }

    /// Where the archive goes, for logs and health.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Folder(dir) => format!("folder {}", dir.display()),
            Place::Blob(blob) => format!("{blob:?}"),
        }
    }

    /// Archives `lines` of one tenant and category.
    pub async fn write(
        &self,
        category: Category,
        tenant_id: &str,
        lines: &[ExportLine],
    ) -> Result<Written, StorageError> {
        let mut by_hour: BTreeMap<String, Vec<&ExportLine>> = BTreeMap::new();
        for line in lines {
            by_hour
                .entry(blob_path(tenant_id, line.time))
                .or_default()
                .push(line);
        }
        let container = container(category);
        let mut total = Written::default();
        for (path, lines) in by_hour {
            let w = match &self.place {
                Place::Folder(dir) => write_file(&dir.join(&container).join(&path), &lines)?,
                Place::Blob(blob) => write_blob(blob, &container, &path, &lines).await?,
            };
            total.lines += w.lines;
            total.skipped += w.skipped;
        }
        Ok(total)
    }
}

fn encode(lines: &[&ExportLine]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.record.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

async fn write_blob(
    blob: &BlobService,
    container: &str,
    path: &str,
    lines: &[&ExportLine],
) -> Result<Written, StorageError> {
    let full = format!("{container}/{path}");
    // The block id names the batch by its lines (ids and content), so a retried batch finds
    // itself committed and a changed version of a record is written again.
    let body = encode(lines);
    let mut hash = Sha256::new();
    for l in lines {
        hash.update(l.id.as_bytes());
        hash.update(b"\n");
    }
    hash.update(&body);
    let digest = hash.finalize();
    let hex: String = digest.iter().take(24).map(|b| format!("{b:02x}")).collect();
    let block_id = base64::engine::general_purpose::STANDARD.encode(hex);
    for _ in 0..8 {
        let committed = match blob.committed_blocks(&full).await {
            Err(BlobError::Status { status: 404, .. }) => Default::default(),
            other => other?,
        };
        if committed.blocks.contains(&block_id) {
            return Ok(Written {
                lines: 0,
                skipped: lines.len(),
            });
        }
        if committed.etag.is_none() {
            blob.create_container(container).await?;
        }
        blob.put_block(&full, &block_id, body.clone()).await?;
        let mut list = committed.blocks.clone();
        list.push(block_id.clone());
        if blob.commit(&full, &list, committed.etag.as_deref()).await? {
            return Ok(Written {
                lines: lines.len(),
                skipped: 0,
            });
        }
    }
    Err(StorageError::Contended { path: full })
}

fn write_file(path: &std::path::Path, lines: &[&ExportLine]) -> Result<Written, StorageError> {
    let io = |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let present: BTreeSet<&str> = existing.lines().collect();
    // Each line's text once: compared with the file's lines, then written as it is.
    let mut fresh: Vec<String> = Vec::new();
    let mut written = BTreeSet::new();
    for l in lines {
        let text = l.record.to_string();
        if !present.contains(text.as_str()) && written.insert(text.clone()) {
            fresh.push(text);
        }
    }
    let skipped = lines.len() - fresh.len();
    if !fresh.is_empty() {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        // One write of whole lines: a reader never sees half a record from us.
        let mut body = fresh.join("\n");
        body.push('\n');
        file.write_all(body.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
    }
    Ok(Written {
        lines: fresh.len(),
        skipped,
    })
}

impl Sink for StorageSink {
    fn destination(&self) -> Destination {
        Destination::Storage
    }

    fn guarantee(&self) -> Guarantee {
        Guarantee::ExactlyOnce("block ids, record ids")
    }

    /// Writes the batch's lines to their hours' blobs, again after a failure (a conflict, a
    /// network error) with doubling pauses.
    fn send<'a>(
        &'a self,
        batch: &'a Batch,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Sent, SendError>> {
        Box::pin(async move {
            let lines: Vec<ExportLine> = batch
                .items
                .iter()
                .map(|i| ExportLine {
                    id: i.id.clone(),
                    time: i.time,
                    record: i.body.clone(),
                })
                .collect();
            let (written, calls) = crate::destinations::with_retries(self.retry, "Storage", || {
                self.write(batch.category, &batch.tenant, &lines)
            })
            .await?;
            Ok(Sent {
                calls,
                records: written.lines + written.skipped,
                bytes: lines.iter().map(|l| l.record.to_string().len() + 1).sum(),
                dead_letter: Vec::new(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn line(id: &str, hour: u32) -> ExportLine {
        let time = Utc.with_ymd_and_hms(2026, 11, 25, hour, 5, 0).unwrap();
        ExportLine {
            id: id.into(),
            time,
            record: json!({ "time": time.to_rfc3339(), "category": "AuditLogs", "properties": { "id": id } }),
        }
    }

    #[test]
    fn paths_follow_diagnostic_settings() {
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 7, 59, 59).unwrap();
        assert_eq!(
            blob_path("72f988bf-86f1-41af-91ab-2d7cd011db47", t),
            "tenantId=72f988bf-86f1-41af-91ab-2d7cd011db47/y=2026/m=01/d=05/h=07/m=00/PT1H.json"
        );
        assert_eq!(
            container(Category::NonInteractiveUserSignInLogs),
            "insights-logs-noninteractiveusersigninlogs"
        );
    }

    #[tokio::test]
    async fn a_folder_gets_the_layout_and_a_retried_batch_adds_nothing() {
        let dir = std::env::temp_dir().join(format!("entra-storage-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sink = StorageSink::new(StorageTarget::Folder(dir.clone())).unwrap();
        let batch = [line("a", 10), line("b", 10), line("c", 11)];
        let w = sink.write(Category::AuditLogs, "t1", &batch).await.unwrap();
        assert_eq!(
            w,
            Written {
                lines: 3,
                skipped: 0
            }
        );
        let again = sink.write(Category::AuditLogs, "t1", &batch).await.unwrap();
        assert_eq!(
            again,
            Written {
                lines: 0,
                skipped: 3
            }
        );
        let ten = std::fs::read_to_string(
            dir.join("insights-logs-auditlogs/tenantId=t1/y=2026/m=11/d=25/h=10/m=00/PT1H.json"),
        )
        .unwrap();
        assert_eq!(ten.lines().count(), 2);
        assert!(
            ten.lines()
                .all(|l| serde_json::from_str::<Value>(l).unwrap()["category"] == "AuditLogs")
        );
        // A record that changed within the hour is a line of its own; sent again, still one.
        let mut changed = line("a", 10);
        changed.record["properties"]["riskState"] = json!("dismissed");
        for _ in 0..2 {
            sink.write(Category::AuditLogs, "t1", std::slice::from_ref(&changed))
                .await
                .unwrap();
        }
        let ten = std::fs::read_to_string(
            dir.join("insights-logs-auditlogs/tenantId=t1/y=2026/m=11/d=25/h=10/m=00/PT1H.json"),
        )
        .unwrap();
        assert_eq!(ten.lines().count(), 3, "{ten}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
