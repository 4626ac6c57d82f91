//! The health monitor: computes a tenant's signals per 15-minute interval from the stored
//! sign-ins (the last few hours again at every run, so late records count), keeps them for the
//! baseline's weeks, runs the [`anomaly`](super::anomaly) model over them, and keeps the alerts:
//! one per anomaly, updated while it lasts, resolved when the signal returns.
//!
//! **What is watched** ([`WATCHED`](super::watched::WATCHED)) — the scenarios Microsoft alerts on, the failures that
//! mean people cannot work: MFA failures, managed- and compliant-device refusals, users blocked
//! by Conditional Access, in all and per policy (a spike, or a dip: a blocking policy stopped
//! working), and each app's
//! failures (judged as a rate of its sign-ins, `appSignIns`, computed and kept beside them). The success signals are served (`/api/health/signals`) but not alerted on: their
//! dips follow every quiet day and would repeat the failure alerts of the same incident.
//!
//! **One alert per incident.** An incident moves several signals: a compliant-device wave also
//! blocks users, an MFA outage also fails apps, a policy disabled lowers its own blocked users
//! and the tenant's. A spike overlapping an alert of a signal earlier in [`WATCHED`], or an
//! anomaly overlapping an alert of the same area (Graph's `scenario`) in the same direction, is
//! added to that alert's `relatedSignals` instead of raising another.
//!
//! **Judged only where collection is complete.** The monitor judges intervals up to the sign-in
//! collection's watermark (records up to there are stored), never "now": an interval still being
//! collected would look like a dip.

use super::alert::{self, Episode, iso};
use super::anomaly::{Anomaly, Direction, Model, Series};
use super::explain::oldest_sign_in;
use super::watched::{WATCHED, denominator, users_of, watched_of};
use crate::query::params::{Common, Format, KqlTables};
use crate::query::questions::{counts_users, keyed_by, monitor_plan};
use crate::query::run_embedded;
use crate::state::{SqliteState, StateChange, StateError, StoredAlert};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// How far back each run computes again (records arrive late; the collectors' overlap re-reads
/// them).
pub const RECOMPUTE: Duration = Duration::hours(3);
/// How far back each run judges, beyond the alerts still open.
pub const JUDGE: Duration = Duration::days(1);

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The intervals computed again: `[from, until)`.
    pub computed: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Alerts raised by this run, to be sent.
    pub raised: Vec<StoredAlert>,
    /// Alerts this run resolved (the signal returned).
    pub resolved: usize,
    /// Spikes added to another signal's alert.
    pub related: usize,
    /// Whether the tenant has the weeks of history the model needs yet.
    pub learning: bool,
}

