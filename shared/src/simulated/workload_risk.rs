//! Identity Protection for workload identities (Workload ID Premium): risk detections about
//! the tenant's service principals, and the risky-service-principal state each one leaves
//! (<https://learn.microsoft.com/en-us/graph/api/resources/serviceprincipalriskdetection>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/riskyserviceprincipal>).

use super::directory::Directory;
use super::record::{id, ip, iso, location, poisson};
use chrono::{DateTime, Duration, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

/// The detection types Graph documents for service principals, with their timing.
const KINDS: &[(&str, &str)] = &[
    ("leakedCredentials", "offline"),
    ("suspiciousSignins", "offline"),
    ("anomalousServicePrincipalActivity", "offline"),
    ("investigationsThreatIntelligence", "offline"),
];

/// The detections whose event time falls in the minute starting at `minute_start`, drawn from
/// `rng`: about one per service principal per five days.
pub(super) fn detections(
    rng: &mut Rng,
    dir: &Directory,
    minute_start: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Value)> {
    let rate = dir.service_principals.len() as f64 / 5.0 / 1440.0;
    let mut out = Vec::new();
    for _ in 0..poisson(rng, rate) {
        let t = minute_start + Duration::milliseconds(rng.i64(0..60_000));
        let sp = &dir.service_principals[rng.usize(..dir.service_principals.len())];
        let (kind, timing) = KINDS[rng.usize(..KINDS.len())];
        // A leaked credential names the key; the other kinds are about the principal.
        let key_ids = if kind == "leakedCredentials" {
            json!([sp.credential_key_id])
        } else {
            json!([])
        };
        out.push((
            t,
            json!({
                "id": id(rng).replace('-', ""),
                "requestId": id(rng),
                "correlationId": id(rng),
                "riskEventType": kind,
                "riskState": "atRisk",
                "riskLevel": (["low", "medium", "high"][rng.usize(..3)]),
                "riskDetail": "none",
                "source": "IdentityProtection",
                "detectionTimingType": timing,
                "activity": "servicePrincipal",
                "tokenIssuerType": "AzureAD",
                "ipAddress": ip(rng, sp.place),
                "location": location(sp.place),
                "activityDateTime": iso(t),
                "detectedDateTime": iso(t),
                "lastUpdatedDateTime": iso(t),
                "servicePrincipalId": sp.id,
                "servicePrincipalDisplayName": sp.display_name,
                "appId": sp.app_id,
                "keyIds": key_ids,
                "additionalInfo": "[]",
            }),
        ));
    }
    out
}

/// The risky-service-principal record a detection leaves: the principal, at the detection's
/// level, at risk from the detection's time.
pub(super) fn risky(detection: &Value) -> Value {
    json!({
        "id": detection["servicePrincipalId"],
        "appId": detection["appId"],
        "displayName": detection["servicePrincipalDisplayName"],
        "isEnabled": true,
        "isProcessing": false,
        "riskDetail": "none",
        "riskLastUpdatedDateTime": detection["lastUpdatedDateTime"],
        "riskLevel": detection["riskLevel"],
        "riskState": "atRisk",
        "servicePrincipalType": "Application",
    })
}
