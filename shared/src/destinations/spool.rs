//! Where a batch waits when its destination still fails after its retries: a local folder
//! (the default, `<data dir>/spool`) or a Blob container. The `replay-spool` timer function
//! sends spooled batches again, oldest first, and removes each one its destination accepted.
//!
//! Layout (the same in a folder and a container):
//! - `batches/<destination>/<batch id>.json` — a [`Spooled`] batch;
//! - `dead-letter/<destination>/<batch id>-<n>.json` — one record that can never be delivered
//!   (larger than any call may be), with the reason; kept for a person, never replayed.

use super::Batch;
use super::storage::service::{BlobError, BlobService};
use crate::model::Destination;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A spooled batch and why it is there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spooled {
    pub batch: Batch,
    pub reason: String,
    pub spooled_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(
        "the spool folder {path} cannot be used: {source}; set ENTRA_MONITOR_SPOOL_FOLDER to a writable folder"
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the spool container cannot be used: {0}")]
    Blob(#[from] BlobError),
    #[error("the spooled batch {name} is unreadable ({reason}); move it aside")]
    Corrupt { name: String, reason: String },
}

pub enum Spool {
    Folder(PathBuf),
    Blob {
        service: BlobService,
        container: String,
    },
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spool::Folder(p) => write!(f, "Spool::Folder({})", p.display()),
            Spool::Blob { container, .. } => write!(f, "Spool::Blob({container})"),
        }
    }
}

fn batch_name(destination: Destination, batch_id: &str) -> String {
    format!("batches/{}/{batch_id}.json", destination.name())
}

impl Spool {
    /// Where the spool is, for logs and health.
    pub fn describe(&self) -> String {
        match self {
            Spool::Folder(p) => format!("folder {}", p.display()),
            Spool::Blob { container, .. } => format!("container {container}"),
        }
    }

