//! Incidents injected into the simulated tenant's interactive sign-ins, with their ground
//! truth, for the tenant-health tests: an MFA outage (most sign-ins that need MFA fail with
//! 500121), a compliant-device failure wave (Exchange Online sign-ins refused with 53000, as
//! when device compliance cannot be evaluated), and one app failing (its sign-ins fail with
//! 50000, a service error). None by default; a test lists them in
//! [`super::SimulatedTenant::incidents`], and [`super::SimulatedTenant::records`] applies them
//! (the simulated Graph server does not serve them yet). Each changes a sign-in by its id alone,
//! so the rest of the tenant is as it was, and a changed sign-in is published once, final (no
//! later MFA completion).

use super::details::{COMPLIANT_EXCHANGE, DEVICE_NOT_COMPLIANT};
use super::record::SimRecord;
use crate::model::Category;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentKind {
    /// Of the successful sign-ins that needed MFA, four in five fail with 500121.
    MfaOutage,
    /// Exchange Online's successful sign-ins are refused with 53000.
    CompliantDeviceWave,
    /// Of the app's (by app id) successful sign-ins, three in five fail with 50000.
    AppFailures(String),
}

/// One incident: what, from when, how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub kind: IncidentKind,
    pub start: DateTime<Utc>,
    pub duration: Duration,
}

/// The error code each kind produces.
pub fn code(kind: &IncidentKind) -> i64 {
    match kind {
        IncidentKind::MfaOutage => 500121,
        IncidentKind::CompliantDeviceWave => DEVICE_NOT_COMPLIANT,
        IncidentKind::AppFailures(_) => 50000,
    }
}

const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";

/// A share of records picked by id: the same record is always picked or not.
fn picked(id: &str, in_ten: u64) -> bool {
    let hex = id.replace('-', "");
    let bits = u64::from_str_radix(&hex[..12.min(hex.len())], 16).unwrap_or(0);
    bits % 10 < in_ten
}

/// Applies `incidents` to `records` (one minute's of `category`).
pub fn apply(incidents: &[Incident], category: Category, records: &mut [SimRecord]) {
    if category != Category::SignInLogs || incidents.is_empty() {
        return;
    }
    for r in records.iter_mut() {
        let Some(i) = incidents
            .iter()
            .find(|i| r.time >= i.start && r.time < i.start + i.duration)
        else {
            continue;
        };
        let j = &r.json;
        if j["status"]["errorCode"].as_i64() != Some(0) {
            continue;
        }
        let hit = match &i.kind {
            IncidentKind::MfaOutage => {
                j["authenticationRequirement"] == "multiFactorAuthentication" && picked(&r.id, 8)
            }
            IncidentKind::CompliantDeviceWave => j["appId"] == EXCHANGE,
            IncidentKind::AppFailures(app) => j["appId"] == app.as_str() && picked(&r.id, 6),
        };
        if !hit {
            continue;
        }
        let j = &mut r.json;
        match &i.kind {
            IncidentKind::MfaOutage => {
                j["status"] = json!({ "errorCode": 500121, "failureReason": "Authentication failed during strong authentication request.", "additionalDetails": "The user didn't complete the MFA prompt." });
                if let Some(step) = j["authenticationDetails"].get_mut(1) {
                    step["succeeded"] = json!(false);
                    step["authenticationStepResultDetail"] =
                        json!("MFA denied; user did not respond to mobile app notification");
                }
                j["conditionalAccessStatus"] = json!("failure");
            }
            IncidentKind::CompliantDeviceWave => {
                j["status"] = json!({ "errorCode": DEVICE_NOT_COMPLIANT, "failureReason": "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant. The user must enroll their device with an approved MDM provider like Intune.", "additionalDetails": null });
                j["authenticationDetails"] = json!([]);
                j["authenticationRequirement"] = json!("singleFactorAuthentication");
                j["conditionalAccessStatus"] = json!("failure");
                if let Some(policies) = j["appliedConditionalAccessPolicies"].as_array_mut() {
                    for p in policies
                        .iter_mut()
                        .filter(|p| p["id"] == COMPLIANT_EXCHANGE.id)
                    {
                        p["result"] = json!("failure");
                    }
                }
            }
            IncidentKind::AppFailures(_) => {
                j["status"] = json!({ "errorCode": 50000, "failureReason": "There is an issue with our sign-in service.", "additionalDetails": null });
            }
        }
        r.revision = None;
    }
}
