//! State that outlives the instance (`shared/src/state/durable.rs`): on Lambda and Flex
//! Consumption the data folder is lost with the instance. With the shared state on Azure
//! Storage (Azurite) or S3 (moto), a collector whose data folder was wiped between runs goes
//! on from the checkpoint — no second backfill, nothing sent twice, nothing lost, ids compared
//! with what Graph served — and two collectors with separate disks share the work: each record
//! collected once, each delivered once.

mod common;
#[path = "support/mod.rs"]
mod support;

use chrono::{DateTime, Duration, Utc};
use common::{CLIENT_ID, Process, SECRET, TempDir, identity_platform, run_ok};
use serde_json::Value;
use shared::clock::FixedClock;
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::state::{Checkpoints, SqliteState};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

const TENANT: &str = "contoso.onmicrosoft.com";
const SIGN_INS: [Category; 4] = [
    Category::SignInLogs,
    Category::NonInteractiveUserSignInLogs,
    Category::ServicePrincipalSignInLogs,
    Category::ManagedIdentitySignInLogs,
];
const BACKFILL_HOURS: i64 = 8;

/// A simulated Graph whose visibility the test moves on, and the collectors' settings.
struct Scenario {
    server: Arc<SimServer>,
    clock: Arc<FixedClock>,
    env: Vec<(String, String)>,
    /// When the first run began: the backfill reaches back from here.
    started: DateTime<Utc>,
    /// Graph's clock then.
    graph_started: DateTime<Utc>,
    archive: std::path::PathBuf,
    _dir: TempDir,
}

impl Scenario {
    async fn new(state: Vec<(String, String)>) -> Self {
        // Graph's clock runs 20 minutes behind: moving it on reveals records the collector's
        // next window (and its overlap) must find.
        let graph_started = Utc::now() - Duration::minutes(20);
        let clock = Arc::new(FixedClock::new(graph_started));
        let faults = Faults {
            required_token: Some("token-from-secret".into()),
            ..Default::default()
        };
        let server = SimServer::new(SimulatedTenant::new(12, 60), clock.clone(), faults);
        let graph = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let identity = identity_platform(graph.clone()).await;
        let dir = TempDir::new("cold-start");
        let archive = dir.path().join("archive");
        let mut env: Vec<(String, String)> = [
            ("ENTRA_MONITOR_TENANT_ID", TENANT),
            ("ENTRA_MONITOR_CLIENT_ID", CLIENT_ID),
            ("ENTRA_MONITOR_CLIENT_SECRET", SECRET),
            ("ENTRA_MONITOR_AUTHORITY_HOST", identity.base.as_str()),
            ("ENTRA_MONITOR_GRAPH_HOST", graph.as_str()),
            ("ENTRA_MONITOR_BACKFILL_HOURS", &BACKFILL_HOURS.to_string()),
            (
                "ENTRA_MONITOR_STORAGE_FOLDER",
                &archive.display().to_string(),
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for c in SIGN_INS {
            env.push((
                format!("ENTRA_MONITOR_ROUTES_{}", c.name().to_ascii_uppercase()),
                "embedded,storage".into(),
            ));
        }
        env.extend(state);
        Self {
            server,
            clock,
            env,
            started: Utc::now(),
            graph_started,
            archive,
            _dir: dir,
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// An instance's folder (its data folder is `<folder>/data`).
    fn instance(&self, name: &str) -> std::path::PathBuf {
        let p = self._dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn collect(&self, instance: &Path) -> String {
        let out = run_ok(instance, &["run", "collect-signins"], &self.env());
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// What Graph has served by now, per category: the ids the collectors must have (the
    /// backfill's first minute may or may not be in the first window) and may have. A record
    /// published after the first run more than the category's overlap after its event time is
    /// past what the overlap re-reads (the very late few, `record::delay_for`): it may be
    /// collected, it need not be — whether one falls in the test's hours depends on the clock.
    fn truth(&self, category: Category) -> (BTreeSet<String>, BTreeSet<String>) {
        let now = shared::clock::Clock::now(self.clock.as_ref());
        let backfill = Duration::hours(BACKFILL_HOURS);
        let overlap = Duration::hours(category.definition().overlap_hours);
        let ids = |from, to, catchable: bool| -> BTreeSet<String> {
            self.server
                .tenant()
                .records(category, from, to, Some(now))
                .into_iter()
                .filter(|r| {
                    !catchable
                        || r.visible_at <= self.graph_started
                        || r.visible_at - r.time <= overlap
                })
                .map(|r| r.id)
                .collect()
        };
        (
            ids(self.started - backfill + Duration::minutes(1), now, true),
            ids(self.started - backfill - Duration::minutes(1), now, false),
        )
    }

    /// The ids of the records of `category` Graph completed after first publishing them (the
    /// MFA step added later): the only ones that may be delivered twice, once per version.
    fn revised(&self, category: Category) -> BTreeSet<String> {
        let now = shared::clock::Clock::now(self.clock.as_ref());
        let from = self.started - Duration::hours(BACKFILL_HOURS) - Duration::minutes(1);
        self.server
            .tenant()
            .records(category, from, now, None)
            .into_iter()
            .filter(|r| r.revision.is_some())
            .map(|r| r.id)
            .collect()
    }

    /// Each copy of each (category, id) that reached the archive, as its properties.
    fn archived(&self) -> BTreeMap<(String, String), Vec<Value>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.archive.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                    continue;
                }
                for line in std::fs::read_to_string(e.path()).unwrap().lines() {
                    let r: Value = serde_json::from_str(line).unwrap();
                    let key = (
                        r["category"].as_str().unwrap().to_string(),
                        r["properties"]["id"].as_str().unwrap().to_string(),
                    );
                    out.entry(key)
                        .or_insert_with(Vec::new)
                        .push(r["properties"].clone());
                }
            }
        }
        out
    }

    /// Every record Graph served is in the archive exactly once per version, and nothing else
    /// is: a second copy only of a record Graph completed after it was first sent (diagnostic
    /// settings send the new version too), and then a different one.
    fn assert_archived_once(&self) {
        let archived = self.archived();
        for category in SIGN_INS {
            let revised = self.revised(category);
            let twice: Vec<_> = archived
                .iter()
                .filter(|((c, id), copies)| {
                    c == category.name()
                        && copies.len() > 1
                        && !(copies.len() == 2 && copies[0] != copies[1] && revised.contains(id))
                })
                .map(|(key, copies)| (key, copies.len()))
                .collect();
            assert!(twice.is_empty(), "sent twice: {twice:?}");
        }
        for category in SIGN_INS {
            let (required, allowed) = self.truth(category);
            let got: BTreeSet<String> = archived
                .keys()
                .filter(|(c, _)| c == category.name())
                .map(|(_, id)| id.clone())
                .collect();
            let missing: Vec<_> = required.difference(&got).collect();
            assert!(missing.is_empty(), "{category}: {} lost", missing.len());
            let extra: Vec<_> = got.difference(&allowed).collect();
            assert!(extra.is_empty(), "{category}: not served: {extra:?}");
            println!("{category}: {} records archived once each", got.len());
        }
    }
}

/// Each row of `category` in an instance's embedded store, by id.
fn stored_rows(
    instance: &Path,
    category: Category,
) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let store = SqliteState::open(&instance.join("data")).unwrap();
    let rows = store
        .embedded_rows(
            TENANT,
            category,
            Utc::now() - Duration::days(30),
            Utc::now() + Duration::days(1),
        )
        .unwrap();
    rows.into_iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r))
        .collect()
}

