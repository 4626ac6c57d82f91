//! Incidents injected into the simulated tenant's interactive sign-ins, with their ground
//! truth, for the tenant-health tests: an MFA outage (most sign-ins that need MFA fail with
//! 500121), a compliant-device failure wave (Exchange Online sign-ins refused with 53000, as
//! when device compliance cannot be evaluated), one app failing (its sign-ins fail with 50000,
//! a service error), and a Conditional Access policy change blocking one office (an audited
//! "Update conditional access policy" three minutes before its sign-ins are refused with 53003,
//! another reverting it at the end), and a quiet dip: "Block legacy authentication" disabled
//! (audited) and the legacy clients' sign-ins let through until it is enabled again, so the
//! users blocked by Conditional Access fall. None by default; a test lists them in
//! [`super::SimulatedTenant::incidents`], and [`super::SimulatedTenant::records`] applies them
//! (the simulated Graph server does not serve them yet). Each changes a sign-in by its id alone,
//! so the rest of the tenant is as it was, and a changed sign-in is published once, final (no
//! later MFA completion).

use super::details::{
    BLOCK_LEGACY, BLOCK_UNSUPPORTED, COMPLIANT_EXCHANGE, CaPolicy, DEVICE_NOT_COMPLIANT,
};
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
    /// An administrator disables "Block legacy authentication": the legacy clients'
    /// ([`super::Directory::legacy_clients`]) sign-ins it refused with 53003 go through until it
    /// is enabled again — fewer users blocked by Conditional Access (a quiet dip).
    LegacyBlockDisabled,
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
        IncidentKind::PolicyBlocksOffice(_) | IncidentKind::LegacyBlockDisabled => 53003,
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
            let (policy, before, after) = match &i.kind {
                IncidentKind::PolicyBlocksOffice(city) => (
                    &BLOCK_UNSUPPORTED,
                    r#"{"conditions":{"platforms":{"includePlatforms":["unknownFutureValue"]},"locations":null}}"#.to_string(),
                    format!(
                        "{{\"conditions\":{{\"platforms\":{{\"includePlatforms\":[\"unknownFutureValue\"]}},\"locations\":{{\"includeLocations\":[\"{city}\"]}}}}}}"
                    ),
                ),
                IncidentKind::LegacyBlockDisabled => (
                    &BLOCK_LEGACY,
                    r#"{"state":"enabled"}"#.to_string(),
                    r#"{"state":"disabled"}"#.to_string(),
                ),
                _ => continue,
            };
            for (t, revert) in [
                (i.start - POLICY_CHANGE_LEAD, false),
                (i.start + i.duration, true),
            ] {
                if t >= minute && t < minute + Duration::minutes(1) {
                    let change = if revert {
                        (after.clone(), before.clone())
                    } else {
                        (before.clone(), after.clone())
                    };
                    records.push(policy_change(dir, policy, change, t, revert));
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
        let code = j["status"]["errorCode"].as_i64();
        if let IncidentKind::LegacyBlockDisabled = i.kind {
            let client = j["clientAppUsed"].as_str().unwrap_or_default();
            let legacy = client != "Browser" && client != "Mobile Apps and Desktop clients";
            if code == Some(53003) && legacy {
                let_through(&mut r.json, dir);
                r.revision = None;
            }
            continue;
        }
        if code != Some(0) {
            continue;
        }
        let hit = match &i.kind {
            IncidentKind::MfaOutage => {
                j["authenticationRequirement"] == "multiFactorAuthentication" && picked(&r.id, 8)
            }
            IncidentKind::CompliantDeviceWave => j["appId"] == EXCHANGE,
            IncidentKind::AppFailures(app) => j["appId"] == app.as_str() && picked(&r.id, 6),
            IncidentKind::PolicyBlocksOffice(city) => j["location"]["city"] == city.as_str(),
            IncidentKind::LegacyBlockDisabled => false,
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
            IncidentKind::LegacyBlockDisabled => {}
        }
        r.revision = None;
    }
}

