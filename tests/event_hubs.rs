//! The Event Hubs destination against a local server enforcing the HTTPS send contract
//! (<https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>; no Event Hubs emulator runs here): SAS tokens verified, 1 MB per request
//! (413 above), 429 with `Retry-After`, 5xx; every event body `{"records":[...]}`.

mod support;

use serde_json::{Value, json};
use shared::destinations::RetryPolicy;
use shared::destinations::event_hubs::{EventHubsSink, EventHubsTarget};
use shared::model::Category;
use std::collections::BTreeSet;
use support::event_hubs;

fn records(n: usize, pad: usize) -> Vec<(String, Value)> {
    (0..n)
        .map(|i| {
            let id = format!("sign-in-{i}");
            // Quotes inside values: the event body is a JSON string, so they are escaped twice.
            let r = json!({ "time": "2026-11-27T10:00:00Z", "category": "SignInLogs", "properties": { "id": id, "note": format!("\"{}\"", "y".repeat(pad)) } });
            (id, r)
        })
        .collect()
}

fn sink(base: &str, hub: Option<&str>) -> EventHubsSink {
    EventHubsSink::new(
        EventHubsTarget::from_connection_string(&event_hubs::connection_string(base, hub)).unwrap(),
    )
    .with_retry(RetryPolicy {
        attempts: 4,
        first_pause: std::time::Duration::from_millis(50),
    })
}

#[tokio::test]
async fn every_record_arrives_in_records_events_within_one_megabyte() {
    let state = event_hubs::state(1_048_576);
    // A 429 (Retry-After 1), a 503 and a 500 among the first calls.
    state.lock().unwrap().script = [Some(429), None, Some(503), Some(500)].into();
    let base = event_hubs::start(state.clone()).await;
    // 4,000 records of ~1.2 KB: about 5 MB, so several requests near the limit.
    let sent = sink(&base, None)
        .send(Category::SignInLogs, "t1", &records(4000, 1000))
        .await
        .unwrap();
    let s = state.lock().unwrap();
    assert_eq!(sent.records, 4000);
    assert!(sent.dead_letter.is_empty());
    let ids: BTreeSet<&str> = s
        .records
        .iter()
        .map(|(_, _, r)| r["properties"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4000, "every record arrived");
    assert_eq!(s.records.len(), 4000, "each once: no delivery repeated");
    assert!(
        s.records
            .iter()
            .all(|(hub, key, _)| hub == "insights-logs-signinlogs" && key == "t1")
    );
    assert!(s.largest_request <= 1_048_576, "{}", s.largest_request);
    assert!(
        s.largest_request > 700_000,
        "requests are packed: {}",
        s.largest_request
    );
    assert_eq!((s.throttled, s.server_errors, s.unauthorised), (1, 2, 0));
    println!(
        "{} requests ({} events) for 4,000 records, largest {} bytes",
        s.calls, s.events, s.largest_request
    );
}

#[tokio::test]
async fn a_413_halves_the_request_and_a_record_too_large_is_set_aside() {
    // A Basic-tier namespace: 256 KB, while the sender believes 1 MB.
    let state = event_hubs::state(256 * 1024);
    state.lock().unwrap().hubs = vec!["entra".into()];
    let base = event_hubs::start(state.clone()).await;
    let mut batch = records(600, 1000);
    batch.push((
        "huge".into(),
        json!({ "properties": { "id": "huge", "x": "z".repeat(1_100_000) } }),
    ));
    let sent = sink(&base, Some("entra"))
        .send(Category::AuditLogs, "t1", &batch)
        .await
        .unwrap();
    let s = state.lock().unwrap();
    assert!(s.too_large > 0);
    assert_eq!(sent.records, 600);
    assert_eq!(sent.dead_letter.len(), 1);
    assert_eq!(sent.dead_letter[0].0, "huge");
    assert_eq!(s.records.len(), 600);
    assert!(s.records.iter().all(|(hub, _, _)| hub == "entra"));
}

#[tokio::test]
async fn a_hub_that_does_not_exist_is_refused_with_what_to_check() {
    let state = event_hubs::state(1_048_576);
    let base = event_hubs::start(state.clone()).await;
    let e = sink(&base, Some("no-such-hub"))
        .send(Category::AuditLogs, "t1", &records(3, 10))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("hub name"), "{e}");
    assert_eq!(state.lock().unwrap().records.len(), 0);
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_what_to_check() {
    let state = event_hubs::state(1_048_576);
    let base = event_hubs::start(state.clone()).await;
    let wrong = EventHubsSink::new(
        EventHubsTarget::from_connection_string(&format!(
            "Endpoint={base}/;SharedAccessKeyName=send;SharedAccessKey=not-the-key"
        ))
        .unwrap(),
    );
    let e = wrong
        .send(Category::AuditLogs, "t1", &records(3, 10))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401") && e.contains("Send claim"), "{e}");
    assert!(!e.contains("not-the-key"));
    assert_eq!(state.lock().unwrap().records.len(), 0);
}

#[tokio::test]
async fn a_managed_identity_sends_with_a_bearer_token() {
    use shared::destinations::event_hubs::EventHubsAuth;
    use shared::source::token::{TokenCache, TokenSource};
    let state = event_hubs::state(1_048_576);
    state.lock().unwrap().hubs = vec!["entra".into()];
    let base = event_hubs::start(state.clone()).await;
    let tokens = std::sync::Arc::new(TokenCache::new(TokenSource::ManagedIdentity {
        endpoint: format!("{base}/msi/token"),
        header: shared::config::Secret::new("h"),
        resource: "https://eventhubs.azure.net".into(),
        client_id: None,
    }));
    let sink = EventHubsSink::new(EventHubsTarget {
        endpoint: base.clone(),
        hub: Some("entra".into()),
        auth: EventHubsAuth::Bearer(tokens),
        max_request_bytes: 1_048_576,
    });
    let sent = sink
        .send(Category::RiskyUsers, "t1", &records(20, 10))
        .await
        .unwrap();
    assert_eq!(sent.records, 20);
    let s = state.lock().unwrap();
    assert_eq!((s.records.len(), s.unauthorised), (20, 0));
}
