//! The tenant-health signals as the tests count them from raw Graph sign-ins, by Microsoft's
//! definitions (reports.md §3.1): the ground truth of `tests/health_signals.rs` and
//! `tests/health_incidents.rs`, and the incidents these inject.
#![allow(dead_code)] // each test binary uses a different part of this module

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;
use shared::query::codes::WORKBOOK_INTERRUPTS;
use shared::simulated::SimulatedTenant;
use shared::simulated::incidents::{Incident, IncidentKind};
use std::collections::{BTreeMap, BTreeSet};

/// The app of the per-app signals.
pub const APP: &str = "Microsoft Teams";
/// Its id.
pub const TEAMS: &str = "1fec8e78-bce4-4aaf-ab1b-5451cc387264";
/// The policy of the per-policy signal.
pub const POLICY: &str = "Block legacy authentication";

/// The incidents of a test week starting on `week` (a Monday): the signal each moves, what it
/// is, its start and its minutes — an MFA outage on Tuesday morning, a compliant-device wave on
/// Wednesday afternoon, Teams failing on Thursday.
pub fn week_incidents(
    week: DateTime<Utc>,
) -> Vec<(&'static str, IncidentKind, DateTime<Utc>, i64)> {
    let at = |day: i64, hour: i64, minute: i64| {
        week + Duration::days(day) + Duration::hours(hour) + Duration::minutes(minute)
    };
    vec![
        (
            "mfaSignInFailure",
            IncidentKind::MfaOutage,
            at(1, 10, 7),
            45,
        ),
        (
            "compliantDeviceSignInFailure",
            IncidentKind::CompliantDeviceWave,
            at(2, 14, 20),
            45,
        ),
        (
            "appSignInFailures",
            IncidentKind::AppFailures(TEAMS.into()),
            at(3, 11, 0),
            60,
        ),
    ]
}

/// The tenant of the health tests: 1,000 users, no attacks (an MFA-fatigue attack is a real
/// spike of MFA failures, for the detections), `incidents` injected.
pub fn tenant(incidents: &[(&'static str, IncidentKind, DateTime<Utc>, i64)]) -> SimulatedTenant {
    let mut tenant = SimulatedTenant::new(5, 1000);
    tenant.directory.attacks = false;
    tenant.incidents = incidents
        .iter()
        .map(|(_, kind, start, minutes)| Incident {
            kind: kind.clone(),
            start: *start,
            duration: Duration::minutes(*minutes),
        })
        .collect();
    tenant
}

/// A sign-in's event time.
fn time_of(r: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(r["createdDateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Whether a raw sign-in counts for `scenario` (and the user it counts, for distinct users):
/// Microsoft's scenarios by the simulated Graph's own definitions (those it serves its
/// `serviceActivity` metrics by), the per-app and per-policy ones here.
pub fn counts(scenario: &str, interactive: bool, r: &Value) -> bool {
    let code = r["status"]["errorCode"].as_i64();
    match scenario {
        "appSuccessfulUsers" => interactive && code == Some(0) && r["appDisplayName"] == APP,
        "appSignIns" => {
            interactive && r["appDisplayName"] == APP && r["conditionalAccessStatus"] != "failure"
        }
        "appSignInFailures" => {
            let code = code.unwrap_or(0).to_string();
            interactive
                && r["appDisplayName"] == APP
                && r["conditionalAccessStatus"] != "failure"
                && code != "0"
                && !WORKBOOK_INTERRUPTS.contains(&code.as_str())
        }
        "policyBlockedUsers" => {
            interactive
                && r["conditionalAccessStatus"] == "failure"
                && r["appliedConditionalAccessPolicies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["displayName"] == POLICY && p["result"] == "failure")
        }
        _ => shared::simulated::service_activity::counts(scenario, interactive, r),
    }
}

/// A scenario's series over `[from, to]` from `records` (interactive or not, the record):
/// every interval, its count (or its distinct users).
pub fn series(
    records: &[(bool, &Value)],
    scenario: &str,
    step: Duration,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i64)> {
    rolling(records, scenario, step, step, from, to)
}

/// A scenario's series in windows of `width` starting every `step` (the health monitor's
/// rolling windows), over `[from, to]`.
pub fn rolling(
    records: &[(bool, &Value)],
    scenario: &str,
    step: Duration,
    width: Duration,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i64)> {
    rolling_by(
        records,
        scenario,
        (step, width),
        (from, to),
        distinct(scenario),
    )
}

/// Whether a scenario counts distinct users.
pub fn distinct(scenario: &str) -> bool {
    matches!(
        scenario,
        "conditionalAccessBlockedUsers" | "appSuccessfulUsers" | "policyBlockedUsers"
    )
}

/// [`rolling`], counting the distinct users behind each window when `distinct` (what the
/// monitor's spikes need), whatever the scenario counts.
pub fn rolling_by(
    records: &[(bool, &Value)],
    scenario: &str,
    (step, width): (Duration, Duration),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    distinct: bool,
) -> Vec<(DateTime<Utc>, i64)> {
    let mut users: BTreeMap<DateTime<Utc>, BTreeSet<&str>> = BTreeMap::new();
    let mut n: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for (interactive, r) in records {
        if !counts(scenario, *interactive, r) {
            continue;
        }
        // Every window holding the record: those starting within `width` before it.
        let last = time_of(r).duration_trunc(step).unwrap();
        let mut t = last;
        while t > last - width {
            *n.entry(t).or_default() += 1;
            users
                .entry(t)
                .or_default()
                .insert(r["userId"].as_str().unwrap_or_default());
            t -= step;
        }
    }
    let mut out = Vec::new();
    let mut t = from.duration_trunc(step).unwrap();
    while t <= to {
        let v = if distinct {
            users.get(&t).map_or(0, |u| u.len() as i64)
        } else {
            n.get(&t).copied().unwrap_or(0)
        };
        out.push((t, v));
        t += step;
    }
    out
}
