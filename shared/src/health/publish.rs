//! Health alerts as records, so a SIEM sees them: each change of an alert's state — raised,
//! resolved by the system when the signal returned, resolved or dismissed by a person — becomes
//! a row of entra-monitor's own table `EntraMonitorHealthAlerts_CL`, routed like the logs
//! (embedded store, Storage, Log Analytics, Event Hubs), in the history's order from where the
//! last routing stopped ([`Router::route_history`]).

use super::alert::SYSTEM;
use crate::destinations::router::{Published, Router};
use crate::model::Category;
use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A change's stable id: its tenant, alert, time and states.
fn change_id(parts: &[&str]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(parts.join("|").as_bytes());
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{SYSTEM}-health-alert-{hex}")
}

/// The row for one change of `alert` (from [`SqliteState::health_alert_changes_unrouted`]:
/// `{dateTime, from, to, by, reason}`): the change, and the alert as it is now — what it is
/// about, its figures, impacts and explanation.
pub fn change_record(tenant: &str, change: &Value, alert: &Value) -> Value {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let id = text(&alert["id"]);
    let (at, from, to) = (
        text(&change["dateTime"]),
        text(&change["from"]),
        text(&change["to"]),
    );
    // What the alert is about beside its signal: an app or a Conditional Access policy.
    let subject = ["app", "policy"]
        .into_iter()
        .find(|k| alert[*k].is_object())
        .map_or(
            Value::Null,
            |k| json!({"kind": k, "id": alert[k]["id"], "displayName": alert[k]["displayName"]}),
        );
    json!({
        "Id": change_id(&[tenant, &id, &at, &from, &to]),
        "TimeGenerated": at,
        "AlertId": id,
        "AlertType": alert["alertType"],
        "Scenario": alert["scenario"],
        "AlertCategory": alert["category"],
        "Signal": alert["signal"],
        "Direction": alert["direction"],
        "Subject": subject,
        "CreatedDateTime": alert["createdDateTime"],
        "StartedDateTime": alert["startedDateTime"],
        "EndedDateTime": alert["endedDateTime"],
        "StateFrom": from,
        "State": to,
        "ChangedBy": change["by"],
        "Reason": change["reason"],
        "Summary": alert["explanation"]["summary"],
        "Figures": alert["figures"],
        "Impacts": alert["enrichment"]["impacts"],
        "Explanation": alert["explanation"],
        "RelatedSignals": alert["relatedSignals"],
    })
}

/// Routes `tenant`'s changes of alert state not routed yet.
pub fn publish(
    store: &SqliteState,
    router: &Router,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<Published, StateError> {
    router.route_history(
        store,
        (tenant, Category::EntraMonitorHealthAlerts, SYSTEM),
        now,
        |limit| {
            Ok(store
                .health_alert_changes_unrouted(tenant, limit)?
                .into_iter()
                .map(|(rowid, change, alert)| (rowid, change_record(tenant, &change, &alert)))
                .collect())
        },
        |last| store.health_alert_changes_routed(tenant, last),
    )
}
