//! People's actions on recommendations over HTTP, on a `serve` of the simulated tenant with API
//! keys: dismiss, postpone, complete and reactivate a recommendation or one of its resources,
//! recorded with the caller's name and reason; a caller whose key is for another tenant gets a
//! 403, a request without a credential a 401; a missing reason, a date in the past, an unknown
//! action or resource get a clear 400 or 404.

mod common;

use common::{Process, TempDir, free_port, wait_until_up};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const OPS: &str = "ops-key-for-the-simulated-tenant-0123";
const OTHER: &str = "key-for-another-tenant-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_are_recorded_and_limited_to_the_callers_tenants() {
    let tenant = shared::simulated::SimulatedTenant::new(7, 60)
        .directory
        .tenant_id;
    let keys = format!(
        "ops={}@{tenant};other={}@00000000-0000-0000-0000-0000000000aa",
        shared::auth::hash_key(OPS),
        shared::auth::hash_key(OTHER)
    );
    let dir = TempDir::new("rec-actions");
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", listen.as_str()),
            ("ENTRA_MONITOR_SIMULATED_SEED", "7"),
            ("ENTRA_MONITOR_SIMULATED_USERS", "60"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "2"),
            ("ENTRA_MONITOR_API_KEYS", keys.as_str()),
            ("ENTRA_MONITOR_RECOMMENDATION_WRITE_BACK", "true"),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let r = client
                .get(&url)
                .header("x-api-key", OPS)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let post = |path: String, key: Option<&'static str>, body: Value| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let mut r = client.post(&url).json(&body);
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // The recommendations, ours and Microsoft's, once the inventory is listed and evaluated.
    let start = Instant::now();
    let listed = loop {
        let (status, v) = get("/api/recommendations".into()).await;
        assert_eq!(status, 200, "{v}");
        let has = |source: &str| {
            v["value"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["source"] == source))
        };
        if has("entra-monitor") && has("microsoft") {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no recommendation in 120 s:\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let id_of = |kind: &str| {
        listed["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["recommendationType"] == kind)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{kind} not raised: {listed}"))
    };
    let one_admin = id_of("oneAdmin");
    let reason = json!({ "reason": "two break-glass accounts" });

    // Who may act: not without a credential, not with another tenant's key.
    let (status, _) = post(
        format!("/api/recommendations/{one_admin}/dismiss"),
        None,
        reason.clone(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/dismiss"),
        Some(OTHER),
        reason.clone(),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    // What an action needs.
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/dismiss"),
        Some(OPS),
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("reason"),
        "{v}"
    );
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/archive"),
        Some(OPS),
        reason.clone(),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/postpone"),
        Some(OPS),
        json!({ "reason": "later", "postponeUntilDateTime": "2020-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/postpone"),
        Some(OPS),
        reason.clone(),
    )
    .await;
    assert_eq!(status, 400, "{v}");

    // Dismissed by ops, with the reason in the history.
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/dismiss"),
        Some(OPS),
        reason.clone(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["lastModifiedBy"]),
        (&json!("dismissed"), &json!("ops"))
    );
    let (_, v) = get(format!("/api/recommendations/{one_admin}")).await;
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["to"], &last["by"], &last["reason"]),
        (
            &json!("dismissed"),
            &json!("ops"),
            &json!("two break-glass accounts")
        )
    );
    let (_, v) = get("/api/recommendations?status=dismissed".into()).await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1, "{v}");
    // Reactivated; then postponed a week.
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/reactivate"),
        Some(OPS),
        json!({ "reason": "reviewed" }),
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &json!("active")), "{v}");
    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/postpone"),
        Some(OPS),
        json!({ "reason": "after the audit", "postponeUntilDateTime": until }),
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &json!("postponed")), "{v}");
    assert!(v["postponeUntilDateTime"].is_string(), "{v}");

    // One resource: a Global Administrator marked done, another tenant's key refused.
    let (_, resources) = get(format!(
        "/api/recommendations/{one_admin}/impacted-resources"
    ))
    .await;
    let subject = resources["value"][0]["subjectId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/recommendations/{one_admin}/impacted-resources/{subject}/complete");
    let (status, _) = post(
        path.clone(),
        Some(OTHER),
        json!({ "reason": "role removed" }),
    )
    .await;
    assert_eq!(status, 403);
    let (status, v) = post(path, Some(OPS), json!({ "reason": "role removed" })).await;
    assert_eq!(
        (status, &v["status"]),
        (200, &json!("completedByUser")),
        "{v}"
    );
    let (status, v) = post(
        format!("/api/recommendations/{one_admin}/impacted-resources/nobody/dismiss"),
        Some(OPS),
        json!({ "reason": "x" }),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    microsoft_recommendations_are_acted_on_through_graph(&listed, &get, &post).await;
}

