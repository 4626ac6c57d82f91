//! Export records → `{"records":[...]}` events → batch requests within the tier's limit.

use super::service::SendService;
use super::target::EventHubsTarget;
use crate::destinations::{Encoded, RetryPolicy, SendFailure, Sent, send_in_calls};
use crate::model::Category;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum EventHubsError {
    #[error("{0}")]
    Auth(String),
    #[error(
        "Event Hubs refused the send with HTTP {status}; check the hub name and that the policy has the Send claim (or the identity the Azure Event Hubs Data Sender role)"
    )]
    Refused { status: u16 },
    #[error("Event Hubs kept failing ({last}) after {attempts} attempts")]
    GaveUp { attempts: u32, last: String },
}

impl From<SendFailure> for EventHubsError {
    fn from(f: SendFailure) -> Self {
        match f {
            SendFailure::GaveUp { attempts, last } => Self::GaveUp { attempts, last },
            SendFailure::Refused { status, .. } => Self::Refused { status },
            SendFailure::Auth(e) => Self::Auth(e),
        }
    }
}

/// What one batch element costs besides its records: the element's fields and the
/// `{"records":[` … `]}` wrapper.
const EVENT_OVERHEAD: usize = 512;

pub struct EventHubsSink {
    target: EventHubsTarget,
    retry: RetryPolicy,
}

impl EventHubsSink {
    pub fn new(target: EventHubsTarget) -> Self {
        Self {
            target,
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

    pub fn target(&self) -> &EventHubsTarget {
        &self.target
    }

    /// Sends export records of one tenant and category. `ids` name the records for dead
    /// letters (their `properties.id`).
    pub async fn send(
        &self,
        category: Category,
        tenant: &str,
        records: &[(String, Value)],
    ) -> Result<Sent, EventHubsError> {
        let max = self.target.max_request_bytes;
        // Events of at most a quarter of a request, so a request holds several and a 413 can
        // be answered by halving.
        let event_limit = (max / 4).max(1024);
        let items = records
            .iter()
            .map(|(id, r)| {
                let bytes = r.to_string().into_bytes();
                // In the element, the event body is a JSON string: quotes and backslashes double.
                let escaped = bytes.iter().filter(|b| matches!(b, b'"' | b'\\')).count();
                Encoded {
                    id: id.clone(),
                    cost: bytes.len() + escaped + 1,
                    bytes,
                }
            })
            .collect();
        let service = SendService::new(
            &self.target.endpoint,
            &self.target.hub_for(category),
            self.target.auth.clone(),
        );
        let service = &service;
        let limit = max.saturating_sub(EVENT_OVERHEAD * (max / event_limit + 1));
        Ok(send_in_calls(items, limit, self.retry, |records| {
            let body = batch_body(&records, event_limit, category, tenant);
            async move { service.send_batch(body).await }
        })
        .await?)
    }
}

/// The batch request: records grouped into events of at most `event_limit` bytes.
fn batch_body(records: &[&[u8]], event_limit: usize, category: Category, tenant: &str) -> Vec<u8> {
    let mut events: Vec<Value> = Vec::new();
    let mut current = Vec::<u8>::new();
    let mut flush = |current: &mut Vec<u8>| {
        if !current.is_empty() {
            let body = format!("{{\"records\":[{}]}}", String::from_utf8_lossy(current));
            events.push(json!({
                "Body": body,
                "BrokerProperties": { "PartitionKey": tenant },
                "UserProperties": { "category": category.name(), "tenantId": tenant },
            }));
            current.clear();
        }
    };
    for r in records {
        if !current.is_empty() && current.len() + r.len() + 1 > event_limit {
            flush(&mut current);
        }
        if !current.is_empty() {
            current.push(b',');
        }
        current.extend_from_slice(r);
    }
    flush(&mut current);
    Value::Array(events).to_string().into_bytes()
}

impl crate::destinations::Sink for EventHubsSink {
    fn destination(&self) -> crate::model::Destination {
        crate::model::Destination::EventHubs
    }

    fn guarantee(&self) -> crate::destinations::Guarantee {
        crate::destinations::Guarantee::AtLeastOnce("the record id")
    }

    fn send<'a>(
        &'a self,
        batch: &'a crate::destinations::Batch,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> crate::destinations::BoxFuture<'a, Result<Sent, crate::destinations::SendError>> {
        Box::pin(async move {
            let records: Vec<(String, Value)> = batch
                .items
                .iter()
                .map(|i| (i.id.clone(), i.body.clone()))
                .collect();
            EventHubsSink::send(self, batch.category, &batch.tenant, &records)
                .await
                .map_err(|e| crate::destinations::SendError::new("Event Hubs", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_hold_records_under_the_event_limit() {
        let records: Vec<Vec<u8>> = (0..10)
            .map(|i| {
                json!({ "properties": { "id": format!("r{i}"), "pad": "x".repeat(300) } })
                    .to_string()
                    .into_bytes()
            })
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let body = batch_body(&refs, 1000, Category::AuditLogs, "t1");
        let events: Vec<Value> = serde_json::from_slice(&body).unwrap();
        assert!(events.len() >= 4, "{}", events.len());
        let mut ids = Vec::new();
        for e in &events {
            let inner: Value = serde_json::from_str(e["Body"].as_str().unwrap()).unwrap();
            assert!(e["Body"].as_str().unwrap().len() <= 1000 + 20);
            assert_eq!(e["BrokerProperties"]["PartitionKey"], "t1");
            for r in inner["records"].as_array().unwrap() {
                ids.push(r["properties"]["id"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(ids, (0..10).map(|i| format!("r{i}")).collect::<Vec<_>>());
    }
}
