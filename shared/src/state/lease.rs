//! One writer per tenant and category, across instances and overlapping runs: a blob lease on
//! `leases/<tenant>/<category>` in the state container. Azure's timer singleton covers only
//! timer triggers and Lambda has none, so two collectors of the same tenant may otherwise run
//! at once. The holder renews the lease in the background (every third of its duration); a
//! collector checks [`Held::lost`] between pages and stops at a safe point when it was lost.

use crate::destinations::storage::service::{BlobError, BlobService};
use crate::model::Category;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where leases are taken.
#[derive(Clone)]
pub struct Leases {
    service: Arc<BlobService>,
    container: String,
    seconds: u32,
    /// The container is created once per process, not at every lease taken.
    created: Arc<tokio::sync::OnceCell<()>>,
}

/// A lease held: renewed until released or lost.
pub struct Held {
    service: Arc<BlobService>,
    path: String,
    id: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Leases {
    /// Leases of `seconds` (15 to 60, as Blob storage allows) in `container`.
    pub fn new(service: Arc<BlobService>, container: &str, seconds: u32) -> Self {
        Self {
            service,
            container: container.to_string(),
            seconds: seconds.clamp(15, 60),
            created: Arc::default(),
        }
    }

    /// The blob a tenant's category is leased on.
    pub fn path(&self, tenant: &str, category: Category) -> String {
        format!(
            "{}/leases/{}/{}",
            self.container,
            tenant.to_ascii_lowercase(),
            category.name()
        )
    }

    /// Takes the lease of a tenant's category: held, or None while another writer holds it.
    pub async fn try_acquire(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<Held>, BlobError> {
        self.created
            .get_or_try_init(|| self.service.create_container(&self.container))
            .await?;
        let path = self.path(tenant, category);
        self.service.create_if_absent(&path).await?;
        let id = lease_id();
        if !self.service.acquire_lease(&path, self.seconds, &id).await? {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (service, path, id, lost) =
                (self.service.clone(), path.clone(), id.clone(), lost.clone());
            let every = Duration::from_secs(u64::from(self.seconds) / 3);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match service.renew_lease(&path, &id).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        // Unreachable for a moment: the lease lasts three renewals.
                        Err(e) => tracing::warn!(lease = path, "renewing the lease failed: {e}"),
                    }
                }
            })
        };
        Ok(Some(Held {
            service: self.service.clone(),
            path,
            id,
            lost,
            renewer,
        }))
    }
}

impl Held {
    /// The lease lapsed and another writer took it: stop at the next safe point.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Renews now (the background renewal does this on its own): false when no longer ours.
    pub async fn renew(&self) -> Result<bool, BlobError> {
        let ours = self.service.renew_lease(&self.path, &self.id).await?;
        if !ours {
            self.lost.store(true, Ordering::SeqCst);
        }
        Ok(ours)
    }

    /// Gives the lease up, so the next writer need not wait for it to lapse.
    pub async fn release(self) -> Result<(), BlobError> {
        self.renewer.abort();
        self.service.release_lease(&self.path, &self.id).await
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Not released (a panic, a crash): the lease lapses within its duration.
        self.renewer.abort();
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