    async fn write(&self, name: &str, body: Vec<u8>) -> Result<(), SpoolError> {
        match self {
            Spool::Folder(dir) => {
                let path = dir.join(name);
                let io = |source| SpoolError::Io {
                    path: path.display().to_string(),
                    source,
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                // Write aside and rename: a reader never sees half a batch.
                let tmp = path.with_extension("json.partial");
                std::fs::write(&tmp, &body).map_err(io)?;
                std::fs::File::open(&tmp)
                    .and_then(|f| f.sync_all())
                    .map_err(io)?;
                std::fs::rename(&tmp, &path).map_err(io)?;
                Ok(())
            }
            Spool::Blob { service, container } => {
                let path = format!("{container}/{name}");
                match service.put_blob(&path, body.clone()).await {
                    Err(BlobError::Status { status: 404, .. }) => {
                        service.create_container(container).await?;
                        service.put_blob(&path, body).await?;
                    }
                    other => other?,
                }
                Ok(())
            }
        }
    }

    /// Keeps a batch its destination did not take.
    pub async fn put(
        &self,
        batch: &Batch,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SpoolError> {
        let spooled = Spooled {
            batch: batch.clone(),
            reason: reason.to_string(),
            spooled_at: now,
        };
        let body = serde_json::to_vec(&spooled).unwrap_or_default();
        self.write(&batch_name(batch.destination, &batch.id), body)
            .await
    }

    /// Keeps one record that can never be delivered, with the reason.
    pub async fn dead_letter(
        &self,
        batch: &Batch,
        n: usize,
        record_id: &str,
        reason: &str,
    ) -> Result<(), SpoolError> {
        let item = batch.items.iter().find(|i| i.id == record_id);
        let body = serde_json::to_vec(&serde_json::json!({
            "destination": batch.destination,
            "tenant": batch.tenant,
            "category": batch.category,
            "id": record_id,
            "reason": reason,
            "record": item.map(|i| &i.body),
        }))
        .unwrap_or_default();
        let name = format!(
            "dead-letter/{}/{}-{n}.json",
            batch.destination.name(),
            batch.id
        );
        self.write(&name, body).await
    }

    /// The names of `prefix`'s entries, oldest first (names start with the creation time).
    async fn names(&self, prefix: &str) -> Result<Vec<String>, SpoolError> {
        match self {
            Spool::Folder(dir) => {
                let mut out = Vec::new();
                let root = dir.join(prefix);
                let Ok(destinations) = std::fs::read_dir(&root) else {
                    return Ok(out);
                };
                for d in destinations.flatten() {
                    for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                        let file = f.file_name().to_string_lossy().to_string();
                        if file.ends_with(".json") {
                            out.push(format!(
                                "{prefix}/{}/{file}",
                                d.file_name().to_string_lossy()
                            ));
                        }
                    }
                }
                out.sort_by(|a, b| file_part(a).cmp(file_part(b)));
                Ok(out)
            }
            Spool::Blob { service, container } => {
                let mut out = service.list_blobs(container, &format!("{prefix}/")).await?;
                out.sort_by(|a, b| file_part(a).cmp(file_part(b)));
                Ok(out)
            }
        }
    }

    /// Spooled batches, oldest first.
    pub async fn list(&self) -> Result<Vec<String>, SpoolError> {
        self.names("batches").await
    }

    /// Dead-lettered records.
    pub async fn dead_letters(&self) -> Result<Vec<String>, SpoolError> {
        self.names("dead-letter").await
    }

    /// A spooled batch; None when another replay removed it meanwhile.
    pub async fn get(&self, name: &str) -> Result<Option<Spooled>, SpoolError> {
        let bytes = match self {
            Spool::Folder(dir) => match std::fs::read(dir.join(name)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(SpoolError::Io {
                        path: dir.join(name).display().to_string(),
                        source,
                    });
                }
            },
            Spool::Blob { service, container } => {
                match service.get(&format!("{container}/{name}")).await? {
                    Some(b) => b,
                    None => return Ok(None),
                }
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SpoolError::Corrupt {
                name: name.to_string(),
                reason: e.to_string(),
            })
    }

    /// Removes a batch its destination took.
    pub async fn delete(&self, name: &str) -> Result<(), SpoolError> {
        match self {
            Spool::Folder(dir) => match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SpoolError::Io {
                    path: dir.join(name).display().to_string(),
                    source: e,
                }),
                _ => Ok(()),
            },
            Spool::Blob { service, container } => {
                Ok(service.delete_blob(&format!("{container}/{name}")).await?)
            }
        }
    }
}

fn file_part(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destinations::BatchItem;
    use crate::model::Category;
    use chrono::TimeZone;

    fn batch(id: &str) -> Batch {
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
        Batch {
            id: id.into(),
            destination: Destination::EventHubs,
            tenant: "t1".into(),
            category: Category::AuditLogs,
            created: t,
            items: vec![BatchItem {
                id: "r1".into(),
                time: t,
                body: serde_json::json!({ "a": 1 }),
            }],
        }
    }

    #[tokio::test]
    async fn a_folder_spool_keeps_batches_oldest_first_until_deleted() {
        let dir = std::env::temp_dir().join(format!("entra-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::Folder(dir.clone());
        let (late, early) = (
            batch("20261127T100000000Z-0000000002-aa"),
            batch("20261127T090000000Z-0000000001-bb"),
        );
        spool.put(&late, "down", Utc::now()).await.unwrap();
        spool.put(&early, "down", Utc::now()).await.unwrap();
        let names = spool.list().await.unwrap();
        assert_eq!(names.len(), 2);
        let got = spool.get(&names[0]).await.unwrap().unwrap();
        assert_eq!(got.batch, early);
        assert_eq!(got.reason, "down");
        spool.delete(&names[0]).await.unwrap();
        // Deleting twice (two replays racing) is fine.
        spool.delete(&names[0]).await.unwrap();
        assert_eq!(spool.list().await.unwrap(), vec![names[1].clone()]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
