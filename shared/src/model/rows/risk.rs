//! Identity Protection's records: risk detections and risky users, and the same for service
//! principals (Workload ID Premium), shaped like `AADUserRiskEvents`, `AADRiskyUsers`,
//! `AADServicePrincipalRiskEvents` and `AADRiskyServicePrincipals`.

use super::Record;
use super::properties::*;
use serde_json::{Value, json};

/// The columns a user's and a service principal's risk detection share.
fn risk_detection(r: &Record, put: &mut dyn FnMut(&str, Value)) {
    for (col, prop) in [
        ("Activity", "activity"),
        ("ActivityDateTime", "activityDateTime"),
        ("CorrelationId", "correlationId"),
        ("DetectedDateTime", "detectedDateTime"),
        ("DetectionTimingType", "detectionTimingType"),
        ("IpAddress", "ipAddress"),
        ("LastUpdatedDateTime", "lastUpdatedDateTime"),
        ("RequestId", "requestId"),
        ("RiskDetail", "riskDetail"),
        ("RiskEventType", "riskEventType"),
        ("RiskLevel", "riskLevel"),
        ("RiskState", "riskState"),
        ("Source", "source"),
        ("TokenIssuerType", "tokenIssuerType"),
    ] {
        put(col, r.text(prop));
    }
    put("Location", r.get("location").clone());
    // additionalInfo is a JSON string of [{Key, Value}]; the table's column is dynamic.
    let info = r.get("additionalInfo");
    put(
        "AdditionalInfo",
        info.as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_else(|| info.clone()),
    );
}

/// A user's risk detection. Returns the Graph properties the columns come from.
pub(super) fn user_risk_event(
    r: &Record,
    put: &mut dyn FnMut(&str, Value),
) -> &'static [&'static str] {
    risk_detection(r, put);
    for (col, prop) in [
        ("UserDisplayName", "userDisplayName"),
        ("UserId", "userId"),
        ("UserPrincipalName", "userPrincipalName"),
    ] {
        put(col, r.text(prop));
    }
    put("OperationName", json!("User Risk Detection"));
    RISK_DETECTION_PROPERTIES
}

/// A service principal's risk detection: the same, naming the service principal and the key
/// credentials involved.
pub(super) fn service_principal_risk_event(
    r: &Record,
    put: &mut dyn FnMut(&str, Value),
) -> &'static [&'static str] {
    risk_detection(r, put);
    for (col, prop) in [
        ("AppId", "appId"),
        ("ServicePrincipalDisplayName", "servicePrincipalDisplayName"),
        ("ServicePrincipalId", "servicePrincipalId"),
    ] {
        put(col, r.text(prop));
    }
    put("KeyIds", r.get("keyIds").clone());
    put("OperationName", json!("Service Principal Risk Detection"));
    SERVICE_PRINCIPAL_RISK_DETECTION_PROPERTIES
}

/// The risk state shared by risky users and risky service principals.
fn risk_state(r: &Record, put: &mut dyn FnMut(&str, Value)) {
    for (col, prop) in [
        ("RiskDetail", "riskDetail"),
        ("RiskLastUpdatedDateTime", "riskLastUpdatedDateTime"),
        ("RiskLevel", "riskLevel"),
        ("RiskState", "riskState"),
    ] {
        put(col, r.text(prop));
    }
    put(
        "IsProcessing",
        json!(r.get("isProcessing").as_bool().unwrap_or(false)),
    );
}

/// Risky users. Returns the Graph properties the columns come from.
pub(super) fn risky_user(r: &Record, put: &mut dyn FnMut(&str, Value)) -> &'static [&'static str] {
    risk_state(r, put);
    for (col, prop) in [
        ("UserDisplayName", "userDisplayName"),
        ("UserPrincipalName", "userPrincipalName"),
    ] {
        put(col, r.text(prop));
    }
    put(
        "IsDeleted",
        json!(r.get("isDeleted").as_bool().unwrap_or(false)),
    );
    put("OperationName", json!("Risky user"));
    RISKY_USER_PROPERTIES
}

/// Risky service principals: Graph's `isEnabled` is the table's `AccountEnabled`.
pub(super) fn risky_service_principal(
    r: &Record,
    put: &mut dyn FnMut(&str, Value),
) -> &'static [&'static str] {
    risk_state(r, put);
    for (col, prop) in [
        ("AppId", "appId"),
        ("DisplayName", "displayName"),
        ("ServicePrincipalType", "servicePrincipalType"),
    ] {
        put(col, r.text(prop));
    }
    put("AccountEnabled", r.get("isEnabled").clone());
    put("OperationName", json!("Risky service principal"));
    RISKY_SERVICE_PRINCIPAL_PROPERTIES
}
