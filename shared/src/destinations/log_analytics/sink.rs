//! Rows → calls of at most 1 MB, delivered at least once.

use super::config::LogAnalyticsTarget;
use super::service::{CallError, CallOutcome, IngestionService, MAX_CALL_BYTES};
use crate::model::Category;
use crate::source::token::TokenCache;
use serde_json::Value;
use std::sync::Arc;

/// What a send did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub calls: usize,
    pub records: usize,
    /// Records that can never be ingested (over the per-call limit on their own), with why.
    pub dead_letter: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogAnalyticsError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(
        "the Logs Ingestion API refused the rows with {status} ({code}); check the DCR id, the stream name and that the identity has Monitoring Metrics Publisher on the DCR"
    )]
    Refused { status: u16, code: String },
    #[error(
        "the Logs Ingestion API kept failing ({last}) after {attempts} attempts; the batch is kept for a later try"
    )]
    GaveUp { attempts: u32, last: String },
}

pub struct LogAnalyticsSink {
    target: LogAnalyticsTarget,
    tokens: Option<Arc<TokenCache>>,
    max_attempts: u32,
}

impl LogAnalyticsSink {
    pub fn new(target: LogAnalyticsTarget, tokens: Option<Arc<TokenCache>>) -> Self {
        Self {
            target,
            tokens,
            max_attempts: 8,
        }
    }

    /// Sends a category's rows (each a table-shaped JSON object with `Id`).
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
        let mut sent = Sent::default();
        // Pack whole records into arrays whose uncompressed size is within the limit, so the
        // compressed call is too; the API's own 413 splits further.
        let mut chunks: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut current: Vec<Vec<u8>> = Vec::new();
        let mut size = 2;
        for row in rows {
            let mut row = row.clone();
            // Logs Ingestion needs TimeGenerated; rows without one are stamped with arrival.
            if row.get("TimeGenerated").is_none_or(Value::is_null) {
                row["TimeGenerated"] =
                    Value::String(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            }
            let bytes = row.to_string().into_bytes();
            if bytes.len() + 2 > MAX_CALL_BYTES {
                sent.dead_letter.push((id_of(&row), format!("the record is {} bytes, over the 1 MB per-call limit of the Logs Ingestion API", bytes.len())));
                continue;
            }
            if size + bytes.len() + 1 > MAX_CALL_BYTES && !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
                size = 2;
            }
            size += bytes.len() + 1;
            current.push(bytes);
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        chunks.reverse();
        while let Some(chunk) = chunks.pop() {
            let body = Self::array(&chunk);
            let mut attempts = 0;
            loop {
                attempts += 1;
                sent.calls += 1;
                match service.post(IngestionService::compress(&body)).await? {
                    CallOutcome::Accepted => {
                        sent.records += chunk.len();
                        break;
                    }
                    CallOutcome::TooLarge if chunk.len() > 1 => {
                        // Halve and send both halves, first half first.
                        let mut first = chunk;
                        let second = first.split_off(first.len() / 2);
                        chunks.push(second);
                        chunks.push(first);
                        break;
                    }
                    CallOutcome::TooLarge => {
                        let row: Value = serde_json::from_slice(&chunk[0]).unwrap_or(Value::Null);
                        sent.dead_letter.push((
                            id_of(&row),
                            "the API refused the record alone as too large (413)".into(),
                        ));
                        break;
                    }
                    CallOutcome::Retry(wait, last) if attempts < self.max_attempts => {
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            "Logs Ingestion: retrying after {last}"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    CallOutcome::Retry(_, last) => {
                        return Err(LogAnalyticsError::GaveUp { attempts, last });
                    }
                    CallOutcome::Refused(status, code) => {
                        return Err(LogAnalyticsError::Refused { status, code });
                    }
                }
            }
        }
        Ok(sent)
    }

    fn array(chunk: &[Vec<u8>]) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(chunk.iter().map(Vec::len).sum::<usize>() + chunk.len() + 2);
        body.push(b'[');
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(row);
        }
        body.push(b']');
        body
    }
}

fn id_of(row: &Value) -> String {
    row.get("Id")
        .and_then(Value::as_str)
        .unwrap_or("(no id)")
        .to_string()
}