/// A legacy sign-in the disabled "Block legacy authentication" no longer refuses: successful,
/// its details derived again, the policy listed as not enabled.
fn let_through(j: &mut serde_json::Value, dir: &Directory) {
    j["status"] = json!({ "errorCode": 0, "failureReason": "Other.", "additionalDetails": null });
    super::details::complete(j, dir);
    for p in j["appliedConditionalAccessPolicies"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|p| p["id"] == BLOCK_LEGACY.id)
    {
        p["result"] = json!("notEnabled");
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

/// The audit record of a change to `policy` at `t` (`(old, new)`: its changed properties as
/// JSON; `revert`: the change undone): by the tenant's first privileged user, as Entra logs a
/// Conditional Access policy update.
fn policy_change(
    dir: &Directory,
    policy: &CaPolicy,
    (old, new): (String, String),
    t: DateTime<Utc>,
    revert: bool,
) -> SimRecord {
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
            "id": policy.id, "displayName": policy.display_name, "type": "Policy",
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

    #[test]
    fn legacy_clients_are_refused_until_the_block_is_disabled_a_quiet_dip() {
        let mut tenant = SimulatedTenant::new(3, 300);
        // Saturday night, 03:00 for 30 minutes: nobody works, the legacy clients poll on.
        let start = Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap();
        let window = (start, start + Duration::minutes(30));
        let refused = |records: &[SimRecord]| {
            records
                .iter()
                .filter(|r| {
                    r.json["status"]["errorCode"] == 53003
                        && r.json["clientAppUsed"] != "Browser"
                        && r.json["appliedConditionalAccessPolicies"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["id"] == BLOCK_LEGACY.id && p["result"] == "failure")
                })
                .count()
        };
        let without = tenant.records(Category::SignInLogs, window.0, window.1, None);
        assert_eq!(refused(&without), 0, "no legacy clients by default");
        tenant.directory.legacy_clients = 30;
        let with = tenant.records(Category::SignInLogs, window.0, window.1, None);
        // About 30 clients every half hour: some 30 refusals in half an hour; the tenant's
        // other sign-ins are as they were.
        let n = refused(&with);
        assert!((15..=50).contains(&n), "{n} legacy sign-ins refused");
        assert_eq!(with.len() - n, without.len());
        tenant.incidents = vec![Incident {
            kind: IncidentKind::LegacyBlockDisabled,
            start,
            duration: Duration::minutes(30),
        }];
        let during = tenant.records(Category::SignInLogs, window.0, window.1, None);
        assert_eq!(refused(&during), 0);
        let through: Vec<&SimRecord> = during
            .iter()
            .filter(|r| r.json["clientAppUsed"] != "Browser" && r.json["status"]["errorCode"] == 0)
            .collect();
        assert!(through.len() >= n, "{} let through", through.len());
        let p = through[0].json["appliedConditionalAccessPolicies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == BLOCK_LEGACY.id)
            .cloned()
            .unwrap();
        assert_eq!(p["result"], "notEnabled");
        // Disabled three minutes before, enabled again at the end, both audited.
        let audits: Vec<SimRecord> = tenant
            .records(
                Category::AuditLogs,
                start - Duration::hours(1),
                start + Duration::hours(1),
                None,
            )
            .into_iter()
            .filter(|r| r.json["category"] == "Policy")
            .collect();
        let changes: Vec<(DateTime<Utc>, &serde_json::Value)> = audits
            .iter()
            .map(|r| {
                (
                    r.time,
                    &r.json["targetResources"][0]["modifiedProperties"][0]["newValue"],
                )
            })
            .collect();
        assert_eq!(
            changes,
            [
                (
                    start - POLICY_CHANGE_LEAD,
                    &json!(r#"{"state":"disabled"}"#)
                ),
                (window.1, &json!(r#"{"state":"enabled"}"#)),
            ]
        );
        assert_eq!(
            audits[0].json["targetResources"][0]["displayName"],
            BLOCK_LEGACY.display_name
        );
    }
}
