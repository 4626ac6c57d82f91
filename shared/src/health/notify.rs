//! Health alerts to the webhook (Teams, Slack or generic, as the detections'): one message per
//! alert when it is raised, through the store's alert outbox — one the webhook refuses is sent
//! at the next run, one already sent never again.

use super::monitor::Report;
use crate::detect::alerts::{AlertReport, AlertSettings, Alerter, Message};
use crate::state::{SqliteState, StateError, StoredAlert};
use chrono::{DateTime, Utc};
use serde_json::json;

/// The message of a raised alert: its summary and the links to check it.
pub fn message(a: &StoredAlert) -> Message {
    let j = &a.alert;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Message {
        title: format!(
            "Tenant health: {} {}",
            text(&j["alertType"]),
            text(&j["direction"])
        ),
        text: text(&j["explanation"]["summary"]),
        facts: vec![
            ("Alert".into(), a.id.clone()),
            ("Started".into(), text(&j["startedDateTime"])),
            (
                "Sign-ins".into(),
                text(&j["enrichment"]["supportingData"]["signIns"]),
            ),
            ("Details".into(), format!("/api/health/alerts/{}", a.id)),
        ],
        about: "health".into(),
        payload: json!({"id": a.id, "alertType": j["alertType"], "signal": a.signal,
                        "startedDateTime": j["startedDateTime"], "summary": j["explanation"]["summary"]}),
    }
}

/// Queues the alerts `report` raised and sends what waits in `tenant`'s outbox.
pub async fn send(
    store: &SqliteState,
    tenant: &str,
    report: &Report,
    webhook: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<AlertReport, StateError> {
    for a in &report.raised {
        store.queue_alert(tenant, &format!("health|{}", a.id), &message(a), now)?;
    }
    Alerter::new(webhook.clone())
        .flush(store, tenant, now)
        .await
}
