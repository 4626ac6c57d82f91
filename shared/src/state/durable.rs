//! State that outlives the instance. In the cloud the SQLite file is a working copy on local
//! disk: Lambda loses `/tmp` at every cold start, Flex Consumption keeps nothing when an
//! instance goes, and SQLite must not live on the Azure Files share. What collection must not
//! forget — a tenant's category's checkpoint, the ledger entries its next overlap can meet
//! again and the batches not yet delivered ([`Bookkeeping`]) — is kept as one gzip'd JSON
//! document per tenant and category in the shared container (Blob or S3,
//! [`super::objects`]):
//!
//! - before collecting (under the lease), the document is read; when its ETag is not the one
//!   this store last wrote or read, another instance (or an earlier life of this one) moved on
//!   and the local bookkeeping is replaced by the document's;
//! - after collecting, the document is written back only if unchanged since it was read
//!   (`If-Match`), so a writer whose lease lapsed cannot overwrite a newer one.
//!
//! A run that dies before writing back is repeated from the last document: its records are
//! read again and, having no ledger entries, routed again (at least once, never lost).

use super::objects::{ObjectError, Objects};
use super::sqlite::bookkeeping::Bookkeeping;
use super::{Checkpoints, SqliteState, StateError};
use crate::model::Category;
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    #[error("the durable state in {place} cannot be used: {source}")]
    Objects { place: String, source: ObjectError },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "the durable bookkeeping {key} is unreadable ({reason}); move it aside to start that category afresh"
    )]
    Unreadable { key: String, reason: String },
    #[error(
        "the durable bookkeeping {key} was written by another instance during this run (this one's lease lapsed): this run's records are read again next time"
    )]
    Conflict { key: String },
}

/// The durable copies of the bookkeeping.
#[derive(Clone)]
pub struct Durable {
    objects: Objects,
}

/// What [`Durable::restore`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// The document's ETag (None: there is none yet), to write back against.
    pub etag: Option<String>,
    /// The local bookkeeping was replaced by the document's.
    pub replaced: bool,
}

impl Durable {
    pub fn new(objects: Objects) -> Self {
        Self { objects }
    }

    /// The document of a tenant's category.
    pub fn key(tenant: &str, category: Category) -> String {
        format!(
            "bookkeeping/{}/{}.json.gz",
            tenant.to_ascii_lowercase(),
            category.name()
        )
    }

    fn objects_error(&self, source: ObjectError) -> DurableError {
        DurableError::Objects {
            place: self.objects.describe(),
            source,
        }
    }

    /// Brings the local bookkeeping of a tenant's category up to its durable copy.
    pub async fn restore(
        &self,
        store: &SqliteState,
        tenant: &str,
        category: Category,
    ) -> Result<Restored, DurableError> {
        let key = Self::key(tenant, category);
        let Some(found) = self
            .objects
            .get(&key)
            .await
            .map_err(|e| self.objects_error(e))?
        else {
            return Ok(Restored::default());
        };
        let local: Option<String> = store.document(&local_name(&key))?;
        if local.as_deref() == Some(found.etag.as_str()) {
            return Ok(Restored {
                etag: Some(found.etag),
                replaced: false,
            });
        }
        let unreadable = |reason: String| DurableError::Unreadable {
            key: key.clone(),
            reason,
        };
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(found.body.as_slice())
            .take(MAX_DOCUMENT)
            .read_to_end(&mut text)
            .map_err(|e| unreadable(format!("not gzip: {e}")))?;
        let doc: Bookkeeping =
            serde_json::from_slice(&text).map_err(|e| unreadable(e.to_string()))?;
        if !doc.tenant.eq_ignore_ascii_case(tenant) || doc.category != category.name() {
            return Err(unreadable(format!(
                "it holds {} {}",
                doc.tenant, doc.category
            )));
        }
        store.restore_bookkeeping(&doc)?;
        store.set_document(&local_name(&key), &found.etag)?;
        Ok(Restored {
            etag: Some(found.etag),
            replaced: true,
        })
    }

    /// Writes the local bookkeeping of a tenant's category back, if its durable copy is still
    /// the one read (`read`); the ledger only from where the next run's overlap begins.
    pub async fn save(
        &self,
        store: &SqliteState,
        tenant: &str,
        category: Category,
        overlap: chrono::Duration,
        read: Option<&str>,
    ) -> Result<String, DurableError> {
        let key = Self::key(tenant, category);
        let keep_from = store
            .checkpoint(tenant, category)?
            .and_then(|c| c.watermark.map(|w| w - overlap).or(c.since));
        let doc = store.bookkeeping(tenant, category, keep_from)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let body = serde_json::to_writer(&mut gz, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| gz.flush())
            .and_then(|()| gz.finish())
            .map_err(|e| DurableError::Unreadable {
                key: key.clone(),
                reason: format!("not written: {e}"),
            })?;
        match self
            .objects
            .put(&key, body, read)
            .await
            .map_err(|e| self.objects_error(e))?
        {
            Some(etag) => {
                store.set_document(&local_name(&key), &etag)?;
                Ok(etag)
            }
            None => Err(DurableError::Conflict { key }),
        }
    }
}

/// A document decompresses to at most this much (a hostile or broken one cannot exhaust memory).
const MAX_DOCUMENT: u64 = 1 << 30;

/// The local document holding the ETag this store last wrote or read.
fn local_name(key: &str) -> String {
    format!("durable-etag:{key}")
}
