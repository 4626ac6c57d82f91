//! Incidents injected into the simulated tenant's interactive sign-ins, with their ground
//! truth, for the tenant-health tests: an MFA outage (most sign-ins that need MFA fail with
//! 500121), a compliant-device failure wave (Exchange Online sign-ins refused with 53000, as
//! when device compliance cannot be evaluated), one app failing (its sign-ins fail with 50000,
//! a service error), and a Conditional Access policy change blocking one office (an audited
//! "Update conditional access policy" three minutes before its sign-ins are refused with 53003,
//! another reverting it at the end). None by default; a test lists them in
//! [`super::SimulatedTenant::incidents`], and [`super::SimulatedTenant::records`] applies them
//! (the simulated Graph server does not serve them yet). Each changes a sign-in by its id alone,
//! so the rest of the tenant is as it was, and a changed sign-in is published once, final (no
//! later MFA completion).

use super::details::{BLOCK_UNSUPPORTED, COMPLIANT_EXCHANGE, DEVICE_NOT_COMPLIANT};
use super::directory::{Directory, guid_from};
use super::record::{SimRecord, iso};
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
    /// An administrator updates the policy blocking unsupported device platforms with a
    /// location condition that takes in one office (by city: the people working there, a
    /// department of this tenant): its successful sign-ins are refused with 53003 by that policy
    /// until the change is reverted.
    PolicyBlocksOffice(String),
}

/// How long before the sign-ins are refused the policy change is audited.
pub const POLICY_CHANGE_LEAD: Duration = Duration::minutes(3);

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
        IncidentKind::PolicyBlocksOffice(_) => 53003,
    }
}

const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";

/// A share of records picked by id: the same record is always picked or not.
fn picked(id: &str, in_ten: u64) -> bool {
    let hex = id.replace('-', "");
    let bits = u64::from_str_radix(&hex[..12.min(hex.len())], 16).unwrap_or(0);
    bits % 10 < in_ten
}

/// Applies `incidents` to `records` (the minute starting at `minute`, of `category`): the
/// interactive sign-ins they change, the audit records of the policy changes.
pub fn apply(
    incidents: &[Incident],
    dir: &Directory,
    category: Category,
    minute: DateTime<Utc>,
    records: &mut Vec<SimRecord>,
) {
    if category == Category::AuditLogs {
        for i in incidents {
            let IncidentKind::PolicyBlocksOffice(city) = &i.kind else {
                continue;
            };
            for (t, revert) in [
                (i.start - POLICY_CHANGE_LEAD, false),
                (i.start + i.duration, true),
            ] {
                if t >= minute && t < minute + Duration::minutes(1) {
                    records.push(policy_change(dir, city, t, revert));
                }
            }
        }
        return;
    }
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
            IncidentKind::PolicyBlocksOffice(city) => j["location"]["city"] == city.as_str(),
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
                let reason = "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant. The user must enroll their device with an approved MDM provider like Intune.";
                refuse(j, DEVICE_NOT_COMPLIANT, reason, COMPLIANT_EXCHANGE.id);
            }
            IncidentKind::AppFailures(_) => {
                j["status"] = json!({ "errorCode": 50000, "failureReason": "There is an issue with our sign-in service.", "additionalDetails": null });
            }
            IncidentKind::PolicyBlocksOffice(_) => {
                let reason = "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.";
                refuse(j, 53003, reason, BLOCK_UNSUPPORTED.id);
                // The policy now applies: its conditions (the new location) are satisfied.
                for p in j["appliedConditionalAccessPolicies"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["id"] == BLOCK_UNSUPPORTED.id)
                {
                    p["enforcedGrantControls"] = json!(BLOCK_UNSUPPORTED.grant_controls);
                    p["conditionsSatisfied"] = json!("application,users,locations");
                    p["conditionsNotSatisfied"] = json!("none");
                }
            }
        }
        r.revision = None;
    }
}

/// A sign-in refused by Conditional Access policy `policy` with `code`: no authentication step
/// recorded, the policy's result a failure.
fn refuse(j: &mut serde_json::Value, code: i64, reason: &str, policy: &str) {
    j["status"] = json!({ "errorCode": code, "failureReason": reason, "additionalDetails": null });
    j["authenticationDetails"] = json!([]);
    j["authenticationRequirement"] = json!("singleFactorAuthentication");
    j["conditionalAccessStatus"] = json!("failure");
    for p in j["appliedConditionalAccessPolicies"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|p| p["id"] == policy)
    {
        p["result"] = json!("failure");
    }
}

