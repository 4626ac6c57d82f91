//! Where state shared by every instance is kept: a Blob container on Azure, an S3 bucket on
//! AWS. Both offer the same thing here — whole documents read with their ETag and written only
//! if unchanged since — which is all the durable bookkeeping ([`super::durable`]) and the
//! leases on S3 ([`super::lease`]) need.

use super::s3::{S3Bucket, S3Error};
use crate::destinations::storage::service::{BlobError, BlobService};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    S3(#[from] S3Error),
}

/// A document and the ETag it was read with.
pub struct Tagged {
    pub body: Vec<u8>,
    pub etag: String,
}

/// A container of documents.
#[derive(Clone)]
pub enum Objects {
    Blob {
        service: Arc<BlobService>,
        container: String,
        /// The container is created once per process, not at every write.
        created: Arc<tokio::sync::OnceCell<()>>,
    },
    S3(Arc<S3Bucket>),
}

impl Objects {
    pub fn blob(service: Arc<BlobService>, container: &str) -> Self {
        Objects::Blob {
            service,
            container: container.to_string(),
            created: Arc::default(),
        }
    }

    /// Where, for messages.
    pub fn describe(&self) -> String {
        match self {
            Objects::Blob { container, .. } => format!("the Blob container {container}"),
            Objects::S3(bucket) => bucket.describe(),
        }
    }

    /// A document, or None when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Tagged>, ObjectError> {
        let found = match self {
            Objects::Blob {
                service, container, ..
            } => service.get_tagged(&format!("{container}/{key}")).await?,
            Objects::S3(bucket) => bucket.get(key).await?,
        };
        Ok(found.map(|(body, etag)| Tagged { body, etag }))
    }

    /// Writes a document only if it is as read (`etag`) or, with None, absent: its new ETag,
    /// or None when another writer changed it first.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: Option<&str>,
    ) -> Result<Option<String>, ObjectError> {
        match self {
            Objects::Blob {
                service,
                container,
                created,
            } => {
                created
                    .get_or_try_init(|| service.create_container(container))
                    .await?;
                Ok(service
                    .put_if(&format!("{container}/{key}"), body, etag)
                    .await?)
            }
            Objects::S3(bucket) => Ok(bucket.put_if(key, body, etag).await?),
        }
    }
}
