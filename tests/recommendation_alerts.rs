//! Recommendation alerts over days, to a local webhook receiver: the first evaluation alerts
//! each high-priority type that holds once, naming exactly its impacted resources; a day
//! with nothing new alerts nothing; a newly impacted resource is alerted alone; an alert the
//! webhook refuses waits in the outbox and is sent at the next evaluation, once; types below
//! the configured priority are never alerted.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::config::Secret;
use shared::detect::RiskLevel;
use shared::detect::alerts::{AlertFormat, AlertSettings};
use shared::model::Category;
use shared::recommend::{self, Thresholds};
use shared::simulated::SimulatedTenant;
use shared::simulated::inventory::Inventory;
use shared::simulated::usage_reports;
use shared::state::SqliteState;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use warp::Filter;

#[path = "support/seeded_store.rs"]
mod seeded_store;

const TENANT: &str = "t1";

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

/// A webhook receiver: what it received, and a switch that makes it answer 503.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>, Arc<AtomicBool>) {
    let received: Arc<Mutex<Vec<Value>>> = Default::default();
    let failing = Arc::new(AtomicBool::new(false));
    let (r, f) = (received.clone(), failing.clone());
    let hook = warp::post()
        .and(warp::path!("hook"))
        .and(warp::body::json())
        .map(move |body: Value| {
            if f.load(Ordering::SeqCst) {
                return warp::reply::with_status(
                    "busy",
                    warp::http::StatusCode::SERVICE_UNAVAILABLE,
                );
            }
            r.lock().unwrap().push(body);
            warp::reply::with_status("ok", warp::http::StatusCode::OK)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(hook).incoming(listener).run());
    (url, received, failing)
}

/// What was received since `from`: (type, newly impacted subject ids).
fn alerted(received: &Mutex<Vec<Value>>, from: usize) -> Vec<(String, BTreeSet<String>)> {
    received.lock().unwrap()[from..]
        .iter()
        .map(|m| {
            assert_eq!(m["source"], "entra-monitor");
            assert_eq!(m["tenant"], TENANT);
            let r = &m["recommendation"];
            let ids = r["newlyImpacted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["subjectId"].as_str().unwrap().to_string())
                .collect();
            (r["recommendationType"].as_str().unwrap().to_string(), ids)
        })
        .collect()
}

/// The subject ids of a type's active impacted resources, as stored.
fn active(store: &SqliteState, kind: &str) -> BTreeSet<String> {
    store
        .impacted_resources(TENANT, kind)
        .unwrap()
        .into_iter()
        .filter(|r| r["status"] == "active")
        .map(|r| r["subjectId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_high_priority_recommendation_or_resource_is_alerted_once() {
    let tenant = SimulatedTenant::new(33, 60);
    let dir = std::env::temp_dir().join(format!("entra-rec-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    seeded_store::load(
        &store,
        TENANT,
        &tenant,
        &[Category::SignInLogs, Category::ServicePrincipalSignInLogs],
        end() - Duration::days(7),
        end(),
    );
    let mut inventory = Inventory::generate(tenant.seed, &tenant.directory, end());
    usage_reports::fill_from_logs(&mut inventory, &tenant, end());
    seeded_store::sync(&store, TENANT, &inventory, end());
    let (url, received, failing) = receiver().await;
    let webhook = AlertSettings {
        url: Secret::new(url),
        format: AlertFormat::Generic,
        min_level: RiskLevel::Medium,
        max_per_hour: 30,
    };
    let thresholds = Thresholds::default();
    let evaluate = |at: DateTime<Utc>| {
        let outcomes = recommend::run(&store, TENANT, at, &thresholds).unwrap();
        let (store, webhook) = (&store, &webhook);
        async move {
            recommend::alerts::send(store, TENANT, &outcomes, "high", webhook, at)
                .await
                .unwrap()
        }
    };

    // Day 1: every high-priority type that holds, once, naming all its resources.
    let report = evaluate(end()).await;
    let high: Vec<&str> = recommend::rules()
        .iter()
        .filter(|d| d.priority == "high" && !active(&store, d.kind).is_empty())
        .map(|d| d.kind)
        .collect();
    assert!(
        high.len() >= 3,
        "the seeded tenant has high-priority conditions: {high:?}"
    );
    let got = alerted(&received, 0);
    assert_eq!(report.sent, high.len());
    assert_eq!(
        got.iter().map(|(k, _)| k.as_str()).collect::<BTreeSet<_>>(),
        high.iter().copied().collect::<BTreeSet<_>>(),
        "one alert per high-priority type, none for the others"
    );
    for (kind, ids) in &got {
        assert_eq!(
            ids,
            &active(&store, kind),
            "{kind}: the alert names its impacted resources"
        );
    }

    // Day 2, nothing new: nothing sent.
    let day2 = end() + Duration::days(1);
    seeded_store::sync(&store, TENANT, &inventory, day2);
    let report = evaluate(day2).await;
    assert_eq!(
        (report.sent, received.lock().unwrap().len()),
        (0, got.len())
    );

    // Day 3: an app gets a secret expiring in five days while the webhook is down: the alert
    // waits. Day 4, nothing new and the webhook up: it goes out, alone.
    let day3 = day2 + Duration::days(1);
    let app = &mut inventory.applications[0];
    let key_id = "9d3c1a00-0000-4000-8000-00000000abcd";
    app["passwordCredentials"]
        .as_array_mut()
        .expect("an app's secrets")
        .push(json!({
            "customKeyIdentifier": null, "displayName": "rotated", "hint": "abc", "keyId": key_id,
            "secretText": null, "startDateTime": "2026-11-27T00:00:00Z",
            "endDateTime": (day3 + Duration::days(5)).to_rfc3339(),
        }));
    seeded_store::sync(&store, TENANT, &inventory, day3);
    let before = active(&store, "applicationCredentialExpiry");
    failing.store(true, Ordering::SeqCst);
    let report = evaluate(day3).await;
    assert_eq!((report.sent, report.failed), (0, 1));
    let newly: BTreeSet<String> = active(&store, "applicationCredentialExpiry")
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(newly.len(), 1, "the new secret is a resource of its own");
    failing.store(false, Ordering::SeqCst);
    let day4 = day3 + Duration::days(1);
    seeded_store::sync(&store, TENANT, &inventory, day4);
    let report = evaluate(day4).await;
    assert_eq!(report.sent, 1);
    assert_eq!(
        alerted(&received, got.len()),
        [("applicationCredentialExpiry".to_string(), newly)]
    );
    // And never again.
    let day5 = day4 + Duration::days(1);
    seeded_store::sync(&store, TENANT, &inventory, day5);
    assert_eq!(evaluate(day5).await.sent, 0);
    assert_eq!(received.lock().unwrap().len(), got.len() + 1);
    std::fs::remove_dir_all(&dir).ok();
}