/// The audit record of the policy change blocking `city` at `t` (or of its revert): by the
/// tenant's first privileged user, as Entra logs a Conditional Access policy update.
fn policy_change(dir: &Directory, city: &str, t: DateTime<Utc>, revert: bool) -> SimRecord {
    let admin = dir
        .privileged
        .iter()
        .next()
        .and_then(|id| dir.users.iter().find(|u| &u.id == id))
        .or(dir.users.first());
    let seed = (t.timestamp_millis() as u128) << 1 | u128::from(revert);
    let id = format!(
        "IPCGraph_{}",
        guid_from(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    );
    let without =
        r#"{"conditions":{"platforms":{"includePlatforms":["unknownFutureValue"]},"locations":null}}"#
            .to_string();
    let with = format!(
        "{{\"conditions\":{{\"platforms\":{{\"includePlatforms\":[\"unknownFutureValue\"]}},\"locations\":{{\"includeLocations\":[\"{city}\"]}}}}}}"
    );
    let (old, new) = if revert {
        (with, without)
    } else {
        (without, with)
    };
    let json = json!({
        "id": id,
        "category": "Policy",
        "correlationId": guid_from(seed.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Update conditional access policy",
        "activityDateTime": iso(t),
        "loggedByService": "Conditional Access",
        "operationType": "Update",
        "initiatedBy": {
            "user": admin.map(|u| json!({ "id": u.id, "displayName": null, "userPrincipalName": u.user_principal_name, "ipAddress": null, "userType": null, "homeTenantId": null, "homeTenantName": null })),
            "app": null
        },
        "targetResources": [{
            "id": BLOCK_UNSUPPORTED.id, "displayName": BLOCK_UNSUPPORTED.display_name, "type": "Policy",
            "userPrincipalName": null, "groupType": null,
            "modifiedProperties": [{ "displayName": "ConditionalAccessPolicy", "oldValue": old, "newValue": new }]
        }],
        "additionalDetails": []
    });
    SimRecord {
        category: Category::AuditLogs,
        id,
        time: t,
        visible_at: t + Duration::minutes(2),
        json,
        revision: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulated::SimulatedTenant;
    use chrono::TimeZone;

    #[test]
    fn a_policy_change_is_audited_before_the_office_is_blocked_and_reverted_after() {
        let mut tenant = SimulatedTenant::new(3, 300);
        // A Wednesday, 10:00 for 30 minutes.
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let before = tenant.records(
            Category::SignInLogs,
            start,
            start + Duration::minutes(30),
            None,
        );
        tenant.incidents = vec![Incident {
            kind: IncidentKind::PolicyBlocksOffice("Amsterdam".into()),
            start,
            duration: Duration::minutes(30),
        }];
        let day = (start - Duration::hours(10), start + Duration::hours(14));
        let audits: Vec<SimRecord> = tenant
            .records(Category::AuditLogs, day.0, day.1, None)
            .into_iter()
            .filter(|r| r.json["category"] == "Policy")
            .collect();
        let times: Vec<_> = audits.iter().map(|r| r.time).collect();
        assert_eq!(
            times,
            [start - POLICY_CHANGE_LEAD, start + Duration::minutes(30)]
        );
        let change = &audits[0].json;
        assert_eq!(
            change["activityDisplayName"],
            "Update conditional access policy"
        );
        assert_eq!(
            change["targetResources"][0]["displayName"],
            BLOCK_UNSUPPORTED.display_name
        );
        assert!(change["initiatedBy"]["user"]["userPrincipalName"].is_string());
        let modified = &change["targetResources"][0]["modifiedProperties"][0];
        assert!(modified["newValue"].as_str().unwrap().contains("Amsterdam"));
        assert_eq!(
            modified["oldValue"],
            audits[1].json["targetResources"][0]["modifiedProperties"][0]["newValue"]
        );

        // In the window: Amsterdam's successful sign-ins are refused with 53003 by that policy;
        // nothing else changes.
        let after = tenant.records(
            Category::SignInLogs,
            start,
            start + Duration::minutes(30),
            None,
        );
        assert_eq!(before.len(), after.len());
        let mut blocked = 0;
        for (b, a) in before.iter().zip(&after) {
            let amsterdam = b.json["location"]["city"] == "Amsterdam";
            if amsterdam && b.json["status"]["errorCode"] == 0 {
                blocked += 1;
                assert_eq!(a.json["status"]["errorCode"], 53003);
                assert_eq!(a.json["conditionalAccessStatus"], "failure");
                let p = a.json["appliedConditionalAccessPolicies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["id"] == BLOCK_UNSUPPORTED.id)
                    .expect("the policy applied");
                assert_eq!(p["result"], "failure");
            } else {
                assert_eq!(a.json, b.json);
            }
        }
        assert!(blocked > 5, "{blocked} sign-ins blocked");
    }
}
