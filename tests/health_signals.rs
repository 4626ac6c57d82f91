//! Tenant health signals against the raw sign-ins: two days of a seeded simulated tenant in the
//! embedded store; each scenario's `{intervalStartDateTime, value}` series equals what this test
//! counts from the Graph records by Microsoft's definition (reports.md §3.1), at 15 and 5
//! minutes — every interval of the range present, zero where nothing happened. The tenant has
//! ten legacy clients, refused around the clock by "Block legacy authentication" (the
//! per-policy signal's policy).

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
    std::fs::remove_dir_all(&dir).ok();
}
