//! Our detections and risky users as rows of the Entra tables `AADUserRiskEvents` and
//! `AADRiskyUsers` (and a detection about an app also as a row of
//! `AADServicePrincipalRiskEvents`) — built as the Graph `riskDetection` / `riskyUser` /
//! `servicePrincipalRiskDetection` records Microsoft would send, then shaped by the same normalisation as collected ones — routed like those categories
//! (embedded store, Storage, Log Analytics, Event Hubs). Ours say so: `Source` is
//! `entra-monitor` on a detection, `SourceSystem` on both, and their ids start with
//! `entra-monitor`, so they never collide with Microsoft's.

use super::risky::RiskyUser;
use super::{AppSubject, Detection, SOURCE};
use crate::clock::Timestamp;
use crate::destinations::router::Router;
use crate::model::Category;
use crate::state::{SqliteState, StateError, StoredRow};
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

/// The `servicePrincipalRiskDetection` Graph would send for one of ours about an app: the
/// same detection, naming the app. An app registration's object id is not a service
/// principal's, so it goes in `additionalInfo` (`applicationObjectId`) and
/// `servicePrincipalId` stays empty.
pub fn service_principal_detection_record(
    d: &Detection,
    app: &AppSubject,
    detected: DateTime<Utc>,
) -> Value {
    let mut info = vec![
        json!({ "Key": "evidence", "Value": d.evidence }),
        json!({ "Key": "recordIds", "Value": d.record_ids.join(",") }),
        json!({ "Key": "initiatedBy", "Value": d.user }),
    ];
    let service_principal = if app.kind == "ServicePrincipal" {
        Some(app.id.as_str())
    } else {
        info.push(json!({ "Key": "applicationObjectId", "Value": app.id }));
        None
    };
    // The user's detection with the user's properties replaced by the app's.
    let mut record = detection_record(d, detected);
    if let Some(r) = record.as_object_mut() {
        for user_property in ["userId", "userDisplayName", "userPrincipalName"] {
            r.remove(user_property);
        }
        for (k, v) in [
            ("id", json!(id_of("sp-detection", &d.key))),
            ("activity", json!("servicePrincipal")),
            ("servicePrincipalId", json!(service_principal)),
            ("servicePrincipalDisplayName", json!(app.display_name)),
            ("appId", Value::Null),
            ("keyIds", json!(app.key_ids)),
            ("additionalInfo", json!(Value::Array(info).to_string())),
        ] {
            r.insert(k.into(), v);
        }
    }
    record
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
    crate::destinations::router::derived(category, tenant, record, SOURCE)
}

/// What [`publish`] wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Published {
    pub detections: i64,
    /// The same detections about an app, as its service principal's risk.
    pub service_principal_detections: i64,
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
            Category::ServicePrincipalRiskEvents,
            detections
                .iter()
                .filter_map(|d| {
                    let app = d.service_principal.as_ref()?;
                    let record = service_principal_detection_record(d, app, now);
                    stored(Category::ServicePrincipalRiskEvents, tenant, record)
                })
                .collect(),
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
        let write = router.store_derived(store, tenant, category, &rows, now)?;
        let written = write.new + write.updated;
        match category {
            Category::UserRiskEvents => out.detections += written,
            Category::ServicePrincipalRiskEvents => out.service_principal_detections += written,
            _ => out.risky_users += written,
        }
        out.batches += write.batches;
    }
    Ok(out)
}
