//! Tenant health signals against the raw sign-ins: two days of a seeded simulated tenant in the
//! embedded store; each scenario's `{intervalStartDateTime, value}` series equals what this test
//! counts from the Graph records by Microsoft's definition (reports.md §3.1), at 15 and 5
//! minutes — every interval of the range present, zero where nothing happened. The tenant has
//! ten legacy clients, refused around the clock by "Block legacy authentication" (the
//! per-policy signal's policy). Microsoft's own metrics for the same sign-ins, from the
//! simulated Graph's `serviceActivity` functions, equal ours interval by interval.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use shared::model::Category;
use shared::query::params::{Common, Format, KqlTables};
use shared::query::questions::{self, SCENARIOS};
use shared::query::{finish, run_embedded};
use shared::simulated::SimulatedTenant;
use shared::state::SqliteState;
use std::collections::BTreeMap;

#[path = "support/health.rs"]
mod health;
#[path = "support/seeded_store.rs"]
mod seeded_store;

const TENANT: &str = "t1";

use health::APP;

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn start() -> DateTime<Utc> {
    end() - Duration::days(2)
}

/// The series the test computes: every interval of the range, its count (or its distinct
/// users).
fn truth(raw: &BTreeMap<Category, Vec<Value>>, scenario: &str, minutes: i64) -> Vec<(String, i64)> {
    let records: Vec<(bool, &Value)> = raw
        .iter()
        .flat_map(|(c, rs)| rs.iter().map(move |r| (*c == Category::SignInLogs, r)))
        .collect();
    health::series(
        &records,
        scenario,
        Duration::minutes(minutes),
        start(),
        end(),
    )
    .into_iter()
    .map(|(t, v)| (t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), v))
    .collect()
}

