//! A health alert: Graph's `healthMonitoring` alert shape (`alertType`, `scenario`, `category`,
//! `createdDateTime`, `state`, `enrichment` with impacts and supporting data, `signals`,
//! `documentation`) and what ours adds — the episode's times, the figures (observed against the
//! expected band, how unusual), the related signals and the [`explain`](super::explain)ed
//! cause. `state` stays Graph's (`active`, `resolved`); who resolved or dismissed it, when and
//! why is in `resolution` and the alert's history.

use super::anomaly::{Anomaly, Direction};
use super::explain::{self, Subject};
use super::watched::watched_of;
use crate::clock::Timestamp;
use crate::query::questions::keyed_by;
use crate::state::{SqliteState, StateError, StoredAlert};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ACTIVE: &str = "active";
pub const RESOLVED: &str = "resolved";
/// Resolved by a person as not worth acting on (the portal's "Dismissed").
pub const DISMISSED: &str = "dismissed";
/// Who the monitor's own state changes are by.
pub const SYSTEM: &str = "entra-monitor";
/// The states an alert can be listed by.
pub const STATES: [&str; 3] = [ACTIVE, RESOLVED, DISMISSED];

const GUIDE: &str = "https://go.microsoft.com/fwlink/?linkid=2280158";

/// An anomaly of one signal, judged up to `until`.
pub struct Episode<'a> {
    pub signal: &'a str,
    pub anomaly: &'a Anomaly,
    pub until: DateTime<Utc>,
}

pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Spike => "spike",
        Direction::Dip => "dip",
    }
}

/// A stable id: the same episode found again (by another run, on another host) is the same
/// alert.
fn id(tenant: &str, signal: &str, started: DateTime<Utc>) -> String {
    guid(&format!("{tenant}|{signal}|{}", iso(started)))
}

