//! Running the detections over what the embedded store holds: after each collection (the
//! `detect-risks` timer function), per tenant, from where the last run stopped (less a look-back
//! for late records) to where collection of sign-ins and audits is complete, in daily steps. The learned history, the incident memory and the
//! progress are stored with the new detections in one transaction. A first run learns from all
//! but the last day of what is stored and reports only that day, so a fresh install does not
//! flag everything it has never seen.

use super::signals::{AuditEvent, SignIn};
use super::{History, Incidents, Thresholds, detect};
use crate::model::Category;
use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeSet;

/// How far back each run re-reads (sign-ins are published up to ~30 min late).
pub const LOOK_BACK: Duration = Duration::hours(2);

#[derive(Debug, Clone, Default, Serialize)]
pub struct DetectReport {
    pub sign_ins: usize,
    pub audits: usize,
    pub detections: usize,
    pub new: usize,
    /// The detections stored for the first time (for alerts).
    #[serde(skip)]
    pub new_detections: Vec<super::Detection>,
    /// Days only learned from (a first run).
    pub learning_days: i64,
    /// A first run waiting for collection to catch up.
    pub waiting: bool,
}

pub fn run_detections(
    store: &SqliteState,
    tenant: &str,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Result<DetectReport, StateError> {
    let doc = |what: &str| format!("detect:{tenant}:{what}");
    let mut history: History = store.document(&doc("history"))?.unwrap_or_default();
    let mut incidents: Incidents = store.document(&doc("incidents"))?.unwrap_or_default();
    let progress: Option<DateTime<Utc>> = store.document(&doc("progress"))?;
    let mut report = DetectReport::default();
    // Only as far as collection is complete for both sources (a run before collection caught
    // up must not skip what it brings later).
    let mut until = now;
    for c in [Category::SignInLogs, Category::AuditLogs] {
        match store.checkpoint(tenant, c)?.and_then(|c| c.watermark) {
            Some(w) => until = until.min(w),
            None => return Ok(report),
        }
    }
    let wall = now;
    let now = until;
    if progress.is_some_and(|p| p >= now) {
        return Ok(report);
    }
    // A first run waits for the backfill to catch up, so it learns from all of it.
    if progress.is_none() && until < wall - Duration::hours(1) {
        report.waiting = true;
        return Ok(report);
    }
    let (start, report_from) = match progress {
        Some(p) => (p - LOOK_BACK, p - LOOK_BACK),
        None => {
            let earliest = [Category::SignInLogs, Category::AuditLogs]
                .into_iter()
                .filter_map(|c| store.earliest(tenant, c).ok().flatten())
                .min();
            match earliest {
                None => (now, now),
                Some(e) => (e, (now - Duration::days(1)).max(e)),
            }
        }
    };
    let mut found = Vec::new();
    let mut step_from = start;
    while step_from < now {
        let step_to = (step_from + Duration::days(1)).min(now);
        let read_from = step_from - LOOK_BACK;
        let sign_ins: Vec<SignIn> = store
            .embedded_rows(tenant, Category::SignInLogs, read_from, step_to)?
            .iter()
            .filter_map(SignIn::from_row)
            .collect();
        let audits: Vec<AuditEvent> = store
            .embedded_rows(tenant, Category::AuditLogs, read_from, step_to)?
            .iter()
            .filter_map(AuditEvent::from_row)
            .collect();
        let detections = detect(&sign_ins, &audits, &history, thresholds);
        let flagged: BTreeSet<String> = detections
            .iter()
            .flat_map(|d| d.record_ids.iter().cloned())
            .collect();
        let fresh: Vec<SignIn> = sign_ins
            .iter()
            .filter(|s| s.time >= step_from)
            .cloned()
            .collect();
        history.learn(&fresh, &flagged);
        report.sign_ins += fresh.len();
        report.audits += audits.iter().filter(|a| a.time >= step_from).count();
        let learning = step_to <= report_from;
        if learning {
            report.learning_days += 1;
        }
        for d in detections {
            if incidents.is_new(&d) && !learning {
                found.push(d);
            }
        }
        step_from = step_to;
    }
    incidents.prune(now - LOOK_BACK * 4);
    report.detections = found.len();
    let json = |v: &dyn erased::Json| v.json();
    let new_keys = store.store_detections(
        tenant,
        &found,
        &[
            (&doc("history"), json(&history)),
            (&doc("incidents"), json(&incidents)),
            (&doc("progress"), json(&now)),
        ],
        wall,
    )?;
    report.new = new_keys.len();
    report.new_detections = found
        .into_iter()
        .filter(|d| new_keys.contains(&d.key))
        .collect();
    Ok(report)
}

/// Serialising the three documents through one function.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