/// Microsoft's recommendations, listed beside ours: an action is sent to Graph (write-back is
/// on here) and kept as Graph answered it, with the caller and reason in the history; another
/// tenant's key is refused before anything is sent.
async fn microsoft_recommendations_are_acted_on_through_graph<G, GF, P, PF>(
    listed: &Value,
    get: &G,
    post: &P,
) where
    G: Fn(String) -> GF,
    GF: std::future::Future<Output = (u16, Value)>,
    P: Fn(String, Option<&'static str>, Value) -> PF,
    PF: std::future::Future<Output = (u16, Value)>,
{
    let microsoft: Vec<&Value> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == "microsoft")
        .collect();
    let kinds: Vec<&str> = microsoft
        .iter()
        .map(|r| r["recommendationType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "applicationCredentialExpiry",
            "selfServicePasswordReset",
            "staleApps"
        ],
        "as the simulated Graph lists them"
    );
    let sspr = microsoft[1]["id"].as_str().unwrap().to_string();
    assert!(sspr.ends_with("_Microsoft.Identity.IAM.Insights.SelfServicePasswordReset"));
    assert_eq!(microsoft[1]["status"], "active");
    let (_, only) =
        get("/api/recommendations?source=microsoft&type=selfServicePasswordReset".into()).await;
    assert_eq!(only["value"].as_array().unwrap().len(), 1, "{only}");
    let (status, resources) = get(format!(
        "/api/recommendations/{sspr}/impacted-resources?limit=2"
    ))
    .await;
    assert_eq!(status, 200, "{resources}");
    assert_eq!(resources["value"].as_array().unwrap().len(), 2);
    assert_eq!(resources["value"][0]["rank"], 1);
    let reason = json!({ "reason": "SSPR is run by the helpdesk" });
    let path = format!("/api/recommendations/{sspr}/dismiss");
    let (status, v) = post(path.clone(), Some(OTHER), reason.clone()).await;
    assert_eq!(status, 403, "{v}");
    let (status, v) = post(path, Some(OPS), reason).await;
    assert_eq!(status, 200, "{v}");
    // Graph's answer: dismissed, by the app that sent it.
    assert_eq!(
        (&v["status"], &v["lastModifiedBy"], &v["source"]),
        (
            &json!("dismissed"),
            &json!(shared::simulated::server::ACTOR),
            &json!("microsoft")
        ),
        "{v}"
    );
    let (_, v) = get(format!("/api/recommendations/{sspr}")).await;
    assert_eq!(v["status"], "dismissed", "{v}");
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["from"], &last["to"], &last["by"], &last["reason"]),
        (
            &json!("active"),
            &json!("dismissed"),
            &json!("ops"),
            &json!("SSPR is run by the helpdesk")
        )
    );
    // One resource postponed a week, through Graph too.
    let subject = resources["value"][0]["subjectId"].as_str().unwrap();
    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let (status, v) = post(
        format!("/api/recommendations/{sspr}/impacted-resources/{subject}/postpone"),
        Some(OPS),
        json!({ "reason": "after onboarding", "postponeUntilDateTime": until }),
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &json!("postponed")), "{v}");
    let (_, page) = get(format!(
        "/api/recommendations/{sspr}/impacted-resources?status=postponed"
    ))
    .await;
    assert_eq!(page["value"][0]["subjectId"], subject, "{page}");
}
