//! Recommendation alerts over days, to a local webhook receiver: the first evaluation alerts
//! each high-priority type that holds once, naming exactly its impacted resources; a day
//! with nothing new alerts nothing; a newly impacted resource is alerted alone; an alert the
//! webhook refuses waits in the outbox and is sent at the next evaluation, once; types below
//! the configured priority are never alerted. And recommendations as records: every change of
//! status becomes one row of `EntraMonitorRecommendations_CL`, in the embedded store and at the
//! local server enforcing the Logs Ingestion API, once.

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
use std::sync::Mutex;
use std::sync::atomic::Ordering;

#[path = "support/seeded_store.rs"]
mod seeded_store;
mod support;

const TENANT: &str = "t1";

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
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

/// A store with a week of a 60-user tenant's sign-ins and its inventory (Microsoft's
/// recommendations included), and the inventory.
fn seeded(name: &str) -> (SqliteState, Inventory, std::path::PathBuf) {
    let tenant = SimulatedTenant::new(33, 60);
    let dir = std::env::temp_dir().join(format!("entra-rec-{name}-{}", std::process::id()));
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
    (store, inventory, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_of_status_is_one_routed_record() {
    let (store, inventory, dir) = seeded("routed");
    let la = support::ingestion::state(256 * 1024);
    let base = support::ingestion::start(la.clone()).await;
    let category = Category::EntraMonitorRecommendations;
    let router = support::ingestion::router(&base, category, dir.join("spool"));
    let thresholds = Thresholds::default();
    let route = |at: DateTime<Utc>| {
        let published = recommend::publish::publish(&store, &router, TENANT, at).unwrap();
        let (router, store) = (&router, &store);
        async move {
            router.deliver(store, at).await.unwrap();
            published.rows
        }
    };
    // Day 1: every change the evaluation made (each type and each resource becoming active).
    recommend::run(&store, TENANT, end(), &thresholds).unwrap();
    let changes: usize = recommend::rules()
        .iter()
        .map(|d| store.recommendation_history(TENANT, d.kind).unwrap().len())
        .sum();
    assert!(changes > 30, "{changes}");
    assert_eq!(route(end()).await, changes as i64);
    let sent: Vec<Value> = la
        .lock()
        .unwrap()
        .rows
        .iter()
        .filter(|(stream, _)| stream == "Custom-EntraMonitorRecommendations_CL")
        .map(|(_, row)| row.clone())
        .collect();
    assert_eq!(sent.len(), changes, "one row per change at Log Analytics");
    let embedded = store
        .query_rows("SELECT COUNT(*) FROM \"EntraMonitorRecommendations\"", &[])
        .unwrap();
    assert_eq!(embedded[0][0], json!(changes), "and in the embedded store");
    // Each row says what changed, for which resource, to what, by whom.
    let admin = sent
        .iter()
        .find(|r| r["RecommendationType"] == "oneAdmin" && !r["SubjectId"].is_null())
        .expect("a Global Administrator's row");
    assert_eq!(
        (
            &admin["Status"],
            &admin["StatusFrom"],
            &admin["ChangedBy"],
            &admin["Priority"]
        ),
        (
            &json!("active"),
            &Value::Null,
            &json!("entra-monitor"),
            &json!("medium")
        )
    );
    assert_eq!(admin["ResourceType"], "user");
    assert!(admin["ResourceDisplayName"].is_string(), "{admin}");
    // Day 2, nothing changed: nothing routed. Then a person's dismissal: one row.
    let day2 = end() + Duration::days(1);
    seeded_store::sync(&store, TENANT, &inventory, day2);
    recommend::run(&store, TENANT, day2, &thresholds).unwrap();
    assert_eq!(route(day2).await, 0);
    let act = recommend::lifecycle::Action {
        status: recommend::lifecycle::DISMISSED,
        until: None,
        by: "ops",
        reason: "two break-glass accounts",
    };
    store
        .act_on_recommendation(TENANT, "oneAdmin", None, &act, day2)
        .unwrap()
        .unwrap();
    assert_eq!(route(day2).await, 1);
    let last = la.lock().unwrap().rows.last().unwrap().1.clone();
    assert_eq!(
        (
            &last["Status"],
            &last["StatusFrom"],
            &last["ChangedBy"],
            &last["Reason"]
        ),
        (
            &json!("dismissed"),
            &json!("active"),
            &json!("ops"),
            &json!("two break-glass accounts")
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_high_priority_recommendation_or_resource_is_alerted_once() {
    let (store, mut inventory, dir) = seeded("alerts");
    let (url, received, failing) = support::webhook::receiver().await;
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
