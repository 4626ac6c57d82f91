//! The collector process is killed (SIGKILL) in the middle of a backfill; the next run picks
//! up from the stored checkpoint, and the tables then hold exactly what Graph served over the
//! window the configuration asks for — taken from the test's clock and settings, not from what
//! the collector says it did — nothing missing, nothing twice, nothing from outside it.

mod common;

use chrono::Utc;
use common::{CLIENT_ID, Process, SECRET, TempDir, identity_platform, run_ok};
use shared::clock::FixedClock;
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::state::Checkpoints;
use shared::state::SqliteState;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIGN_INS: [Category; 4] = [
    Category::SignInLogs,
    Category::NonInteractiveUserSignInLogs,
    Category::ServicePrincipalSignInLogs,
    Category::ManagedIdentitySignInLogs,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_collector_resumes_and_the_store_matches_graph_exactly() {
    // Graph answers every page slowly, so the kill lands mid-backfill. Visibility is frozen at
    // the test's start, so the ground truth is fixed.
    let as_of = Utc::now();
    let faults = Faults {
        slow: 1.0,
        slow_ms: 150,
        required_token: Some("token-from-secret".into()),
        ..Default::default()
    };
    let server = SimServer::new(
        SimulatedTenant::new(8, 150),
        Arc::new(FixedClock::new(as_of)),
        faults,
    );
    let graph = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let identity = identity_platform(graph.clone()).await;
    let dir = TempDir::new("crash");
    let env = [
        ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
        ("ENTRA_MONITOR_CLIENT_ID", CLIENT_ID),
        ("ENTRA_MONITOR_CLIENT_SECRET", SECRET),
        ("ENTRA_MONITOR_AUTHORITY_HOST", identity.base.as_str()),
        ("ENTRA_MONITOR_GRAPH_HOST", graph.as_str()),
        ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
    ];

    let mut victim = Process::start(dir.path(), &["run", "collect-signins"], &env);
    let db = dir.path().join("data");
    let start = Instant::now();
    let mut stored_before_kill = 0;
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(store) = SqliteState::open(&db) {
            stored_before_kill = SIGN_INS
                .iter()
                .map(|c| {
                    store
                        .record_ids("contoso.onmicrosoft.com", *c)
                        .map(|i| i.len())
                        .unwrap_or(0)
                })
                .sum();
        }
        if stored_before_kill > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-KILL", &victim.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    victim.wait_exit(Duration::from_secs(10)).expect("killed");
    assert!(
        stored_before_kill > 0,
        "nothing was stored before the kill:\n{}",
        victim.logs()
    );

    run_ok(dir.path(), &["run", "collect-signins"], &env);

    // The window the configuration asks for: the backfill (24 h) before the first run to the
    // settle time (2 minutes, the default) before the last. The first run started within a
    // minute of `as_of`; records of that first minute may or may not be in its window.
    let backfill = chrono::Duration::hours(24);
    let settle = chrono::Duration::minutes(2);
    let margin = chrono::Duration::minutes(1);
    let store = SqliteState::open(&db).unwrap();
    let mut total = 0;
    for category in SIGN_INS {
        let required: BTreeSet<String> = server
            .tenant()
            .records(
                category,
                as_of - backfill + margin,
                as_of - settle,
                Some(as_of),
            )
            .into_iter()
            .map(|r| r.id)
            .collect();
        let allowed: BTreeSet<String> = server
            .tenant()
            .records(category, as_of - backfill, Utc::now(), Some(as_of))
            .into_iter()
            .map(|r| r.id)
            .collect();
        // What people query: the category's table, not the collector's ledger.
        let rows = store
            .embedded_rows(
                "contoso.onmicrosoft.com",
                category,
                as_of - chrono::Duration::days(30),
                Utc::now() + chrono::Duration::days(1),
            )
            .unwrap();
        let stored: BTreeSet<String> = rows
            .iter()
            .map(|r| r["Id"].as_str().unwrap().to_string())
            .collect();
        println!(
            "{category}: {} required, {} stored",
            required.len(),
            stored.len()
        );
        assert_eq!(
            rows.len(),
            stored.len(),
            "{category}: a record stored twice"
        );
        let missing: Vec<_> = required.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "{category}: {} records missing",
            missing.len()
        );
        let extra: Vec<_> = stored.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{category}: records from outside the window: {extra:?}"
        );
        // The collector says it reached the end of the window, too.
        let checkpoint = store
            .checkpoint("contoso.onmicrosoft.com", category)
            .unwrap()
            .unwrap();
        assert!(
            checkpoint.window_to.unwrap() >= as_of - settle,
            "{category}: the last window ended at {:?}",
            checkpoint.window_to
        );
        total += stored.len();
    }
    println!("{stored_before_kill} records stored before the kill; {total} after the second run");
    assert!(total > stored_before_kill);
}
