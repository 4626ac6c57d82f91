//! Routing end to end: the simulated tenant's Graph server → collection → the embedded store,
//! Storage (a real Azurite), Log Analytics and Event Hubs (local servers enforcing their
//! documented contracts). Every destination is down while records are collected, then comes
//! back: the replay delivers everything — each destination every record once, counted (a
//! duplicate shows), with the key columns of the embedded table's row — the spool ends empty,
//! and nothing is sent twice by a later run.

mod support;
mod truth;

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use shared::clock::{Clock, FixedClock};
use shared::destinations::RetryPolicy;
use shared::destinations::Sink;
use shared::destinations::event_hubs::{EventHubsSink, EventHubsTarget};
use shared::destinations::log_analytics::{LogAnalyticsSink, LogAnalyticsTarget};
use shared::destinations::router::Router;
use shared::destinations::spool::Spool;
use shared::destinations::storage::{StorageSink, container};
use shared::model::{Category, Destination};
use shared::pipeline::{CollectSettings, Source, collect_category};
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::source::budget::Budget;
use shared::source::graph::GraphClient;
use shared::state::Outbox;
use shared::state::SqliteState;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use support::{azurite, event_hubs, ingestion};

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_pause: std::time::Duration::from_millis(20),
    }
}

async fn collect_all(
    store: &SqliteState,
    router: &Router,
    source: &Source,
    now: chrono::DateTime<Utc>,
    settings: &CollectSettings,
) -> (i64, i64) {
    let (mut new, mut spooled) = (0, 0);
    for category in Category::COLLECTED {
        let r = collect_category(store, router, source, category, now, settings, &|| true)
            .await
            .unwrap();
        assert!(r.completed && r.error.is_none(), "{r:?}");
        new += r.new + r.updated;
        spooled += r.batches_spooled;
    }
    (new, spooled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_down_for_a_while_receive_everything_once_back() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let sim = SimulatedTenant::new(7, 120);
    let tenant_id = sim.directory.tenant_id.clone();
    let server = SimServer::new(sim, clock.clone(), Faults::default());
    let graph = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();

    // Every external destination starts down: the two services answer 503, and Azurite is
    // not running yet on the port the Storage destination points at.
    let la = ingestion::state(256 * 1024);
    la.lock().unwrap().down = true;
    let la_base = ingestion::start(la.clone()).await;
    let eh = event_hubs::state(1_048_576);
    eh.lock().unwrap().down = true;
    let eh_base = event_hubs::start(eh.clone()).await;
    let az_port = support::free_port();

    let dir = std::env::temp_dir().join(format!("entra-routing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let routes: BTreeMap<Category, Vec<Destination>> = Category::ALL
        .iter()
        .map(|c| (*c, Destination::ALL.to_vec()))
        .collect();
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(
            StorageSink::new(azurite::target(&azurite::endpoint(az_port)))
                .unwrap()
                .with_retry(fast()),
        ),
        Box::new(
            LogAnalyticsSink::new(
                LogAnalyticsTarget {
                    endpoint: la_base.clone(),
                    dcr_immutable_id: ingestion::DCR.into(),
                },
                Some(ingestion::tokens(&la_base)),
            )
            .with_retry(fast()),
        ),
        Box::new(
            EventHubsSink::new(
                EventHubsTarget::from_connection_string(&event_hubs::connection_string(
                    &eh_base, None,
                ))
                .unwrap(),
            )
            .with_retry(fast()),
        ),
    ];
    let router = Router::new(routes, sinks, Spool::Folder(dir.join("spool")));
    let source = Source {
        tenant: tenant_id.clone(),
        graph_base: graph,
        client: GraphClient::new(
            Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
            Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
            Default::default(),
        ),
    };
    let settings = CollectSettings {
        // Two days: every category, risky users included, has records.
        backfill: Duration::hours(48),
        page_size: 400,
        ..Default::default()
    };

    // Down: two runs an hour apart; the second re-reads its overlap and adds the new hour.
    let (first, spooled_first) = collect_all(&store, &router, &source, t0, &settings).await;
    clock.advance(Duration::hours(1));
    let (second, spooled_second) =
        collect_all(&store, &router, &source, clock.now(), &settings).await;
    assert!(first > 0 && second > 0);
    let spooled = router.spool().list().await.unwrap();
    assert_eq!(spooled.len() as i64, spooled_first + spooled_second);
    assert!(
        store.outbox(0, 10).unwrap().is_empty(),
        "the outbox is empty"
    );
    let health = store.destination_health().unwrap();
    assert_eq!(health.len(), 3);
    assert!(
        health
            .iter()
            .all(|h| h.spooled_total > 0 && h.last_success.is_none() && h.last_error.is_some())
    );
    println!(
        "while down: {} records collected, {} batches spooled",
        first + second,
        spooled.len()
    );

    // Back up, with a 429 and a 5xx on the way; Azurite starts on the Storage port.
    {
        let mut s = la.lock().unwrap();
        s.down = false;
        s.script = [Some(429), None, Some(503)].into();
    }
    {
        let mut s = eh.lock().unwrap();
        s.down = false;
        s.script = [Some(429), Some(500)].into();
    }
    let az = azurite::start_on(az_port);
    let replay = router.replay(&store, clock.now()).await.unwrap();
    assert!(replay.errors.is_empty(), "{:?}", replay.errors);
    assert_eq!(replay.spool_left, 0);
    assert_eq!(replay.batches_replayed, spooled.len());
    assert!(
        router.spool().list().await.unwrap().is_empty(),
        "the spool ends empty"
    );

    // What each destination holds, per category, against what was collected.
    let blob = az.blob();
    let la_rows = la.lock().unwrap().rows.clone();
    let eh_records = eh.lock().unwrap().records.clone();
    let mut total = 0;
    for category in Category::COLLECTED {
        let collected: BTreeSet<String> = store
            .record_ids(&tenant_id, category)
            .unwrap()
            .into_iter()
            .collect();
        assert!(!collected.is_empty(), "{category}: nothing collected");
        total += collected.len();
        // The table people query, each row with its key columns.
        let embedded: BTreeMap<String, Vec<(&str, String)>> = store
            .embedded_rows(
                &tenant_id,
                category,
                t0 - Duration::days(30),
                t0 + Duration::days(30),
            )
            .unwrap()
            .iter()
            .map(|r| {
                let columns = truth::stored_key_columns(category, r);
                (columns[0].1.clone(), columns)
            })
            .collect();
        assert_eq!(
            embedded.keys().cloned().collect::<BTreeSet<_>>(),
            collected,
            "{category}: embedded store"
        );
        // Records Graph completed after publishing them (the MFA step added later).
        let revised: BTreeSet<String> = server
            .tenant()
            .records(
                category,
                t0 - Duration::days(3),
                t0 + Duration::days(1),
                None,
            )
            .into_iter()
            .filter(|r| r.revision.is_some())
            .map(|r| r.id)
            .collect();
        // Each record delivered once, its last copy with the table row's key columns; a
        // second copy only of a record Graph completed after it was first sent (as diagnostic
        // settings send the new version).
        let same = |copies: Vec<Vec<(&'static str, String)>>, destination: &str| {
            let mut by_id: BTreeMap<&str, Vec<&Vec<(&'static str, String)>>> = BTreeMap::new();
            for c in &copies {
                by_id.entry(c[0].1.as_str()).or_default().push(c);
            }
            assert_eq!(
                by_id.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
                collected,
                "{category}: {destination} holds {} copies of {} records",
                copies.len(),
                collected.len()
            );
            for (id, versions) in &by_id {
                assert!(
                    versions.len() == 1 || versions.len() == 2 && revised.contains(*id),
                    "{category}: {id} {} times in {destination}",
                    versions.len()
                );
                assert_eq!(
                    versions.last().copied(),
                    embedded.get(*id),
                    "{category}: {destination}'s last copy differs from the table's row"
                );
            }
        };
        let stream = LogAnalyticsTarget::stream(category);
        same(
            la_rows
                .iter()
                .filter(|(s, _)| *s == stream)
                .map(|(_, r)| {
                    // The custom tables name the record id RecordId.
                    let mut row = r.as_object().unwrap().clone();
                    if let Some(id) = row.remove("RecordId") {
                        row.insert("Id".into(), id);
                    }
                    truth::stored_key_columns(category, &row)
                })
                .collect(),
            "Log Analytics",
        );
        let hub = container(category);
        same(
            eh_records
                .iter()
                .filter(|(h, key, _)| *h == hub && *key == tenant_id)
                .map(|(_, _, r)| truth::key_columns(category, &r["properties"]))
                .collect(),
            "Event Hubs",
        );
        // Storage: every record on exactly one line, in the blob of its hour.
        let mut lines = Vec::new();
        for name in blob.list_blobs(&hub, "tenantId=").await.unwrap() {
            assert!(
                name.starts_with(&format!("tenantId={tenant_id}/y="))
                    && name.ends_with("/m=00/PT1H.json"),
                "{name}"
            );
            let text =
                String::from_utf8(blob.get(&format!("{hub}/{name}")).await.unwrap().unwrap())
                    .unwrap();
            for line in text.lines() {
                let r: Value = serde_json::from_str(line).unwrap();
                let time = chrono::DateTime::parse_from_rfc3339(r["time"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                assert_eq!(
                    shared::destinations::storage::blob_path(&tenant_id, time),
                    name
                );
                assert_eq!(r["category"], category.name());
                lines.push(truth::key_columns(category, &r["properties"]));
            }
        }
        same(lines, "Storage");
    }
    {
        let s = la.lock().unwrap();
        assert!(s.largest_call <= 256 * 1024 && s.throttled == 1);
        let e = eh.lock().unwrap();
        assert!(e.largest_request <= 1_048_576 && e.throttled == 1 && e.unauthorised == 0);
    }
    let health = store.destination_health().unwrap();
    assert!(
        health
            .iter()
            .all(|h| h.replayed_total > 0 && h.last_success.is_some() && h.bytes_sent > 0)
    );

    // Later runs re-read their overlap: nothing new, nothing sent again.
    let (la_before, eh_before) = (
        la.lock().unwrap().rows.len(),
        eh.lock().unwrap().records.len(),
    );
    clock.advance(Duration::minutes(1));
    let before: i64 = health.iter().map(|h| h.batches_sent).sum();
    for category in Category::COLLECTED {
        collect_category(
            &store,
            &router,
            &source,
            category,
            clock.now(),
            &settings,
            &|| true,
        )
        .await
        .unwrap();
    }
    let after: Vec<_> = store.destination_health().unwrap();
    let sent_after: i64 = after.iter().map(|h| h.batches_sent).sum();
    // Only records that became visible in that minute may be sent; none of the old ones.
    let new_la: Vec<String> = la.lock().unwrap().rows[la_before..]
        .iter()
        .map(|(_, r)| r["RecordId"].as_str().unwrap().to_string())
        .collect();
    let old: BTreeSet<String> = la_rows
        .iter()
        .map(|(_, r)| r["RecordId"].as_str().unwrap().to_string())
        .collect();
    assert!(
        new_la.iter().all(|id| !old.contains(id)),
        "a record was sent again"
    );
    println!(
        "back up: {total} records delivered to all four destinations; {} spooled batches replayed; a later run sent {} new batches ({} LA rows, {} events records)",
        replay.batches_replayed,
        sent_after - before,
        new_la.len(),
        eh.lock().unwrap().records.len() - eh_before
    );
    drop(az);
    std::fs::remove_dir_all(&dir).ok();
}