/// A GUID-shaped id derived from `text` (its SHA-256), the same for the same text.
pub fn guid(text: &str) -> String {
    let h = Sha256::digest(text);
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// Query strings are built from ids, codes and times only; apps are percent-encoded.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The observed figures of an anomaly.
fn figures(a: &Anomaly, threshold_band: (f64, f64)) -> Value {
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let mut out = json!({
        "peakDateTime": iso(a.peak_at),
        "observed": a.peak_observed,
        "expected": round(a.peak_expected.median),
        "expectedBand": [round(threshold_band.0.max(0.0)), round(threshold_band.1)],
        "score": round(a.peak_score),
        "baselineSamples": a.peak_expected.samples,
    });
    if let Some(r) = a.peak_expected.rate {
        out["signIns"] = json!(r.volume);
        out["expectedFailureRate"] = json!((r.expected * 1000.0).round() / 1000.0);
    }
    out
}

/// What the alert says in one line, before its cause.
fn headline(scenario: &str, direction: &str, a: &Anomaly, band: (f64, f64)) -> String {
    let of = a.peak_expected.rate.map_or(String::new(), |r| {
        format!(
            " of {} sign-ins (a failure rate of {:.0}% expected)",
            r.volume,
            r.expected * 100.0
        )
    });
    format!(
        "{scenario} {direction}: {}{of} in 15 minutes at {} where {:.0}–{:.0} was expected (score {:.1})",
        a.peak_observed,
        iso(a.peak_at),
        band.0.max(0.0),
        band.1,
        a.peak_score
    )
}

/// A new alert for `e`, explained from the store.
pub fn raise(
    store: &SqliteState,
    tenant: &str,
    e: &Episode,
    threshold: f64,
) -> Result<StoredAlert, StateError> {
    let a = e.anomaly;
    let (w, app) = watched_of(e.signal)
        .ok_or_else(|| StateError::Corrupt(format!("{} is no watched health signal", e.signal)))?;
    let direction = direction_name(a.direction);
    let subject = Subject {
        tenant,
        scenario: w.scenario,
        app,
        from: a.started,
        until: a.resolved.unwrap_or(e.until),
        dip: a.direction == Direction::Dip,
    };
    let (mut explanation, impacts) = explain::explain(store, &subject)?;
    let band = a.peak_expected.band(threshold);
    let key = keyed_by(w.scenario).unwrap_or("app");
    // The key's name: an app's, from the sign-ins broken down; a policy's, from the sign-ins
    // that list it.
    let app_name = match (app, key) {
        (Some(id), "policy") => {
            let since = subject.from - chrono::Duration::days(1);
            let name = explain::policy_name(store, tenant, id, (since, subject.until))?;
            Some(name.map_or(Value::Null, Value::String))
        }
        (Some(_), _) => Some(
            explanation["changes"]["apps"]
                .get(0)
                .map_or(Value::Null, |t| t["value"].clone()),
        ),
        _ => None,
    };
    let named = match (&app_name, key) {
        (Some(Value::String(name)), "policy") => format!("{} of \"{name}\"", w.scenario),
        _ => w.scenario.to_string(),
    };
    let summary = explain::summary(&headline(&named, direction, a, band), &explanation);
    explanation["summary"] = Value::String(summary);
    let window = format!(
        "from={}&to={}&tenant={}",
        iso(subject.from),
        iso(subject.until),
        encode(tenant)
    );
    let mut sign_ins = format!("/api/logs/SignInLogs?{window}");
    if let Some(code) = w.code {
        sign_ins.push_str(&format!("&result={code}"));
    }
    if let (Some(Value::String(name)), "app") = (&app_name, key) {
        sign_ins.push_str(&format!("&app={}", encode(name)));
    }
    let mut signal_url = format!(
        "/api/health/signals?scenario={}&from={}&to={}&tenant={}",
        w.scenario,
        iso(subject.from - chrono::Duration::days(1)),
        iso(e.until),
        encode(tenant)
    );
    if let Some(app) = app {
        signal_url.push_str(&format!("&{key}={}", encode(app)));
    }
    let id = id(tenant, e.signal, a.started);
    let alert = json!({
        "id": id,
        "alertType": w.alert_type,
        "scenario": w.area,
        "category": "authentication",
        "createdDateTime": iso(a.raised),
        "state": ACTIVE,
        "enrichment": {
            "state": "enriched",
            "impacts": impacts,
            "supportingData": {
                "signIns": sign_ins,
                "audits": format!("/api/logs/AuditLogs?from={}&to={}&tenant={}", iso(subject.from - explain::AUDIT_LEAD), iso(subject.until), encode(tenant)),
            },
        },
        "signals": {w.scenario: signal_url},
        "documentation": {"troubleshootingGuide": GUIDE},
        "tenantId": tenant,
        "source": SYSTEM,
        "signal": e.signal,
        "direction": direction,
        key: app.map(|id| json!({"id": id, "displayName": app_name})),
        "startedDateTime": iso(a.started),
        "endedDateTime": a.resolved.map(iso),
        "figures": figures(a, band),
        "relatedSignals": [],
        "explanation": explanation,
        "resolution": Value::Null,
    });
    let mut stored = StoredAlert {
        id,
        signal: e.signal.into(),
        direction: direction.into(),
        state: ACTIVE.into(),
        started: a.started,
        raised: a.raised,
        ended: a.resolved,
        alert,
    };
    if a.resolved.is_some() {
        stored.state = RESOLVED.into();
        set_state(
            &mut stored,
            SYSTEM,
            a.resolved.unwrap_or(e.until),
            "the signal returned within its expected band",
        );
    }
    Ok(stored)
}

/// `stored` seen again by a later run: its figures where the peak grew, its end. Returns the
/// alert as it now is (resolved by the system when the anomaly ended, unless a person already
/// resolved or dismissed it).
pub fn update(stored: &StoredAlert, a: &Anomaly, threshold: f64) -> StoredAlert {
    let mut next = stored.clone();
    if a.peak_score > stored.alert["figures"]["score"].as_f64().unwrap_or(0.0) {
        next.alert["figures"] = figures(a, a.peak_expected.band(threshold));
    }
    next.ended = a.resolved;
    next.alert["endedDateTime"] = json!(a.resolved.map(iso));
    if let (Some(at), true) = (a.resolved, stored.state == ACTIVE) {
        next.state = RESOLVED.into();
        set_state(
            &mut next,
            SYSTEM,
            at,
            "the signal returned within its expected band",
        );
    }
    next
}

/// Adds `signal`'s anomaly to `stored`'s related signals; false when it is there already.
pub fn relate(stored: &mut StoredAlert, signal: &str, a: &Anomaly) -> bool {
    let related = stored.alert["relatedSignals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if related.iter().any(|r| r["signal"] == signal) {
        return false;
    }
    let mut related = related;
    related.push(json!({
        "signal": signal,
        "direction": direction_name(a.direction),
        "startedDateTime": iso(a.started),
        "peakObserved": a.peak_observed,
        "score": (a.peak_score * 10.0).round() / 10.0,
    }));
    stored.alert["relatedSignals"] = Value::Array(related);
    true
}

/// Sets the alert object's `state` (Graph's: dismissed is resolved) and `resolution` from
/// `stored.state`.
pub fn set_state(stored: &mut StoredAlert, by: &str, at: DateTime<Utc>, reason: &str) {
    let graph = if stored.state == ACTIVE {
        ACTIVE
    } else {
        RESOLVED
    };
    stored.alert["state"] = json!(graph);
    stored.alert["resolution"] = if stored.state == ACTIVE {
        Value::Null
    } else {
        json!({"state": stored.state, "by": by, "dateTime": iso(at), "reason": reason})
    };
}

/// Alert times as stored and shown.
pub fn iso(t: DateTime<Utc>) -> String {
    t.rfc3339_millis()
}
