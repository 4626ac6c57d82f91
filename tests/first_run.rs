//! What a new user sees first: a fresh `serve` with no configuration (the simulated tenant of
//! 300 users, a 24-hour backfill) lists, once its start-up collection and detection ran, every
//! attack the simulated tenant injected in that window and nothing from normal traffic — each
//! detection's evidence true of the stored records.

mod common;

use common::{Process, TempDir, free_port, wait_until_up};
use serde_json::Value;
use shared::simulated::SimulatedTenant;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_serve_lists_the_window_s_attacks_and_nothing_else() {
    let dir = TempDir::new("first-run");
    let listen = format!("127.0.0.1:{}", free_port());
    // The defaults a new user gets: only the listener and the request budget differ (Graph's
    // 5 requests per 10 s would make this test wait minutes for the same records).
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_SIMULATED_USERS", "300"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // The start-up runs: collection of every category, then detection over what it stored.
    let start = Instant::now();
    loop {
        let h = get(format!("{base}/api/health")).await;
        let done = |name: &str| {
            h["functions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .is_some_and(|f| f["last_run"]["outcome"] == "succeeded" && f["running"] == false)
        };
        let detections_ran = done("detect-risks")
            && h["functions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == "detect-risks")
                .and_then(|f| f["last_run"]["detail"].as_str())
                .is_some_and(|d| !d.contains("waiting"));
        if done("collect-signins") && done("collect-audit") && detections_ran {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the start-up runs did not finish:\n{h}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answer = get(format!(
        "{base}/api/risk/detections?last=2d&limit=1000&source=entra-monitor"
    ))
    .await;
    let rows = answer["rows"].as_array().expect("rows");
    let now = chrono::Utc::now();
    let tenant = SimulatedTenant::new(1, 300);
    // Every detection comes from an injected attack.
    common::assert_all_from_attacks(
        rows,
        &tenant.attacks(now - chrono::Duration::hours(30), now),
    );
    // Every attack wholly inside the collected window is found by the detection of its kind.
    let attacks = tenant.attacks(
        now - chrono::Duration::hours(23),
        now - chrono::Duration::minutes(30),
    );
    // Unfamiliar sign-in properties need a user's history, which a first day does not give.
    for a in attacks
        .iter()
        .filter(|a| a.kind != shared::simulated::attacks::AttackKind::UnfamiliarSignIn)
    {
        let name = a.kind.detection().name();
        let found = rows.iter().any(|r| {
            r["name"] == name
                && r["record_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|id| a.record_ids.contains(&id.as_str().unwrap().to_string()))
        });
        assert!(
            found,
            "{:?} at {} not listed; listed: {:#?}",
            a.kind,
            a.start,
            rows.iter()
                .map(|r| (
                    r["name"].clone(),
                    r["user"].clone(),
                    r["first_seen"].clone()
                ))
                .collect::<Vec<_>>()
        );
    }
}
