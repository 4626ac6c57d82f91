//! Rows → calls of at most 1 MB, delivered at least once.

use super::service::{IngestionService, MAX_CALL_BYTES};
use super::target::LogAnalyticsTarget;
use crate::clock::Timestamp;
use crate::destinations::{Encoded, RetryPolicy, SendFailure, Sent, send_in_calls};
use crate::model::Category;
use crate::source::token::TokenCache;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LogAnalyticsError {
    #[error("{0}")]
    Auth(String),
    #[error(
        "the Logs Ingestion API refused the rows with {status} ({code}); check the DCR id, the stream name and that the identity has Monitoring Metrics Publisher on the DCR"
    )]
    Refused { status: u16, code: String },
    #[error("the Logs Ingestion API kept failing ({last}) after {attempts} attempts")]
    GaveUp { attempts: u32, last: String },
}

impl From<SendFailure> for LogAnalyticsError {
    fn from(f: SendFailure) -> Self {
        match f {
            SendFailure::GaveUp { attempts, last } => Self::GaveUp { attempts, last },
            SendFailure::Refused { status, code } => Self::Refused { status, code },
            SendFailure::Auth(e) => Self::Auth(e),
        }
    }
}

pub struct LogAnalyticsSink {
    target: LogAnalyticsTarget,
    tokens: Option<Arc<TokenCache>>,
    retry: RetryPolicy,
}

impl LogAnalyticsSink {
    pub fn new(target: LogAnalyticsTarget, tokens: Option<Arc<TokenCache>>) -> Self {
        Self {
            target,
            tokens,
            retry: RetryPolicy {
                attempts: 8,
                ..Default::default()
            },
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn target(&self) -> &LogAnalyticsTarget {
        &self.target
    }

    /// Sends a category's rows (each a custom-table row with `RecordId`). Rows are packed
    /// into arrays whose uncompressed size is within the limit, so the compressed call is too;
    /// the API's own 413 splits further.
    pub async fn send(
        &self,
        category: Category,
        rows: &[Value],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Sent, LogAnalyticsError> {
        let service = IngestionService::new(
            &self.target.endpoint,
            &self.target.dcr_immutable_id,
            &LogAnalyticsTarget::stream(category),
            self.tokens.clone(),
        );
        let items = rows
            .iter()
            .map(|row| {
                let mut row = row.clone();
                // Logs Ingestion needs TimeGenerated; rows without one are stamped with arrival.
                if row.get("TimeGenerated").is_none_or(Value::is_null) {
                    row["TimeGenerated"] = Value::String(now.rfc3339_millis());
                }
                let bytes = row.to_string().into_bytes();
                Encoded {
                    id: id_of(&row),
                    cost: bytes.len() + 1,
                    bytes,
                }
            })
            .collect();
        let service = &service;
        Ok(
            send_in_calls(items, MAX_CALL_BYTES - 2, self.retry, |rows| {
                let body = array(&rows);
                async move { service.post(IngestionService::compress(&body)).await }
            })
            .await?,
        )
    }
}

fn array(rows: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(row);
    }
    body.push(b']');
    body
}

fn id_of(row: &Value) -> String {
    ["RecordId", "Id", "RequestId"]
        .iter()
        .find_map(|k| row.get(*k).and_then(Value::as_str))
        .unwrap_or("(no id)")
        .to_string()
}

impl crate::destinations::Sink for LogAnalyticsSink {
    fn destination(&self) -> crate::model::Destination {
        crate::model::Destination::LogAnalytics
    }

    fn guarantee(&self) -> crate::destinations::Guarantee {
        crate::destinations::Guarantee::AtLeastOnce("the record id")
    }

    fn send<'a>(
        &'a self,
        batch: &'a crate::destinations::Batch,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::destinations::BoxFuture<'a, Result<Sent, crate::destinations::SendError>> {
        Box::pin(async move {
            let rows: Vec<Value> = batch.items.iter().map(|i| i.body.clone()).collect();
            LogAnalyticsSink::send(self, batch.category, &rows, now)
                .await
                .map_err(|e| crate::destinations::SendError::new("Log Analytics", e))
        })
    }
}
