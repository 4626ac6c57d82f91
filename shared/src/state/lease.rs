//! One writer per tenant and category, across instances and overlapping runs: a blob lease on
//! `leases/<tenant>/<category>` in the state container. Azure's timer singleton covers only
//! timer triggers and Lambda has none, so two collectors of the same tenant may otherwise run
//! at once. The holder renews the lease in the background (every third of its duration); a
//! collector checks [`Held::lost`] between pages and stops at a safe point when it was lost.
//!
//! S3 has no leases: there the lease is a small document `leases/<tenant>/<category>` saying
//! who holds it until when, taken and renewed with conditional writes (`If-None-Match: *` /
//! `If-Match`); one past its time may be taken over. Instances' clocks (NTP-kept on Lambda)
//! need only agree within a fraction of the lease's 30 seconds.

use super::objects::{ObjectError, Objects};
use super::s3::S3Bucket;
use crate::destinations::storage::service::{BlobError, BlobService};
use crate::model::Category;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where leases are taken.
#[derive(Clone)]
pub struct Leases {
    on: On,
    seconds: u32,
}

#[derive(Clone)]
enum On {
    Blob {
        service: Arc<BlobService>,
        container: String,
        /// The container is created once per process, not at every lease taken.
        created: Arc<tokio::sync::OnceCell<()>>,
    },
    S3(Arc<S3Bucket>),
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Objects(#[from] ObjectError),
}

/// A lease held: renewed until released or lost.
pub struct Held {
    by: HeldBy,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

enum HeldBy {
    Blob {
        service: Arc<BlobService>,
        path: String,
        id: String,
    },
    Document(Arc<LeaseDocument>),
}

impl Leases {
    /// Blob leases of `seconds` (15 to 60, as Blob storage allows) in `container`.
    pub fn new(service: Arc<BlobService>, container: &str, seconds: u32) -> Self {
        Self {
            on: On::Blob {
                service,
                container: container.to_string(),
                created: Arc::default(),
            },
            seconds: seconds.clamp(15, 60),
        }
    }

    /// Lease documents of `seconds` in an S3 bucket.
    pub fn on_s3(bucket: Arc<S3Bucket>, seconds: u32) -> Self {
        Self {
            on: On::S3(bucket),
            seconds: seconds.clamp(15, 60),
        }
    }

    /// The blob or document a tenant's category is leased on, in its container.
    pub fn key(tenant: &str, category: Category) -> String {
        format!("leases/{}/{}", tenant.to_ascii_lowercase(), category.name())
    }

    /// Takes the lease of a tenant's category: held, or None while another writer holds it.
    pub async fn try_acquire(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<Held>, LeaseError> {
        let key = Self::key(tenant, category);
        let by = match &self.on {
            On::Blob {
                service,
                container,
                created,
            } => {
                created
                    .get_or_try_init(|| service.create_container(container))
                    .await?;
                let path = format!("{container}/{key}");
                service.create_if_absent(&path).await?;
                let id = lease_id();
                if !service.acquire_lease(&path, self.seconds, &id).await? {
                    return Ok(None);
                }
                HeldBy::Blob {
                    service: service.clone(),
                    path,
                    id,
                }
            }
            On::S3(bucket) => {
                let doc = LeaseDocument {
                    objects: Objects::S3(bucket.clone()),
                    key,
                    id: lease_id(),
                    seconds: self.seconds,
                    etag: Default::default(),
                };
                if !doc.take().await? {
                    return Ok(None);
                }
                HeldBy::Document(Arc::new(doc))
            }
        };
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (by, lost) = (by.clone_handle(), lost.clone());
            let every = Duration::from_secs(u64::from(self.seconds) / 3);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match by.renew().await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // Unreachable for a moment: the lease lasts three renewals.
                        Err(e) => tracing::warn!("renewing the collection lease failed: {e}"),
                    }
                }
            })
        };
        Ok(Some(Held { by, lost, renewer }))
    }
}

impl HeldBy {
    fn clone_handle(&self) -> HeldBy {
        match self {
            HeldBy::Blob { service, path, id } => HeldBy::Blob {
                service: service.clone(),
                path: path.clone(),
                id: id.clone(),
            },
            HeldBy::Document(d) => HeldBy::Document(d.clone()),
        }
    }

    async fn renew(&self) -> Result<bool, LeaseError> {
        Ok(match self {
            HeldBy::Blob { service, path, id } => service.renew_lease(path, id).await?,
            HeldBy::Document(d) => d.renew().await?,
        })
    }
}

impl Held {
    /// The lease lapsed and another writer took it: stop at the next safe point.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Renews now (the background renewal does this on its own): false when no longer ours.
    pub async fn renew(&self) -> Result<bool, LeaseError> {
        let ours = self.by.renew().await?;
        if !ours {
            self.lost.store(true, Ordering::SeqCst);
        }
        Ok(ours)
    }

    /// Gives the lease up, so the next writer need not wait for it to lapse.
    pub async fn release(self) -> Result<(), LeaseError> {
        self.renewer.abort();
        match &self.by {
            HeldBy::Blob { service, path, id } => service.release_lease(path, id).await?,
            HeldBy::Document(d) => d.release().await?,
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Not released (a panic, a crash): the lease lapses within its duration.
        self.renewer.abort();
    }
}

/// A lease kept as a document: `{"holder": id, "until": time}`.
struct LeaseDocument {
    objects: Objects,
    key: String,
    id: String,
    seconds: u32,
    /// The ETag of the document as we last wrote it.
    etag: std::sync::Mutex<Option<String>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LeaseState {
    holder: String,
    until: chrono::DateTime<chrono::Utc>,
}

impl LeaseDocument {
    fn body(&self, until: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
        serde_json::to_vec(&LeaseState {
            holder: self.id.clone(),
            until,
        })
        .unwrap_or_default()
    }

    fn until(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::seconds(i64::from(self.seconds))
    }

    /// Takes the lease if nobody holds it or its holder's time is past.
    async fn take(&self) -> Result<bool, ObjectError> {
        let current = self.objects.get(&self.key).await?;
        let read = match &current {
            None => None,
            Some(found) => {
                // Unreadable: someone wrote something else there; it may be taken over.
                let free = serde_json::from_slice::<LeaseState>(&found.body)
                    .map_or(true, |s| s.until <= chrono::Utc::now());
                if !free {
                    return Ok(false);
                }
                Some(found.etag.as_str())
            }
        };
        let written = self
            .objects
            .put(&self.key, self.body(self.until()), read)
            .await?;
        let taken = written.is_some();
        *self.etag.lock().unwrap_or_else(|p| p.into_inner()) = written;
        Ok(taken)
    }

    /// Moves our time on, only if the document is still as we wrote it.
    async fn renew(&self) -> Result<bool, ObjectError> {
        let ours = self.etag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(ours) = ours else {
            return Ok(false);
        };
        let written = self
            .objects
            .put(&self.key, self.body(self.until()), Some(&ours))
            .await?;
        let renewed = written.is_some();
        *self.etag.lock().unwrap_or_else(|p| p.into_inner()) = written;
        Ok(renewed)
    }

    /// Ends our time now, only if the document is still as we wrote it.
    async fn release(&self) -> Result<(), ObjectError> {
        let ours = self.etag.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(ours) = ours {
            let past = chrono::Utc::now() - chrono::Duration::seconds(1);
            self.objects
                .put(&self.key, self.body(past), Some(&ours))
                .await?;
        }
        Ok(())
    }
}

/// A fresh lease id (Blob storage wants a GUID).
fn lease_id() -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
