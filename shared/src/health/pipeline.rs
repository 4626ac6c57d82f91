//! Pipeline-health alarms in the same alert stream as the tenant's: what keeps entra-monitor
//! from collecting or delivering a tenant's records — a category's collection lagging, paused
//! (a licence or permission) or failing, sustained throttling, schema drift, a destination
//! failing, records dead-lettered — each raised once as an alert with its reason and what to
//! do, sent and routed like the others, and resolved by the system when the condition clears.
//! Their signal is `pipeline:<what>`; the anomaly monitor leaves them alone.

use super::alert::{self, iso};
use crate::state::{Checkpoint, SqliteState, StateChange, StateError, StoredAlert};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// The signals of pipeline alarms start with this.
pub const PREFIX: &str = "pipeline:";

/// How far a category's watermark may fall behind before its lag is an alarm.
pub const LAG: Duration = Duration::hours(3);

/// A share of a run's requests throttled, at or above which throttling is sustained.
pub const THROTTLED_SHARE: f64 = 0.5;

/// One condition: its key (what it is about), its alert type, the reason and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: String,
    pub alert_type: &'static str,
    pub reason: String,
    pub remedy: String,
}

/// The conditions `tenant`'s checkpoints show at `now`.
pub fn of_checkpoints(
    checkpoints: &[Checkpoint],
    tenant: &str,
    now: DateTime<Utc>,
) -> Vec<Condition> {
    let mut out = Vec::new();
    for c in checkpoints.iter().filter(|c| c.tenant == tenant) {
        let category = &c.category;
        if let Some(until) = c.paused_until.filter(|u| *u > now) {
            out.push(Condition {
                key: format!("paused:{category}"),
                alert_type: "pipelineCategoryPaused",
                reason: format!(
                    "{category} is paused until {}: {}",
                    iso(until),
                    c.last_error.as_deref().unwrap_or("Graph refused it")
                ),
                remedy: "grant the permission or licence the reason names; collection resumes by itself after the pause".into(),
            });
        } else if let Some(e) = &c.last_error {
            out.push(Condition {
                key: format!("failing:{category}"),
                alert_type: "pipelineCategoryFailing",
                reason: format!("{category}: the last collection failed: {e}"),
                remedy: "check the function's log and /api/health; the next run retries from the watermark, nothing is lost".into(),
            });
        }
        if let Some(w) = c.watermark.filter(|w| now - *w > LAG) {
            out.push(Condition {
                key: format!("lag:{category}"),
                alert_type: "pipelineLag",
                reason: format!(
                    "{category} is collected only up to {} ({} hours behind)",
                    iso(w),
                    (now - w).num_hours()
                ),
                remedy: "check that collect-* runs (its schedule, the request budget, throttling) and /api/health; a run catches up from the watermark".into(),
            });
        }
        if c.requests_last_run >= 4
            && c.throttled_last_run as f64 >= THROTTLED_SHARE * c.requests_last_run as f64
        {
            out.push(Condition {
                key: format!("throttled:{category}"),
                alert_type: "pipelineThrottled",
                reason: format!(
                    "{category}: {} of the last run's {} requests were throttled by Graph",
                    c.throttled_last_run, c.requests_last_run
                ),
                remedy: "lower the tenant's request budget share of other tools, or collect less often (ENTRA_MONITOR_SCHEDULE_*)".into(),
            });
        }
        if c.drift_total > 0 {
            out.push(Condition {
                key: format!("drift:{category}"),
                alert_type: "pipelineSchemaDrift",
                reason: format!(
                    "{category}: {} fields Graph sent are not columns of the table (kept in the raw record)",
                    c.drift_total
                ),
                remedy: "nothing is lost; update entra-monitor when a release maps the new fields, then dismiss this alert".into(),
            });
        }
    }
    out
}

