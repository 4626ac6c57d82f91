//! Running the detections over what the embedded store holds: after each collection (the
//! `detect-risks` timer function), per tenant, from where the last run stopped (less a look-back
//! for late records) to where collection of sign-ins and audits is complete, in daily steps. The learned history, the incident memory and the
//! progress are stored with the new detections in one transaction. A first run learns from all
//! but the last day of what is stored and reports only that day, so a fresh install does not
//! flag everything it has never seen.

use super::signals::{AuditEvent, SignIn};
use super::{History, Incidents, Thresholds, detect};
use crate::model::Category;
use crate::state::Checkpoints;
use crate::state::RiskStore;
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
    let found = scan(
        store,
        tenant,
        (start, now),
        report_from,
        (&mut history, &mut incidents),
        thresholds,
        &mut report,
    )?;
    incidents.prune(now - LOOK_BACK * 4);
    let progress = (doc("progress"), erased::Json::json(&now));
    store_found(
        store,
        tenant,
        found,
        (&history, &incidents),
        Some(progress),
        wall,
        report,
    )
}

/// Stores the detections found with the learned history, the incident memory and (for the
/// timer's runs) the progress, in one transaction; fills in what was new.
fn store_found(
    store: &SqliteState,
    tenant: &str,
    found: Vec<super::Detection>,
    (history, incidents): (&History, &Incidents),
    progress: Option<(String, String)>,
    wall: DateTime<Utc>,
    mut report: DetectReport,
) -> Result<DetectReport, StateError> {
    let doc = |what: &str| format!("detect:{tenant}:{what}");
    report.detections = found.len();
    let json = |v: &dyn erased::Json| v.json();
    let mut documents = vec![
        (doc("history"), json(history)),
        (doc("incidents"), json(incidents)),
    ];
    documents.extend(progress);
    let documents: Vec<(&str, String)> = documents
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    let new_keys = store.store_detections(tenant, &found, &documents, wall)?;
    report.new = new_keys.len();
    report.new_detections = found
        .into_iter()
        .filter(|d| new_keys.contains(&d.key))
        .collect();
    Ok(report)
}

/// Runs the detections over `[from, to)` in daily steps (each reading a look-back before it),
/// learning the history as it goes; steps ending by `report_from` are only learned from.
/// Returns the detections of incidents not seen before.
fn scan(
    store: &SqliteState,
    tenant: &str,
    (start, now): (DateTime<Utc>, DateTime<Utc>),
    report_from: DateTime<Utc>,
    (history, incidents): (&mut History, &mut Incidents),
    thresholds: &Thresholds,
    report: &mut DetectReport,
) -> Result<Vec<super::Detection>, StateError> {
    let mut found = Vec::new();
    let mut step_from = start;
    while step_from < now {
        let step_to = (step_from + Duration::days(1)).min(now);
        let read_from = step_from - LOOK_BACK;
        // Row by row: a day of a large tenant's sign-ins does not fit in memory as maps.
        let mut sign_ins: Vec<SignIn> = Vec::new();
        store.each_embedded_row(
            tenant,
            Category::SignInLogs,
            (read_from, step_to),
            &mut |r| sign_ins.extend(SignIn::from_row(&r)),
        )?;
        let mut audits: Vec<AuditEvent> = Vec::new();
        store.each_embedded_row(
            tenant,
            Category::AuditLogs,
            (read_from, step_to),
            &mut |r| audits.extend(AuditEvent::from_row(&r)),
        )?;
        let detections = detect(&sign_ins, &audits, history, thresholds);
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
    Ok(found)
}

/// Runs the detections over records imported from files (`entra-monitor import`), `[from,
/// to]`, whatever collection's progress: with the tenant's learned history and incident
/// memory (so an incident already reported is not reported again), reporting every day.
pub fn detect_imported(
    store: &SqliteState,
    tenant: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    wall: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Result<DetectReport, StateError> {
    let doc = |what: &str| format!("detect:{tenant}:{what}");
    let mut history: History = store.document(&doc("history"))?.unwrap_or_default();
    let mut incidents: Incidents = store.document(&doc("incidents"))?.unwrap_or_default();
    let mut report = DetectReport::default();
    let end = to + Duration::milliseconds(1);
    let found = scan(
        store,
        tenant,
        (from, end),
        from,
        (&mut history, &mut incidents),
        thresholds,
        &mut report,
    )?;
    store_found(
        store,
        tenant,
        found,
        (&history, &incidents),
        None,
        wall,
        report,
    )
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