/// A collector runs, its instance goes (its data folder deleted), Graph moves on, and a new
/// instance runs: it restores the bookkeeping, reads only from the checkpoint's overlap on,
/// sends nothing twice and loses nothing.
async fn cold_start(scenario: Scenario) {
    let instance = scenario.instance("one");
    let said = scenario.collect(&instance);
    assert!(!said.contains("restored"), "nothing to restore yet: {said}");
    let store = SqliteState::open(&instance.join("data")).unwrap();
    let before: Vec<_> = SIGN_INS
        .iter()
        .map(|c| store.checkpoint(TENANT, *c).unwrap().unwrap())
        .collect();
    drop(store);
    let first = scenario.archived().len();
    assert!(first > 0, "the first run archived nothing: {said}");

    std::fs::remove_dir_all(instance.join("data")).unwrap();
    scenario.clock.advance(Duration::minutes(10));
    let said = scenario.collect(&instance);
    for c in SIGN_INS {
        assert!(
            said.contains(&format!("{c}: bookkeeping restored from the shared state")),
            "{c} not restored: {said}"
        );
    }
    let store = SqliteState::open(&instance.join("data")).unwrap();
    for (c, was) in SIGN_INS.iter().zip(&before) {
        let now = store.checkpoint(TENANT, *c).unwrap().unwrap();
        // Not a second backfill: collection began where it began, and this run read from the
        // last watermark less the overlap.
        assert_eq!(now.since, was.since, "{c}: collection began again");
        let overlap = Duration::hours(c.definition().overlap_hours);
        assert_eq!(
            now.window_from,
            Some((was.watermark.unwrap() - overlap).max(was.since.unwrap())),
            "{c}: the run after the cold start read from elsewhere"
        );
        assert!(now.watermark > was.watermark, "{c}: no progress");
    }
    assert!(
        scenario.archived().len() > first,
        "Graph's new records were not collected"
    );
    scenario.assert_archived_once();
}

