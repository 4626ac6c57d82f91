//! Our detections and risky users as rows of the Entra tables `AADUserRiskEvents` and
//! `AADRiskyUsers` — built as the Graph `riskDetection` / `riskyUser` records Microsoft would
//! send, then shaped by the same normalisation as collected ones — routed like those categories
//! (embedded store, Storage, Log Analytics, Event Hubs). Ours say so: `Source` is
//! `entra-monitor` on a detection, `SourceSystem` on both, and their ids start with
//! `entra-monitor`, so they never collide with Microsoft's.

use super::risky::RiskyUser;
use super::{Detection, SOURCE};
use crate::clock::Timestamp;
use crate::destinations::router::Router;
use crate::model::Category;
use crate::model::rows::normalise;
use crate::state::{PageRouting, SqliteState, StateError, StoredRow};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

fn iso(t: DateTime<Utc>) -> String {
    t.rfc3339_millis()
}

/// A short, stable id from a key.
fn id_of(kind: &str, key: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(key.as_bytes());
    let hex: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{SOURCE}-{kind}-{hex}")
}

/// The `riskDetection` Graph would send for one of ours.
pub fn detection_record(d: &Detection, detected: DateTime<Utc>) -> Value {
    let info = json!([
        { "Key": "evidence", "Value": d.evidence },
        { "Key": "recordIds", "Value": d.record_ids.join(",") },
        { "Key": "lastActivityTimeInUtc", "Value": iso(d.last_seen) },
    ]);
    json!({
        "id": id_of("detection", &d.key),
        "requestId": null,
        "correlationId": null,
        "riskEventType": d.name,
        "riskState": "atRisk",
        "riskLevel": d.risk_level,
        "riskDetail": "none",
        "source": SOURCE,
        "detectionTimingType": "offline",
        "activity": if d.name.from_audit() { "user" } else { "signin" },
        "tokenIssuerType": "AzureAD",
        "ipAddress": d.ip,
        "location": null,
        "activityDateTime": iso(d.first_seen),
        "detectedDateTime": iso(detected),
        "lastUpdatedDateTime": iso(detected),
        "userId": null,
        "userDisplayName": null,
        "userPrincipalName": d.user,
        "additionalInfo": info.to_string(),
    })
}

/// The `riskyUser` Graph would send for one of ours.
pub fn risky_user_record(u: &RiskyUser) -> Value {
    json!({
        "id": id_of("user", &u.user),
        "isDeleted": false,
        "isProcessing": false,
        "riskDetail": match u.state {
            "remediated" => "userPerformedSecuredPasswordReset",
            "dismissed" => "adminDismissedAllRiskForUser",
            "confirmedCompromised" => "adminConfirmedUserCompromised",
            _ => "none",
        },
        "riskLastUpdatedDateTime": iso(u.updated),
        "riskLevel": u.level,
        "riskState": u.state,
        "userDisplayName": null,
        "userPrincipalName": u.user,
    })
}

fn stored(category: Category, tenant: &str, record: Value) -> Option<StoredRow> {
    let mut row = normalise(category, tenant, &record).ok()?;
    row.columns
        .insert("SourceSystem".into(), Value::String(SOURCE.into()));
    Some(StoredRow {
        id: row.id,
        time: row.time,
        columns: row.columns,
        raw: record,
    })
}

/// What [`publish`] wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Published {
    pub detections: i64,
    pub risky_users: i64,
    pub batches: i64,
}

/// Writes new detections and every risky user whose state changed as rows of
/// `AADUserRiskEvents` / `AADRiskyUsers`, routed by `router` (the outbox batches are delivered
/// by the caller, as after a collected page).
pub fn publish(
    store: &SqliteState,
    router: &Router,
    tenant: &str,
    detections: &[Detection],
    users: &[RiskyUser],
    now: DateTime<Utc>,
) -> Result<Published, StateError> {
    let mut out = Published::default();
    for (category, rows) in [
        (
            Category::UserRiskEvents,
            detections
                .iter()
                .filter_map(|d| stored(Category::UserRiskEvents, tenant, detection_record(d, now)))
                .collect::<Vec<_>>(),
        ),
        (
            Category::RiskyUsers,
            users
                .iter()
                .filter(|u| u.state != "none")
                .filter_map(|u| stored(Category::RiskyUsers, tenant, risky_user_record(u)))
                .collect(),
        ),
    ] {
        let build = |changed: &[&StoredRow]| router.batches(tenant, category, changed);
        let routing = PageRouting {
            embedded: router.embedded(category),
            outbox: &build,
        };
        let write = store.store_derived(tenant, category, &rows, &routing, now)?;
        let written = write.new + write.updated;
        match category {
            Category::UserRiskEvents => out.detections += written,
            _ => out.risky_users += written,
        }
        out.batches += write.batches;
    }
    Ok(out)
}
