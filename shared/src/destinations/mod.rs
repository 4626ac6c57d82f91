//! Where records go besides the embedded store, like a diagnostic setting's destinations: one
//! folder per destination, each split into `config` (what the user sets), `service` (one
//! exchange with the remote API) and `sink` (batching and encoding).
//!
//! - [`storage`]: the diagnostic-settings archive layout, to a folder or a Blob account;
//! - [`log_analytics`]: the Logs Ingestion API;
//! - [`event_hubs`]: the Event Hubs HTTPS send API, `{"records":[...]}` events;
//! - [`spool`]: where a batch waits when its destination still fails after its retries;
//! - [`router`]: the outbox → destination → spool flow the collectors and the replay use.
//!
//! A page's records reach a destination as one [`Batch`], fixed when the page is stored (in
//! the same transaction as its checkpoint), so a batch sent twice is the same batch.

pub mod event_hubs;
pub mod log_analytics;
pub mod router;
pub mod spool;
pub mod storage;

use crate::model::{Category, Destination};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Records of one tenant and category for one destination, in that destination's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Unique and stable: the spool names the batch by it.
    pub id: String,
    pub destination: Destination,
    pub tenant: String,
    pub category: Category,
    pub created: DateTime<Utc>,
    pub items: Vec<BatchItem>,
}

/// One record: its Graph id, event time and the body the destination receives (an export
/// record for Storage and Event Hubs, a table row for Log Analytics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchItem {
    pub id: String,
    pub time: DateTime<Utc>,
    pub body: Value,
}

/// What a send did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub calls: usize,
    pub records: usize,
    /// Bytes on the wire in accepted calls.
    pub bytes: usize,
    /// Records that can never be delivered (too large on their own), with why.
    pub dead_letter: Vec<(String, String)>,
}

/// How one call ended.
#[derive(Debug)]
pub enum CallOutcome {
    /// Accepted; the bytes sent.
    Accepted(usize),
    /// 413: the body must be split.
    TooLarge,
    /// 429, 5xx or a network failure: try again, after the server's `Retry-After` if it gave one.
    Retry(Option<Duration>, String),
    /// Anything else: the call cannot succeed as it is.
    Refused(u16, String),
}

/// Why a send stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    GaveUp {
        attempts: u32,
        last: String,
    },
    Refused {
        status: u16,
        code: String,
    },
    /// No credential for the call (token endpoint refused or unreachable).
    Auth(String),
}

/// One record, encoded for the wire, with what it costs in a call.
pub(crate) struct Encoded {
    pub id: String,
    pub bytes: Vec<u8>,
    pub cost: usize,
}

/// A future a sink returns (the trait is used as `dyn Sink`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An external destination: a folder under `destinations/` implements it, and the router holds
/// the configured ones (docs/architecture.md, "Add a destination").
pub trait Sink: Send + Sync {
    /// Which destination this is (what routes name).
    fn destination(&self) -> Destination;
    /// What a delivery promises.
    fn guarantee(&self) -> Guarantee;
    /// Sends one batch with the destination's own retries; an error means the batch was not
    /// (wholly) taken and goes to the spool.
    fn send<'a>(
        &'a self,
        batch: &'a Batch,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Sent, SendError>>;
}

/// What a destination promises about a record it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Once, and how that is ensured.
    ExactlyOnce(&'static str),
    /// At least once, and what to deduplicate on.
    AtLeastOnce(&'static str),
}

impl Guarantee {
    /// As `/api/health` says it.
    pub fn describe(self) -> String {
        match self {
            Guarantee::ExactlyOnce(how) => format!("exactly once ({how})"),
            Guarantee::AtLeastOnce(key) => format!("at least once (dedupe on {key})"),
        }
    }
}

/// Why a destination did not take a batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{destination}: {message}")]
pub struct SendError {
    pub destination: &'static str,
    pub message: String,
}

impl SendError {
    pub fn new(destination: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            destination,
            message: message.to_string(),
        }
    }
}

/// The body a page's row becomes for a destination: Log Analytics takes the custom table's
/// row, Storage and Event Hubs the diagnostic-settings export record.
pub fn encode(
    destination: Destination,
    category: Category,
    tenant: &str,
    row: &crate::state::StoredRow,
) -> Value {
    match destination {
        Destination::LogAnalytics => log_analytics::schema::custom_row(category, &row.columns),
        Destination::Storage | Destination::EventHubs | Destination::Embedded => {
            crate::model::export::export_record(category, tenant, row.time, &row.columns, &row.raw)
        }
    }
}

/// Runs `attempt` until it succeeds or `policy` runs out, pausing between tries (doubling, at
/// most 30 s). Returns the value and the attempts made.
pub async fn with_retries<T, E, F, Fut>(
    policy: RetryPolicy,
    destination: &'static str,
    mut attempt: F,
) -> Result<(T, usize), SendError>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = policy.first_pause;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(v) => return Ok((v, tries as usize)),
            Err(e) if tries >= policy.attempts => {
                return Err(SendError::new(
                    destination,
                    format!("{e} (after {tries} attempts)"),
                ));
            }
            Err(e) => {
                tracing::debug!("{destination}: retrying after {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// How many attempts a call gets and how long the first pause is (doubling after).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_pause: Duration::from_secs(1),
        }
    }
}