#[test]
fn each_signal_is_the_count_of_its_raw_sign_ins_per_interval() {
    let mut tenant = SimulatedTenant::new(5, 300);
    // Old clients refused by "Block legacy authentication": the per-policy signal's.
    tenant.directory.legacy_clients = 10;
    let dir = std::env::temp_dir().join(format!("entra-health-signals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let raw = seeded_store::load(
        &store,
        TENANT,
        &tenant,
        &[Category::SignInLogs, Category::NonInteractiveUserSignInLogs],
        start(),
        end(),
    );
    let c = Common {
        tenant: Some(TENANT.into()),
        from: start(),
        to: end(),
        limit: 1000,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: KqlTables::Entra,
    };
    let mut totals = BTreeMap::new();
    for scenario in SCENARIOS {
        for minutes in ["15", "5"] {
            let mut params = vec![("scenario", scenario), ("interval", minutes)];
            if scenario.starts_with("app") {
                params.push(("app", APP));
            }
            if scenario == "policyBlockedUsers" {
                params.push(("policy", health::POLICY));
            }
            let q = questions::ask("health-signals", &params).unwrap();
            let p = q.plan(TENANT, &c);
            let rows = run_embedded(&store, &p).unwrap();
            let a = finish(&*q, &p, &c, rows);
            assert_eq!(a.columns, ["intervalStartDateTime", "value"]);
            let got: Vec<(String, i64)> = a
                .rows
                .iter()
                .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
                .collect();
            let want = truth(&raw, scenario, minutes.parse().unwrap());
            assert_eq!(got.len(), want.len(), "{scenario} every {minutes} min");
            assert_eq!(got, want, "{scenario} every {minutes} min");
            totals.insert(scenario, want.iter().map(|(_, v)| v).sum::<i64>());
        }
    }
    // The tenant's two days exercise every scenario.
    for (scenario, total) in &totals {
        assert!(*total > 0, "{scenario} is zero over two days: {totals:?}");
    }
    // A scenario is required, and only the listed ones and intervals are taken.
    for bad in [
        vec![],
        vec![("scenario", "mfa")],
        vec![("scenario", "mfaSignInSuccess"), ("interval", "7")],
        vec![("scenario", "appSignInFailures")],
        vec![("scenario", "mfaSignInSuccess"), ("app", APP)],
        vec![("scenario", "policyBlockedUsers")],
        vec![("scenario", "appSignIns"), ("policy", health::POLICY)],
    ] {
        let e = questions::ask("health-signals", &bad).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("expected one of") || e.contains("required") || e.contains("only for"),
            "{e}"
        );
    }
    // Microsoft's own metrics (the simulated Graph's `serviceActivity` functions, counted by
    // Microsoft's documented definitions) equal ours for the same sign-ins, interval by
    // interval.
    let ours = |scenario: &str, from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<(String, i64)> {
        let c = Common {
            from,
            to: to - Duration::milliseconds(1),
            ..c.clone()
        };
        let q = questions::ask("health-signals", &[("scenario", scenario)]).unwrap();
        let p = q.plan(TENANT, &c);
        let rows = run_embedded(&store, &p).unwrap();
        finish(&*q, &p, &c, rows)
            .rows
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
            .collect()
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(microsofts_metrics_are_ours(tenant, &ours, &store));
    std::fs::remove_dir_all(&dir).ok();
}

/// A signal's intervals and values.
type Series = Vec<(String, i64)>;
/// A scenario's series as we serve it over `[from, to)`.
type Ours<'a> = &'a dyn Fn(&str, DateTime<Utc>, DateTime<Utc>) -> Series;

/// Calls each of Microsoft's metric functions on the simulated Graph over the last day and
/// compares it with `ours`; then the calls Graph refuses.
async fn microsofts_metrics_are_ours(tenant: SimulatedTenant, ours: Ours<'_>, store: &SqliteState) {
    use shared::clock::FixedClock;
    use shared::health::microsoft::METRICS;
    use shared::simulated::server::{Faults, SimServer};
    let now = end() + Duration::hours(3);
    let server = SimServer::new(
        tenant,
        std::sync::Arc::new(FixedClock::new(now)),
        Faults::default(),
    );
    let base = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let licensed = base.clone();
    let client = reqwest::Client::new();
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let call = |name: &str, from: DateTime<Utc>, to: DateTime<Utc>, minutes: &str| {
        let url = format!(
            "{base}/beta/reports/serviceActivity/getMetricsFor{name}(inclusiveIntervalStartDateTime={},exclusiveIntervalEndDateTime={},aggregationIntervalInMinutes={minutes})",
            iso(from),
            iso(to)
        );
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let from = end() - Duration::days(1);
    for (name, scenario) in METRICS {
        let (status, body) = call(name, from, end(), "15").await;
        assert_eq!(status, 200, "{name}: {body}");
        let theirs: Vec<(String, i64)> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let t = DateTime::parse_from_rfc3339(v["intervalStartDateTime"].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                (iso(t), v["value"].as_i64().unwrap())
            })
            .collect();
        assert_eq!(theirs.len(), 96, "{name}: every quarter hour of the day");
        assert_eq!(
            theirs,
            ours(scenario, from, end()),
            "{name} against {scenario}"
        );
    }
    // As Graph: at most 30 days back, an aggregation of 5, 10, 15 or 30 minutes.
    for (from, minutes, says) in [
        (now - Duration::days(31), "15", "30 days"),
        (from, "7", "aggregationIntervalInMinutes"),
    ] {
        let (status, body) = call("MfaSignInSuccess", from, end(), minutes).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    // A tenant without Entra ID P1 or P2 is refused, with Graph's licence code.
    let unlicensed = SimServer::new(
        SimulatedTenant::new(5, 30),
        std::sync::Arc::new(FixedClock::new(now)),
        Faults {
            unlicensed_sign_in_activity: true,
            ..Faults::default()
        },
    );
    let base = unlicensed
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let r = client
        .get(format!(
            "{base}/beta/reports/serviceActivity/getMetricsForMfaSignInSuccess(inclusiveIntervalStartDateTime={},exclusiveIntervalEndDateTime={})",
            iso(from),
            iso(end())
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["code"],
        shared::source::graph::NO_LICENCE,
        "{body}"
    );
    // The monitor's collection: the last day up to the watermark, kept as Graph gave it; where
    // the tenant is not licensed, a note and nothing kept.
    use shared::health::microsoft::collect_metrics;
    let source = |graph_base: String| shared::pipeline::Source {
        tenant: "elsewhere".into(),
        graph_base,
        client: shared::source::graph::GraphClient::new(
            std::sync::Arc::new(shared::source::budget::Budget::new(
                1000,
                std::time::Duration::from_secs(1),
            )),
            std::sync::Arc::new(shared::source::budget::Budget::new(
                1000,
                std::time::Duration::from_secs(1),
            )),
            Default::default(),
        ),
    };
    let refused = collect_metrics(store, &source(base), end(), now)
        .await
        .unwrap();
    assert!(refused.collected.is_none(), "{refused:?}");
    assert!(refused.note.unwrap().contains("licen"));
    assert_eq!(
        store.microsoft_metrics_collected("elsewhere").unwrap(),
        None
    );
    let report = collect_metrics(store, &source(licensed), end(), now)
        .await
        .unwrap();
    assert_eq!(report.collected, Some((from, end())), "{report:?}");
    let kept = store
        .microsoft_metrics("elsewhere", "mfaSignInSuccess", (from, end()))
        .unwrap();
    let (_, mfa) = call("MfaSignInSuccess", from, end(), "15").await;
    let served: Vec<f64> = mfa["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_f64().unwrap())
        .collect();
    assert_eq!(kept.iter().map(|k| k.1).collect::<Vec<_>>(), served);
}