/// The watched signals' values in the model's windows starting in `[from, last)`, read from the
/// sign-ins of `[from, until)` (`last` is `until` less a window, plus a step: the windows that
/// end by `until`).
fn compute(
    store: &SqliteState,
    tenant: &str,
    model: &Model,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>, f64)>, StateError> {
    let last = until - model.width + model.step;
    let c = Common {
        tenant: Some(tenant.into()),
        from,
        to: until - Duration::milliseconds(1),
        limit: crate::query::params::MAX_LIMIT,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: KqlTables::Entra,
    };
    let at = |v: &serde_json::Value| {
        DateTime::parse_from_rfc3339(v.as_str()?)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let mut out = Vec::new();
    let scenarios = WATCHED
        .iter()
        .flat_map(|w| [Some(w.scenario), w.per])
        .flatten();
    // The distinct users behind a watched count of sign-ins (a count of users is its own).
    let users_kept = |s: &str| WATCHED.iter().any(|w| w.scenario == s) && !counts_users(s);
    let width = model.width.num_minutes();
    let offsets: Vec<i64> = (0..width)
        .step_by(model.step.num_minutes().max(1) as usize)
        .collect();
    for (scenario, offset) in scenarios.flat_map(|s| offsets.iter().map(move |o| (s, *o))) {
        let Some(plan) = monitor_plan(scenario, tenant, &c, width, offset) else {
            continue;
        };
        for row in run_embedded(store, &plan)? {
            // A window starting before `from` or ending after `until` was read in part.
            let Some(t) = at(&row[0]).filter(|t| *t >= from && *t < last) else {
                continue;
            };
            let number = |i: usize| crate::query::int(&row[i]) as f64;
            let (4, Some(app)) = (row.len(), row.get(1).and_then(|a| a.as_str())) else {
                continue;
            };
            let signal = match app {
                "" if keyed_by(scenario).is_some() => continue,
                "" => scenario.to_string(),
                app => format!("{scenario}:{app}"),
            };
            if users_kept(scenario) {
                out.push((users_of(&signal), t, number(3)));
            }
            out.push((signal, t, number(2)));
        }
    }
    Ok(out)
}

/// One monitor run for `tenant`, judging up to `until` (the sign-in watermark), at `now`.
pub fn run(
    store: &SqliteState,
    tenant: &str,
    until: DateTime<Utc>,
    model: &Model,
    now: DateTime<Utc>,
) -> Result<Report, StateError> {
    let mut report = Report::default();
    let until = until.duration_trunc(model.step).unwrap_or(until);
    // Windows start up to `last`: the later ones would end after the collected records.
    let last = until - model.width + model.step;
    let keep_from = until - Duration::weeks(model.weeks + 1);
    let Some(oldest) = oldest_sign_in(store, tenant)? else {
        report.learning = true;
        return Ok(report);
    };
    // The first whole interval of data: before it, no zeros that were never counted.
    let first = oldest.duration_trunc(model.step).unwrap_or(oldest) + model.step;
    let previous = store.health_computed(tenant)?;
    let since = keep_from.max(first);
    let from = match previous {
        Some((s, u)) if s <= since && u > since => (u - RECOMPUTE).max(since),
        _ => since,
    };
    if from < last {
        let values = compute(store, tenant, model, from, until)?;
        store.put_health_values(tenant, from, last, &values, since)?;
        report.computed = Some((from, last));
    }
    report.learning = until - since < Duration::weeks(model.min_weeks);
    // (The pipeline's alarms are its own: [`super::pipeline`].)
    let mut open = store.health_alerts_open_since(tenant, until - JUDGE)?;
    open.retain(|a| !a.signal.starts_with(super::pipeline::PREFIX));
    let judge_from = open
        .iter()
        .map(|a| a.started)
        .chain([until - JUDGE])
        .min()
        .unwrap_or(until)
        .max(since);
    // What is judged, and the same stretch of each week the baseline reads (with the
    // neighbouring windows): not the weeks between.
    let ranges: Vec<_> = (0..=model.weeks)
        .map(|w| {
            let back = Duration::weeks(w);
            (
                (judge_from - back - model.width).max(since),
                (last - back + model.width).min(last),
            )
        })
        .filter(|(a, b)| a < b)
        .collect();
    let series = store.health_series_in(tenant, &ranges, model.step)?;
    let found = detect_all(model, &series, judge_from, last);
    reconcile(store, tenant, model, open, found, until, now, &mut report)?;
    Ok(report)
}

/// Every watched signal's anomalies over `[from, until)`, in order of precedence.
fn detect_all(
    model: &Model,
    series: &HashMap<String, Series>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(String, Anomaly)> {
    let mut signals: Vec<(usize, &String)> = series
        .keys()
        .filter_map(|s| {
            let (w, _) = watched_of(s)?;
            Some((WATCHED.iter().position(|x| *x == w)?, s))
        })
        .collect();
    signals.sort();
    let mut out = Vec::new();
    let empty = Series::new();
    for (rank, signal) in signals {
        let s = &series[signal];
        let users = series.get(&users_of(signal));
        let found = match denominator(signal) {
            Some(per) => {
                // An app without the volume, or without a failure, cannot raise anything.
                let totals = series.get(&per).unwrap_or(&empty);
                let busy = totals
                    .iter()
                    .any(|(t, v)| *t >= from && *v >= model.min_volume);
                if !busy || !s.iter().any(|(t, v)| *t >= from && *v > 0.0) {
                    continue;
                }
                model.detect_rate(s, totals, users, from, until)
            }
            None => model.detect(s, users, from, until),
        };
        for a in found {
            if WATCHED[rank].directions.contains(&a.direction) {
                out.push((signal.clone(), a));
            }
        }
    }
    out
}

/// Whether two episodes (start, end or open) overlap.
fn overlap(
    a: (DateTime<Utc>, Option<DateTime<Utc>>),
    b: (DateTime<Utc>, Option<DateTime<Utc>>),
) -> bool {
    let end = |e: Option<DateTime<Utc>>| e.unwrap_or(DateTime::<Utc>::MAX_UTC);
    a.0 < end(b.1) && b.0 < end(a.1)
}

/// Matches what the model found with the stored alerts: an anomaly of an alert's signal and
/// direction overlapping it updates it; a spike overlapping another signal's alert is related
/// to it; anything else raises a new alert. An open alert whose anomaly is gone is resolved.
#[allow(clippy::too_many_arguments)]
fn reconcile(
    store: &SqliteState,
    tenant: &str,
    model: &Model,
    mut open: Vec<StoredAlert>,
    found: Vec<(String, Anomaly)>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), StateError> {
    let mut seen: Vec<String> = Vec::new();
    for (signal, a) in found {
        let episode = (a.started, a.resolved);
        let direction = alert::direction_name(a.direction);
        let mine = open.iter_mut().find(|s| {
            s.signal == signal && s.direction == direction && overlap((s.started, s.ended), episode)
        });
        if let Some(stored) = mine {
            seen.push(stored.id.clone());
            let was = stored.state.clone();
            let updated = alert::update(stored, &a, model.threshold);
            let change = (was != updated.state).then(|| {
                report.resolved += 1;
                StateChange {
                    at: a.resolved.unwrap_or(now),
                    to: alert::RESOLVED,
                    by: alert::SYSTEM,
                    reason: "the signal is back within its expected band",
                }
            });
            store.put_health_alert(tenant, &updated, change.map(|c| (was.as_str(), c)))?;
            *stored = updated;
            continue;
        }
        // A spike overlapping an alert of a signal before it, or any anomaly overlapping an
        // alert of the same scenario area in the same direction (a policy's users and the
        // tenant's, whichever crossed its band first).
        let related = open.iter_mut().find(|s| {
            s.signal != signal
                && overlap((s.started, s.ended), episode)
                && ((a.direction == Direction::Spike && precedes(&s.signal, &signal))
                    || (s.direction == direction && same_area(&s.signal, &signal)))
        });
        if let Some(stored) = related {
            if alert::relate(stored, &signal, &a) {
                report.related += 1;
                store.put_health_alert(tenant, stored, None)?;
            }
            continue;
        }
        let episode = Episode {
            signal: &signal,
            anomaly: &a,
            until,
        };
        let new = alert::raise(store, tenant, &episode, model.threshold)?;
        let opened = StateChange {
            at: a.raised,
            to: alert::ACTIVE,
            by: alert::SYSTEM,
            reason: "raised by the anomaly model",
        };
        store.put_health_alert(tenant, &new, Some(("none", opened)))?;
        if new.state != alert::ACTIVE {
            // Found after it ended (a run catching up): raised and resolved.
            let closed = StateChange {
                at: a.resolved.unwrap_or(until),
                to: alert::RESOLVED,
                by: alert::SYSTEM,
                reason: "the signal returned within its expected band",
            };
            store.put_health_alert(tenant, &new, Some((alert::ACTIVE, closed)))?;
            report.resolved += 1;
        }
        seen.push(new.id.clone());
        report.raised.push(new.clone());
        open.push(new);
    }
    // An active alert whose anomaly the model no longer sees (late records filled the gap).
    for stored in open
        .iter_mut()
        .filter(|s| s.state == alert::ACTIVE && !seen.contains(&s.id))
    {
        let was = stored.state.clone();
        stored.state = alert::RESOLVED.into();
        stored.ended = Some(until);
        let reason = "the signal is within its expected band (late records counted)";
        alert::set_state(stored, alert::SYSTEM, now, reason);
        stored.alert["endedDateTime"] = serde_json::json!(iso(until));
        report.resolved += 1;
        let change = StateChange {
            at: now,
            to: alert::RESOLVED,
            by: alert::SYSTEM,
            reason,
        };
        store.put_health_alert(tenant, stored, Some((was.as_str(), change)))?;
    }
    Ok(())
}

/// Whether two signals are of the same scenario area (Graph's `scenario`).
fn same_area(a: &str, b: &str) -> bool {
    matches!((watched_of(a), watched_of(b)), (Some((x, _)), Some((y, _))) if x.area == y.area)
}

/// Whether `first`'s alerts take `then`'s spikes as related (it comes earlier in [`WATCHED`]).
fn precedes(first: &str, then: &str) -> bool {
    let rank = |s: &str| watched_of(s).and_then(|(w, _)| WATCHED.iter().position(|x| *x == w));
    matches!((rank(first), rank(then)), (Some(a), Some(b)) if a < b)
}