/// The conditions of the destinations' status (`/api/health`'s `destinations`): a route whose
/// last delivery failed after its last success, and one that dead-lettered records.
pub fn of_destinations(destinations: &Value) -> Vec<Condition> {
    let mut out = Vec::new();
    for d in destinations["routes"].as_array().into_iter().flatten() {
        let name = d["destination"].as_str().unwrap_or("a destination");
        let failing = match (d["last_error_at"].as_str(), d["last_success"].as_str()) {
            (Some(err), Some(ok)) => err > ok,
            (Some(_), None) => true,
            _ => false,
        };
        if failing {
            out.push(Condition {
                key: format!("destination:{name}"),
                alert_type: "pipelineDestinationFailing",
                reason: format!(
                    "destination {name}: {}",
                    d["last_error"].as_str().unwrap_or("failing")
                ),
                remedy: "fix what the error names (its endpoint, credential or permission); the outbox keeps the batches and delivers them when it answers".into(),
            });
        }
        if let Some(n) = d["dead_letters"].as_u64().filter(|n| *n > 0) {
            out.push(Condition {
                key: format!("dead-letters:{name}"),
                alert_type: "pipelineDeadLetters",
                reason: format!("destination {name}: {n} records could never be delivered and were dead-lettered in the spool"),
                remedy: "read them under the spool's dead-letter folder (each says why), fix the cause and replay them, then dismiss this alert".into(),
            });
        }
    }
    out
}

/// Raises an alert for each condition not already alerted (active, or dismissed by a person
/// while it lasts), and resolves the active ones whose condition cleared. The alerts raised.
pub fn reconcile(
    store: &SqliteState,
    tenant: &str,
    conditions: &[Condition],
    now: DateTime<Utc>,
) -> Result<(Vec<StoredAlert>, usize), StateError> {
    let open: Vec<StoredAlert> = store
        .health_alerts_open_since(tenant, now)?
        .into_iter()
        .filter(|a| a.signal.starts_with(PREFIX) && a.ended.is_none())
        .collect();
    let mut raised = Vec::new();
    for c in conditions {
        let signal = format!("{PREFIX}{}", c.key);
        if open.iter().any(|a| a.signal == signal) {
            continue;
        }
        let new = alert_of(tenant, &signal, c, now);
        let opened = StateChange {
            at: now,
            to: alert::ACTIVE,
            by: alert::SYSTEM,
            reason: "raised by the pipeline check",
        };
        store.put_health_alert(tenant, &new, Some(("none", opened)))?;
        raised.push(new);
    }
    let mut resolved = 0;
    for mut a in open {
        if conditions
            .iter()
            .any(|c| a.signal == format!("{PREFIX}{}", c.key))
        {
            continue;
        }
        let was = a.state.clone();
        a.ended = Some(now);
        a.alert["endedDateTime"] = json!(iso(now));
        let reason = "the condition cleared";
        let change = (was == alert::ACTIVE).then(|| {
            a.state = alert::RESOLVED.into();
            alert::set_state(&mut a, alert::SYSTEM, now, reason);
            StateChange {
                at: now,
                to: alert::RESOLVED,
                by: alert::SYSTEM,
                reason,
            }
        });
        resolved += usize::from(change.is_some());
        store.put_health_alert(tenant, &a, change.map(|c| (was.as_str(), c)))?;
    }
    Ok((raised, resolved))
}

/// The alert of a condition, in the health alerts' shape.
fn alert_of(tenant: &str, signal: &str, c: &Condition, now: DateTime<Utc>) -> StoredAlert {
    let id = alert::guid(&format!("{tenant}|{signal}|{}", iso(now)));
    let summary = format!("{}. What to do: {}.", c.reason, c.remedy);
    StoredAlert {
        id: id.clone(),
        signal: signal.into(),
        direction: "condition".into(),
        state: alert::ACTIVE.into(),
        started: now,
        raised: now,
        ended: None,
        alert: json!({
            "id": id,
            "alertType": c.alert_type,
            "scenario": "pipeline",
            "category": "pipeline",
            "createdDateTime": iso(now),
            "state": alert::ACTIVE,
            "enrichment": {"state": "none", "impacts": [], "supportingData": {"health": "/api/health"}},
            "signals": {},
            "tenantId": tenant,
            "source": alert::SYSTEM,
            "signal": signal,
            "direction": "condition",
            "startedDateTime": iso(now),
            "endedDateTime": null,
            "figures": null,
            "relatedSignals": [],
            "explanation": {"summary": summary, "reason": c.reason, "whatToDo": c.remedy},
            "resolution": null,
        }),
    }
}

#[cfg(test)]
mod tests;
