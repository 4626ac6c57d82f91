//! Tenant health signals against the raw sign-ins: two days of a seeded simulated tenant in the
//! embedded store; each scenario's `{intervalStartDateTime, value}` series equals what this test
//! counts from the Graph records by Microsoft's definition (reports.md §3.1), at 15 and 5
//! minutes — every interval of the range present, zero where nothing happened.

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use serde_json::Value;
use shared::model::Category;
use shared::query::codes::WORKBOOK_INTERRUPTS;
use shared::query::params::{Common, Format, KqlTables};
use shared::query::questions::{self, MFA_SERVICE_METHODS, SCENARIOS};
use shared::query::{finish, run_embedded};
use shared::simulated::SimulatedTenant;
use shared::state::SqliteState;
use std::collections::{BTreeMap, BTreeSet};

#[path = "support/seeded_store.rs"]
mod seeded_store;

const TENANT: &str = "t1";

/// The app of the per-app signals.
const APP: &str = "Microsoft Teams";

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn start() -> DateTime<Utc> {
    end() - Duration::days(2)
}

/// Whether a raw sign-in counts for `scenario` (and the user it counts, for distinct users).
fn counts(scenario: &str, interactive: bool, r: &Value) -> bool {
    let code = r["status"]["errorCode"].as_i64();
    let ok = code == Some(0);
    let granted = |control: &str| {
        r["appliedConditionalAccessPolicies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["result"] == "success"
                    && p["enforcedGrantControls"]
                        .as_array()
                        .is_some_and(|g| g.iter().any(|x| x == control))
            })
    };
    match scenario {
        "mfaSignInSuccess" => {
            interactive
                && ok
                && r["authenticationRequirement"] == "multiFactorAuthentication"
                && r["authenticationDetails"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|d| {
                        d["succeeded"] == true
                            && MFA_SERVICE_METHODS
                                .contains(&d["authenticationMethod"].as_str().unwrap_or(""))
                    })
        }
        "mfaSignInFailure" => code == Some(500121),
        "managedDeviceSignInSuccess" => interactive && ok && granted("RequireDomainJoinedDevice"),
        "managedDeviceSignInFailure" => interactive && code == Some(53001),
        "compliantDeviceSignInSuccess" => interactive && ok && granted("RequireCompliantDevice"),
        "compliantDeviceSignInFailure" => interactive && code == Some(53000),
        "samlSignInSuccess" => interactive && ok && r["authenticationProtocol"] == "saml20",
        "appSuccessfulUsers" => interactive && ok && r["appDisplayName"] == APP,
        "appSignInFailures" => {
            let code = code.unwrap_or(0).to_string();
            interactive
                && r["appDisplayName"] == APP
                && code != "0"
                && !WORKBOOK_INTERRUPTS.contains(&code.as_str())
        }
        _ => interactive && r["conditionalAccessStatus"] == "failure",
    }
}

/// The series the test computes: every interval of the range, its count (or its distinct
/// users).
fn truth(raw: &BTreeMap<Category, Vec<Value>>, scenario: &str, minutes: i64) -> Vec<(String, i64)> {
    let step = Duration::minutes(minutes);
    let mut bins: BTreeMap<DateTime<Utc>, BTreeSet<String>> = BTreeMap::new();
    let mut n: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for (category, records) in raw {
        let interactive = *category == Category::SignInLogs;
        for r in records {
            if !counts(scenario, interactive, r) {
                continue;
            }
            let t = seeded_store::time_of(r).duration_trunc(step).unwrap();
            *n.entry(t).or_default() += 1;
            bins.entry(t)
                .or_default()
                .insert(r["userId"].as_str().unwrap_or_default().to_string());
        }
    }
    let mut out = Vec::new();
    let mut t = start().duration_trunc(step).unwrap();
    while t <= end() {
        let v = if scenario == "conditionalAccessBlockedUsers" || scenario == "appSuccessfulUsers" {
            bins.get(&t).map_or(0, |u| u.len() as i64)
        } else {
            n.get(&t).copied().unwrap_or(0)
        };
        out.push((t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), v));
        t += step;
    }
    out
}

#[test]
fn each_signal_is_the_count_of_its_raw_sign_ins_per_interval() {
    let tenant = SimulatedTenant::new(5, 300);
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