/// Sends `items` in calls whose summed cost stays within `limit`, never splitting a record:
/// a call refused as too large (413) is halved, first half first; a record too large on its
/// own is set aside with the reason; 429/5xx are retried. `call` builds and sends one body.
pub(crate) async fn send_in_calls<F, Fut>(
    items: Vec<Encoded>,
    limit: usize,
    retry: RetryPolicy,
    mut call: F,
) -> Result<Sent, SendFailure>
where
    F: FnMut(Vec<&[u8]>) -> Fut,
    Fut: Future<Output = Result<CallOutcome, SendFailure>>,
{
    let mut sent = Sent::default();
    let mut chunks: Vec<Vec<Encoded>> = Vec::new();
    let mut current: Vec<Encoded> = Vec::new();
    let mut size = 0;
    for item in items {
        if item.cost > limit {
            sent.dead_letter.push((
                item.id,
                format!(
                    "the record needs {} bytes, over the {limit}-byte limit of one call",
                    item.cost
                ),
            ));
            continue;
        }
        if size + item.cost > limit && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += item.cost;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks.reverse();
    while let Some(chunk) = chunks.pop() {
        let mut attempts = 0;
        let mut pause = retry.first_pause;
        loop {
            attempts += 1;
            sent.calls += 1;
            let body: Vec<&[u8]> = chunk.iter().map(|e| e.bytes.as_slice()).collect();
            match call(body).await? {
                CallOutcome::Accepted(bytes) => {
                    sent.records += chunk.len();
                    sent.bytes += bytes;
                    break;
                }
                CallOutcome::TooLarge if chunk.len() > 1 => {
                    let mut first = chunk;
                    let second = first.split_off(first.len() / 2);
                    chunks.push(second);
                    chunks.push(first);
                    break;
                }
                CallOutcome::TooLarge => {
                    let id = chunk.into_iter().next().map(|e| e.id).unwrap_or_default();
                    sent.dead_letter
                        .push((id, "refused alone as too large (413)".into()));
                    break;
                }
                CallOutcome::Retry(wait, last) if attempts < retry.attempts => {
                    let wait = wait.unwrap_or(pause);
                    pause = (pause * 2).min(Duration::from_secs(30));
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "retrying after {last}");
                    tokio::time::sleep(wait).await;
                }
                CallOutcome::Retry(_, last) => {
                    return Err(SendFailure::GaveUp { attempts, last });
                }
                CallOutcome::Refused(status, code) => {
                    return Err(SendFailure::Refused { status, code });
                }
            }
        }
    }
    Ok(sent)
}

/// The `key=value;...` pairs of an Azure connection string, keys in lower case. A part
/// without `=` is named (by nothing after its first character, so no key leaks).
pub fn connection_string_parts(
    text: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut parts = std::collections::BTreeMap::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            format!(
                "a part starting \"{}\" is not key=value",
                part.chars().next().unwrap_or_default()
            )
        })?;
        parts.insert(k.to_ascii_lowercase(), v.to_string());
    }
    Ok(parts)
}

/// The server's `Retry-After` in seconds, if it sent one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn item(id: &str, n: usize) -> Encoded {
        Encoded {
            id: id.into(),
            bytes: vec![b'x'; n],
            cost: n,
        }
    }

    #[tokio::test]
    async fn calls_are_packed_halved_on_413_and_never_split_a_record() {
        let seen = Arc::new(Mutex::new(Vec::<usize>::new()));
        let s = seen.clone();
        let items = vec![
            item("a", 40),
            item("b", 40),
            item("c", 40),
            item("huge", 200),
            item("d", 10),
        ];
        let sent = send_in_calls(items, 100, RetryPolicy::default(), move |body| {
            let s = s.clone();
            let records = body.len();
            let bytes: usize = body.iter().map(|b| b.len()).sum();
            async move {
                s.lock().unwrap().push(records);
                // The server takes at most 50 bytes.
                Ok(if bytes > 50 {
                    CallOutcome::TooLarge
                } else {
                    CallOutcome::Accepted(bytes)
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(sent.records, 4);
        assert_eq!(sent.dead_letter.len(), 1);
        assert_eq!(sent.dead_letter[0].0, "huge");
        // [a,b] → 413 → [a], [b]; [c,d] → accepted.
        assert_eq!(*seen.lock().unwrap(), vec![2, 1, 1, 2]);
        assert_eq!(sent.bytes, 130);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_end_in_a_named_failure() {
        let sent = send_in_calls(vec![item("a", 1)], 100, RetryPolicy::default(), |_| async {
            Ok(CallOutcome::Retry(None, "HTTP 503".into()))
        })
        .await;
        assert_eq!(
            sent,
            Err(SendFailure::GaveUp {
                attempts: 4,
                last: "HTTP 503".into()
            })
        );
    }
}