/// The shared state on Azurite's development account.
fn azurite_state(azurite: &support::azurite::Azurite) -> Vec<(String, String)> {
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={}",
        shared::destinations::storage::target::AZURITE_KEY,
        azurite.endpoint
    );
    vec![(
        "ENTRA_MONITOR_STATE_CONNECTION_STRING".to_string(),
        connection,
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_on_azure_storage_resumes_from_the_durable_checkpoint() {
    let azurite = support::azurite::start();
    let state = azurite_state(&azurite);
    cold_start(Scenario::new(state).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_on_s3_resumes_from_the_durable_checkpoint() {
    let moto = support::moto::start();
    moto.bucket("entra-monitor-state").await;
    cold_start(Scenario::new(moto.env("entra-monitor-state")).await).await;
}

/// Two instances with their own disks collect the same tenant: one after the other (the
/// second goes on from the first's bookkeeping), then both at once (the lease gives each
/// category to one of them). Each record is in exactly one instance's store and reached the
/// archive once.
async fn two_collectors(scenario: Scenario) {
    let (a, b) = (scenario.instance("a"), scenario.instance("b"));
    scenario.collect(&a);
    scenario.clock.advance(Duration::minutes(5));
    let said = scenario.collect(&b);
    assert!(said.contains("bookkeeping restored"), "{said}");
    for _ in 0..2 {
        scenario.clock.advance(Duration::minutes(5));
        let env = scenario.env();
        let mut both = [
            Process::start(&a, &["run", "collect-signins"], &env),
            Process::start(&b, &["run", "collect-signins"], &env),
        ];
        for p in &mut both {
            let status = p.wait_exit(std::time::Duration::from_secs(120));
            assert_eq!(
                status.and_then(|s| s.code()),
                Some(0),
                "a collector failed:\n{}",
                p.logs()
            );
        }
    }
    for category in SIGN_INS {
        let (required, allowed) = scenario.truth(category);
        let (in_a, in_b) = (stored_rows(&a, category), stored_rows(&b, category));
        // A record in both stores is one Graph completed after one instance stored it: the
        // other stored the new version.
        let revised = scenario.revised(category);
        let twice: Vec<&String> = in_a
            .iter()
            .filter(|(id, row)| {
                in_b.get(*id)
                    .is_some_and(|other| other == *row || !revised.contains(*id))
            })
            .map(|(id, _)| id)
            .collect();
        assert!(twice.is_empty(), "{category}: stored twice: {twice:?}");
        let all: BTreeSet<String> = in_a.keys().chain(in_b.keys()).cloned().collect();
        assert!(required.is_subset(&all), "{category}: records lost");
        assert!(all.is_subset(&allowed), "{category}: records not served");
        println!(
            "{category}: {} in a, {} in b, {} served",
            in_a.len(),
            in_b.len(),
            required.len()
        );
    }
    scenario.assert_archived_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_and_durable_state_share_a_tenant_between_two_collectors_on_azure_storage() {
    let azurite = support::azurite::start();
    let state = azurite_state(&azurite);
    two_collectors(Scenario::new(state).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_and_durable_state_share_a_tenant_between_two_collectors_on_s3() {
    let moto = support::moto::start();
    moto.bucket("entra-monitor-state").await;
    two_collectors(Scenario::new(moto.env("entra-monitor-state")).await).await;
}

/// On S3 (no leases there) the lease is a document taken and renewed with conditional writes:
/// one writer per tenant and category, free at once when released, and a dead writer's lapses
/// after its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_on_s3_admits_one_writer_per_tenant_and_category() {
    use shared::state::lease::Leases;
    let moto = support::moto::start();
    let bucket = Arc::new(moto.bucket("entra-monitor-leases").await);
    let (first, second) = (
        Leases::on_s3(bucket.clone(), 15),
        Leases::on_s3(bucket.clone(), 15),
    );
    let held = first
        .try_acquire("t-1", Category::SignInLogs)
        .await
        .unwrap()
        .expect("the first writer gets the lease");
    let taken = |l: &Leases, c| {
        let l = l.clone();
        async move { l.try_acquire("t-1", c).await.unwrap() }
    };
    assert!(taken(&second, Category::SignInLogs).await.is_none());
    let other = taken(&second, Category::AuditLogs).await;
    assert!(other.is_some(), "another category is another lease");
    assert!(held.renew().await.unwrap() && !held.lost());

    held.release().await.unwrap();
    let second_holds = taken(&second, Category::SignInLogs)
        .await
        .expect("released, the lease is free");
    assert!(second_holds.renew().await.unwrap());
    assert!(taken(&first, Category::SignInLogs).await.is_none());

    // A writer that dies without releasing holds it no longer than its 15 seconds.
    drop(second_holds);
    assert!(taken(&first, Category::SignInLogs).await.is_none());
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;
    let after = taken(&first, Category::SignInLogs).await;
    assert!(after.is_some(), "the lease of a dead writer lapses");
}
