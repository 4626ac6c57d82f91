//! Collection end to end over real HTTP: the simulated tenant's Graph server (with injected
//! faults) → the Graph client → normalisation → the SQLite store, compared with the tenant's
//! ground truth: every Entra table holds each generated record once, with the columns that
//! matter as its Graph JSON says (read by test code, `tests/truth`), and nothing else.

mod truth;

use chrono::{Duration, TimeZone, Utc};
use shared::clock::{Clock, FixedClock};
use shared::destinations::router::Router;
use shared::model::Category;
use shared::pipeline::{CollectSettings, Source, collect_category};
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::source::budget::Budget;
use shared::source::graph::{GraphClient, RetryPolicy};
use shared::state::Checkpoints;
use shared::state::SqliteState;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("entra-collect-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fast_client(timeout_ms: u64) -> GraphClient {
    GraphClient::new(
        Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
        Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
        RetryPolicy {
            max_attempts: 10,
            base_delay: std::time::Duration::from_millis(2),
            max_delay: std::time::Duration::from_millis(50),
            request_timeout: std::time::Duration::from_millis(timeout_ms),
        },
    )
}

async fn start(
    tenant: SimulatedTenant,
    clock: Arc<FixedClock>,
    faults: Faults,
) -> (Arc<SimServer>, String) {
    let server = SimServer::new(tenant, clock, faults);
    let base = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (server, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_injected_faults_every_record_is_stored_exactly_once() {
    // A Wednesday afternoon: the working day's activity is in the backfill.
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let faults = Faults {
        throttle: 0.04,
        throttle_without_retry_after: 0.04,
        server_error: 0.05,
        slow: 0.02,
        slow_ms: 400,
        truncate: 0.05,
        cut_mid_stream: 0.05,
        expire_skiptoken: 0.05,
        duplicate_across_pages: true,
        ..Default::default()
    };
    let (server, base) = start(SimulatedTenant::new(42, 1500), clock.clone(), faults).await;
    let dir = temp_dir("faults");
    let store = SqliteState::open(&dir).unwrap();
    let router = Router::embedded_only(dir.join("spool"));
    // Requests slower than 200 ms time out: the slow answers become timeouts.
    let source = Source {
        tenant: "sim".into(),
        graph_base: base,
        client: fast_client(200),
    };
    let settings = CollectSettings {
        backfill: Duration::hours(10),
        page_size: 250,
        ..Default::default()
    };
    let start_of_history = t0 - settings.backfill;

    let always = || true;
    let (mut stopped, mut killed) = (0, 0);
    for run in 0..8 {
        let now = clock.now();
        for category in Category::COLLECTED {
            match run {
                // A collector that stops after two pages (time budget reached, or shutdown).
                2 => {
                    let pages = AtomicUsize::new(0);
                    let stop_after_two = || pages.fetch_add(1, Ordering::SeqCst) < 2;
                    let report = collect_category(
                        &store,
                        &router,
                        &source,
                        category,
                        now,
                        &settings,
                        &stop_after_two,
                    )
                    .await
                    .unwrap();
                    stopped += usize::from(!report.completed);
                }
                // A collector killed mid-run: its future is dropped wherever it is.
                4 => {
                    let run = tokio::time::timeout(
                        std::time::Duration::from_millis(30),
                        collect_category(
                            &store, &router, &source, category, now, &settings, &always,
                        ),
                    )
                    .await;
                    killed += usize::from(run.is_err());
                }
                // A whole run reads its whole window, whatever Graph does (expired next-page
                // links included).
                _ => {
                    let report = collect_category(
                        &store, &router, &source, category, now, &settings, &always,
                    )
                    .await
                    .unwrap();
                    assert!(report.completed, "{report:?}");
                }
            }
        }
        clock.advance(Duration::minutes(7));
    }
    // The runs cut short were cut short (or this test proves nothing about resuming them).
    assert!(stopped > 0, "no collection stopped after two pages");
    assert!(killed > 0, "no collection was killed mid-run");
    assert_retry_after_honoured(&server);
    // Let every late record become visible, then one last run.
    clock.advance(Duration::hours(7));
    let last = clock.now();
    let mut reports = Vec::new();
    for category in Category::COLLECTED {
        reports.push(
            collect_category(&store, &router, &source, category, last, &settings, &always)
                .await
                .unwrap(),
        );
    }
    assert!(
        reports.iter().all(|r| r.completed && r.error.is_none()),
        "{reports:#?}"
    );

    let mut total = 0;
    println!(
        "{:<30} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "category", "truth", "stored", "missing", "extra", "differ"
    );
    let (mut revised, mut late_lost, mut late_total) = (0, 0, 0);
    for category in Category::COLLECTED {
        // The generator's records, each with the columns that matter read from its JSON as
        // Graph serves it now (records completed after publication in their final version)...
        let records = server.tenant().records(
            category,
            start_of_history,
            last - settings.settle,
            Some(last),
        );
        revised += records.iter().filter(|r| r.revision.is_some()).count();
        // Published later than the overlap (and settle) after its event, a record is past
        // every run's window by the time it shows: lost, by design (README, "late records").
        let reach = settings.overlap(category) + settings.settle;
        let too_late: BTreeMap<&str, Duration> = records
            .iter()
            .filter(|r| r.visible_at - r.time > reach)
            .map(|r| (r.id.as_str(), r.visible_at - r.time))
            .collect();
        let truth: BTreeMap<String, Vec<(&str, String)>> = records
            .iter()
            .map(|r| (r.id.clone(), truth::key_columns(category, r.json_at(last))))
            .collect();
        // ...against the table people query (not the collector's ledger).
        let rows = store
            .embedded_rows(
                "sim",
                category,
                start_of_history - Duration::days(30),
                last + Duration::days(1),
            )
            .unwrap();
        let stored: BTreeMap<String, Vec<(&str, String)>> = rows
            .iter()
            .map(|r| {
                let columns = truth::stored_key_columns(category, r);
                (columns[0].1.clone(), columns)
            })
            .collect();
        assert_eq!(rows.len(), stored.len(), "{category}: an id stored twice");
        let lost: Vec<&String> = truth
            .keys()
            .filter(|id| !stored.contains_key(*id))
            .collect();
        let missing = lost
            .iter()
            .filter(|id| !too_late.contains_key(id.as_str()))
            .count();
        late_lost += lost.len() - missing;
        late_total += too_late.len();
        let extra = stored.keys().filter(|id| !truth.contains_key(*id)).count();
        let changed: Vec<_> = truth
            .iter()
            .filter_map(|(id, want)| {
                let got = stored.get(id)?;
                (got != want).then(|| (want.clone(), got.clone()))
            })
            .collect();
        println!(
            "{:<30} {:>8} {:>8} {:>8} {:>8} {:>8}",
            category.name(),
            truth.len(),
            stored.len(),
            missing,
            extra,
            changed.len()
        );
        assert_eq!(
            (missing, extra),
            (0, 0),
            "{category}: stored set differs from the generated set"
        );
        assert!(
            changed.is_empty(),
            "{category}: {} rows differ from their records, e.g. {:?}",
            changed.len(),
            changed.first()
        );
        total += truth.len();
    }
    let stats = server.stats();
    println!(
        "total {total} records, {revised} completed after publication, {late_total} published later than overlap + settle of which {late_lost} lost; server: {stats:?}"
    );
    assert!(revised > 0 && late_lost > 0);
    assert!(stats.cut > 0 && stats.expired > 0, "{stats:?}");
    assert!(total >= 50_000, "only {total} records generated");
    assert!(
        stats.throttled > 0 && stats.server_errors > 0 && stats.truncated > 0,
        "{stats:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_refused_category_is_named_and_paused_while_the_others_go_on() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let faults = Faults {
        unlicensed: vec![Category::SignInLogs],
        forbidden: vec![Category::UserRiskEvents],
        unlicensed_workload_reports: true,
        ..Default::default()
    };
    let (server, base) = start(SimulatedTenant::new(3, 100), clock.clone(), faults).await;
    let dir = temp_dir("refused");
    let store = SqliteState::open(&dir).unwrap();
    let router = Router::embedded_only(dir.join("spool"));
    let source = Source {
        tenant: "sim".into(),
        graph_base: base,
        client: fast_client(5_000),
    };
    let settings = CollectSettings {
        backfill: Duration::hours(3),
        ..Default::default()
    };
    let always = || true;

    let refused = collect_category(
        &store,
        &router,
        &source,
        Category::SignInLogs,
        t0,
        &settings,
        &always,
    )
    .await
    .unwrap();
    let error = refused.error.clone().unwrap();
    assert!(
        error.contains("Authentication_RequestFromNonPremiumTenantOrB2CTenant")
            && error.contains("P1 or P2"),
        "{error}"
    );
    assert!(!refused.completed);
    // Sign-ins are core: a missing licence fails the run (and pauses the category) until fixed.
    assert!(!refused.paused);
    assert_eq!(refused.requests, 1, "a refusal is not retried");
    // A missing permission is named with the permission to grant.
    let denied = collect_category(
        &store,
        &router,
        &source,
        Category::UserRiskEvents,
        t0,
        &settings,
        &always,
    )
    .await
    .unwrap();
    let error = denied.error.clone().unwrap();
    assert!(
        error.contains("Authorization_RequestDenied")
            && error.contains("IdentityRiskEvent.Read.All"),
        "{error}"
    );
    assert_eq!(denied.requests, 1);
    // Service principals' risk needs Workload ID Premium: said so, not a permission to grant.
    for category in [
        Category::ServicePrincipalRiskEvents,
        Category::RiskyServicePrincipals,
    ] {
        let paused = collect_category(&store, &router, &source, category, t0, &settings, &always)
            .await
            .unwrap();
        let error = paused.error.clone().unwrap();
        assert!(error.contains("Workload ID Premium"), "{error}");
        assert!(!paused.completed);
        // Most tenants lack the add-on: paused at once, which does not fail the run.
        assert!(paused.paused);
    }
    let other = collect_category(
        &store,
        &router,
        &source,
        Category::NonInteractiveUserSignInLogs,
        t0,
        &settings,
        &always,
    )
    .await
    .unwrap();
    assert!(other.completed && other.records > 0, "{other:?}");

    // The next run does not ask Graph again for the paused category.
    clock.advance(Duration::minutes(5));
    let before = server.stats().requests;
    let again = collect_category(
        &store,
        &router,
        &source,
        Category::SignInLogs,
        clock.now(),
        &settings,
        &always,
    )
    .await
    .unwrap();
    assert!(again.paused && again.error.unwrap().contains("paused until"));
    assert_eq!(server.stats().requests, before);
    let checkpoint = store
        .checkpoint("sim", Category::SignInLogs)
        .unwrap()
        .unwrap();
    assert!(
        checkpoint.paused_until.is_some() && checkpoint.last_error.unwrap().contains("P1 or P2")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_share_the_app_budget_and_neither_starves() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    // Each tenant alone could send 5 requests a second; the app may send 6 in all.
    let app_budget = Arc::new(Budget::new(6, std::time::Duration::from_secs(1)));
    let retry = RetryPolicy::default();
    let mut tenants = Vec::new();
    for seed in [11, 12] {
        // Both tenants' Graph throttles a burst of requests at the same moment.
        let faults = Faults {
            throttle_burst: Some(shared::simulated::server::ThrottleBurst {
                first: 4,
                count: 3,
                seconds: 2,
            }),
            ..Default::default()
        };
        let (server, base) = start(SimulatedTenant::new(seed, 300), clock.clone(), faults).await;
        let client = GraphClient::new(
            Arc::new(Budget::new(5, std::time::Duration::from_secs(1))),
            app_budget.clone(),
            retry.clone(),
        );
        tenants.push((
            server,
            Source {
                tenant: format!("tenant-{seed}"),
                graph_base: base,
                client,
            },
        ));
    }
    let dir = temp_dir("two-tenants");
    let store = SqliteState::open(&dir).unwrap();
    let router = Router::embedded_only(dir.join("spool"));
    let settings = CollectSettings {
        backfill: Duration::hours(3),
        page_size: 100,
        ..Default::default()
    };
    let always = || true;
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(
        collect_category(
            &store,
            &router,
            &tenants[0].1,
            Category::NonInteractiveUserSignInLogs,
            t0,
            &settings,
            &always
        ),
        collect_category(
            &store,
            &router,
            &tenants[1].1,
            Category::NonInteractiveUserSignInLogs,
            t0,
            &settings,
            &always
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.completed && b.completed, "{a:?} {b:?}");
    assert!(
        a.requests >= 10 && b.requests >= 10,
        "too few pages to show sharing: {a:?} {b:?}"
    );

    // Each burst was waited out as Graph asked...
    for (server, _) in &tenants {
        assert_eq!(server.stats().throttled, 3);
        assert_retry_after_honoured(server);
    }
    // ...together they never exceeded the app's budget (6 per second)...
    let mut all: Vec<(std::time::Instant, usize)> = Vec::new();
    for (i, (server, _)) in tenants.iter().enumerate() {
        all.extend(server.arrivals().into_iter().map(|t| (t, i)));
    }
    all.sort();
    for (k, (t, _)) in all.iter().enumerate() {
        let in_window = all[k..]
            .iter()
            .take_while(|(u, _)| u.duration_since(*t) < std::time::Duration::from_millis(950))
            .count();
        assert!(in_window <= 6, "{in_window} requests within one second");
    }
    // ...and while both were collecting, each got a fair share of it.
    let both_active = all.len().min(2 * a.requests.min(b.requests) as usize);
    let first_share =
        all[..both_active].iter().filter(|(_, i)| *i == 0).count() as f64 / both_active as f64;
    println!(
        "tenant A {} requests, tenant B {} requests, {:.1} s; A's share while both ran: {:.2}",
        a.requests,
        b.requests,
        started.elapsed().as_secs_f64(),
        first_share
    );
    assert!(
        (0.35..=0.65).contains(&first_share),
        "one tenant starved the other: A's share {first_share:.2}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn risky_user_actions_are_posted_and_graph_then_lists_the_new_state() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let tenant = SimulatedTenant::new(4, 40);
    let user = tenant.directory.users[3].clone();
    let (_server, base) = start(tenant, clock.clone(), Faults::default()).await;
    let client = fast_client(5_000);
    let mut counters = Default::default();
    let actions = format!("{base}/v1.0/identityProtection/riskyUsers");
    client
        .post(
            &format!("{actions}/dismiss"),
            &serde_json::json!({ "userIds": [user.id] }),
            &mut counters,
        )
        .await
        .unwrap();
    // Bodies Graph would refuse, and an action that does not exist.
    for (path, body) in [
        ("dismiss", serde_json::json!({ "userIds": [] })),
        ("dismiss", serde_json::json!({ "ids": [user.id] })),
        ("forgive", serde_json::json!({ "userIds": [user.id] })),
    ] {
        let e = client
            .post(&format!("{actions}/{path}"), &body, &mut counters)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                shared::source::graph::GraphError::Rejected {
                    status: 400 | 404,
                    ..
                }
            ),
            "{path} {body}: {e}"
        );
    }
    clock.advance(Duration::minutes(1));
    client
        .post(
            &format!("{actions}/confirmCompromised"),
            &serde_json::json!({ "userIds": [user.id] }),
            &mut counters,
        )
        .await
        .unwrap();
    let page = client
        .page(
            &format!("{actions}?$filter=riskLastUpdatedDateTime+ge+2026-11-25T16:59:00Z"),
            &mut counters,
        )
        .await
        .unwrap();
    let states: Vec<(&str, &str)> = page
        .value
        .iter()
        .filter(|r| r["id"] == user.id.as_str())
        .map(|r| {
            assert_eq!(r["userPrincipalName"], user.user_principal_name.as_str());
            (
                r["riskState"].as_str().unwrap(),
                r["riskLevel"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first, as Graph lists.
    assert_eq!(
        states,
        [("confirmedCompromised", "high"), ("dismissed", "none")]
    );
}

/// Graph's Retry-After was honoured: no request that got a 429 came back sooner.
fn assert_retry_after_honoured(server: &SimServer) {
    let requests = server.requests();
    let throttles = server.retry_afters();
    assert!(!throttles.is_empty());
    for (at, request, seconds) in &throttles {
        if let Some((again, _)) = requests.iter().find(|(t, r)| t > at && r == request) {
            assert!(
                *again - *at >= std::time::Duration::from_millis(seconds * 1000 - 20),
                "{request} asked again {:?} after a 429 with Retry-After: {seconds}",
                *again - *at
            );
        }
    }
}

/// A simulated Graph with `faults`, an empty store, and a source reading it as tenant "sim".
struct Rig {
    server: Arc<SimServer>,
    store: SqliteState,
    router: Router,
    source: Source,
    dir: std::path::PathBuf,
}

async fn rig(label: &str, tenant: SimulatedTenant, clock: Arc<FixedClock>, faults: Faults) -> Rig {
    let (server, base) = start(tenant, clock, faults).await;
    let dir = temp_dir(label);
    Rig {
        server,
        store: SqliteState::open(&dir).unwrap(),
        router: Router::embedded_only(dir.join("spool")),
        source: Source {
            tenant: "sim".into(),
            graph_base: base,
            client: fast_client(2_000),
        },
        dir,
    }
}

impl Rig {
    /// The ids the embedded table holds for `category`.
    fn stored(
        &self,
        category: Category,
        until: chrono::DateTime<Utc>,
    ) -> std::collections::BTreeSet<String> {
        self.store
            .embedded_rows("sim", category, until - Duration::days(2), until)
            .unwrap()
            .iter()
            .map(|r| truth::stored_key_columns(category, r)[0].1.clone())
            .collect()
    }
}

/// Pages served out of the requested order (the second and third of every three swapped),
/// a run stopped after two pages, and an overlap too short to help: the watermark moved
/// only as far as the pages proved, so the resumed run reads what the stopped one skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_out_of_order_and_a_run_stopped_between_them_lose_nothing() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let faults = Faults {
        swap_pages: true,
        ..Default::default()
    };
    let r = rig(
        "swapped",
        SimulatedTenant::new(5, 300),
        clock.clone(),
        faults,
    )
    .await;
    let category = Category::NonInteractiveUserSignInLogs;
    let settings = CollectSettings {
        backfill: Duration::hours(4),
        page_size: 100,
        overlaps: [(category, Duration::seconds(1))].into(),
        ..Default::default()
    };
    let pages = AtomicUsize::new(0);
    let stop_after_two = || pages.fetch_add(1, Ordering::SeqCst) < 2;
    let report = collect_category(
        &r.store,
        &r.router,
        &r.source,
        category,
        t0,
        &settings,
        &stop_after_two,
    )
    .await
    .unwrap();
    assert!(!report.completed);
    assert!(r.server.stats().swapped > 0, "{:?}", r.server.stats());
    let later = t0 + Duration::minutes(10);
    let report = collect_category(
        &r.store,
        &r.router,
        &r.source,
        category,
        later,
        &settings,
        &|| true,
    )
    .await
    .unwrap();
    assert!(report.completed && report.error.is_none(), "{report:?}");
    let truth: std::collections::BTreeSet<String> = r
        .server
        .tenant()
        .records(
            category,
            t0 - settings.backfill,
            t0 - settings.settle,
            Some(t0),
        )
        .into_iter()
        .map(|r| r.id)
        .collect();
    let stored = r.stored(category, later);
    let missing: Vec<_> = truth.difference(&stored).collect();
    assert!(truth.len() > 300, "{} records", truth.len());
    assert!(
        missing.is_empty(),
        "{} of {} missing",
        missing.len(),
        truth.len()
    );
    std::fs::remove_dir_all(&r.dir).ok();
}

/// Records published hours late (past the 2-hour overlap) are caught by a longer overlap: 24
/// runs ten minutes apart with the sign-ins' overlap raised to 7 hours lose none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_overlap_catches_records_published_hours_late() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let r = rig(
        "late",
        SimulatedTenant::new(8, 600),
        clock.clone(),
        Faults::default(),
    )
    .await;
    let category = Category::NonInteractiveUserSignInLogs;
    let settings = CollectSettings {
        backfill: Duration::hours(1),
        page_size: 1000,
        overlaps: [(category, Duration::hours(7))].into(),
        ..Default::default()
    };
    for _ in 0..48 {
        collect_category(
            &r.store,
            &r.router,
            &r.source,
            category,
            clock.now(),
            &settings,
            &|| true,
        )
        .await
        .unwrap();
        clock.advance(Duration::minutes(10));
    }
    let end = clock.now() - Duration::minutes(10);
    let records = r.server.tenant().records(
        category,
        t0 - settings.backfill,
        end - settings.settle,
        Some(end),
    );
    let very_late = records
        .iter()
        .filter(|r| r.visible_at - r.time > Duration::hours(2) + settings.settle)
        .count();
    let stored = r.stored(category, end);
    let missing = records.iter().filter(|r| !stored.contains(&r.id)).count();
    println!(
        "{} records, {very_late} published more than 2 h late, {missing} missing",
        records.len()
    );
    assert!(very_late > 0);
    assert_eq!(missing, 0);
    std::fs::remove_dir_all(&r.dir).ok();
}
