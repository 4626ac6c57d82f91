//! Alerts for recommendations: one message per type and evaluation that made it active or
//! added impacted resources, from the configured priority up, to the detections' webhook.
//! Messages go through the store's alert outbox, so one the webhook refuses is sent at the
//! next evaluation, and one already sent is never sent again.

use super::{Outcome, definition, id_of};
use crate::config::recommendations::PRIORITIES;
use crate::detect::alerts::{AlertReport, AlertSettings, Alerter, Message};
use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Queues the alerts of one evaluation's outcomes (types of `lowest` priority and above) and
/// sends what waits in the tenant's outbox.
pub async fn send(
    store: &SqliteState,
    tenant: &str,
    outcomes: &[Outcome],
    lowest: &str,
    webhook: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<AlertReport, StateError> {
    let rank = |p: &str| PRIORITIES.iter().position(|k| *k == p);
    for o in outcomes.iter().filter(|o| rank(o.priority) >= rank(lowest)) {
        if let Some(message) = message(tenant, o) {
            let key = format!("recommendation|{}|{}", o.kind, now.to_rfc3339());
            store.queue_alert(tenant, &key, &message, now)?;
        }
    }
    Alerter::new(webhook.clone())
        .flush(store, tenant, now)
        .await
}

/// How many newly impacted resources an alert names.
const NAMED_IN_ALERT: usize = 20;

/// The alert for a recommendation that became active or impacts more resources, if either.
pub fn message(tenant: &str, o: &Outcome) -> Option<Message> {
    if !o.activated && o.resources_activated.is_empty() {
        return None;
    }
    let d = definition(o.kind)?;
    let new = &o.resources_activated;
    let mut names: Vec<&str> = new
        .iter()
        .take(NAMED_IN_ALERT)
        .map(|i| i.display_name.as_str())
        .collect();
    let more = new.len().saturating_sub(NAMED_IN_ALERT);
    let more = (more > 0).then(|| format!(" and {more} more"));
    names.sort_unstable();
    let id = id_of(tenant, d.kind);
    Some(Message {
        title: format!(
            "{} recommendation{}: {}",
            d.priority,
            if o.activated { "" } else { " impacts more" },
            d.display_name
        ),
        text: format!(
            "{} impacted, {} newly: {}{}. {}",
            o.impacted.unwrap_or_default(),
            new.len(),
            names.join(", "),
            more.unwrap_or_default(),
            d.insights
        ),
        facts: vec![
            ("Recommendation".into(), d.kind.into()),
            ("Priority".into(), d.priority.into()),
            (
                "Listing".into(),
                format!("/api/recommendations/{id}/impacted-resources"),
            ),
        ],
        about: "recommendation".into(),
        payload: json!({
            "id": id,
            "recommendationType": d.kind,
            "displayName": d.display_name,
            "priority": d.priority,
            "becameActive": o.activated,
            "impactedResources": o.impacted,
            "newlyImpacted": new.iter().take(1000).map(|i| json!({
                "subjectId": i.subject_id, "resourceType": i.resource_type, "displayName": i.display_name,
            })).collect::<Vec<_>>(),
        }),
    })
}
