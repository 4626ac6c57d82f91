//! The simulated tenant's activity, minute by minute.
//!
//! Every record of a minute is derived from (seed, category, minute) alone, so any time range
//! can be produced on demand, in any order, identically every time: the generator needs no
//! memory and the tests have an exact ground truth. Each record also carries the moment it
//! becomes visible through the API, because Entra publishes records late (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-latencies>).

use super::directory::{Directory, ROLES, guid_from};
use super::record::{SimRecord, delay_for, id, ip, iso, location, poisson};
use super::sign_ins::user_sign_in;
use crate::model::Category;
use chrono::{DateTime, Duration, Timelike, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

fn mix(seed: u64, category: Category, minute: i64) -> u64 {
    // SplitMix64 finaliser over the three inputs: neighbouring minutes get unrelated streams.
    let mut z = seed
        ^ (category as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (minute as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixed into the seed of the legacy clients' stream.
const LEGACY_STREAM: u64 = 0x6C65_6761_6379;
/// A legacy client signs in about every half hour (a mail client checking for mail).
const LEGACY_POLL_MINUTES: f64 = 30.0;

fn time_in(rng: &mut Rng, minute_start: DateTime<Utc>) -> DateTime<Utc> {
    minute_start + Duration::milliseconds(rng.i64(0..60_000))
}

/// Generates the records whose event time falls in the minute starting at `minute_start`.
pub fn minute_records(
    seed: u64,
    dir: &Directory,
    category: Category,
    minute_start: DateTime<Utc>,
) -> Vec<SimRecord> {
    let minute = minute_start.timestamp().div_euclid(60);
    let mut rng = Rng::with_seed(mix(seed, category, minute));
    let hour = minute_start.hour();
    let weekday = chrono::Datelike::weekday(&minute_start).num_days_from_monday() < 5
        && !dir.holidays.contains(&minute_start.date_naive());
    let mut out = Vec::new();
    let mut push = |rng: &mut Rng, time: DateTime<Utc>, json: Value| {
        let id = json["id"].as_str().unwrap_or_default().to_string();
        let visible_at = time + delay_for(rng, category);
        let revision = super::details::revision(&json, time, visible_at);
        out.push(SimRecord {
            category,
            id,
            time,
            visible_at,
            json,
            revision,
        });
    };
    match category {
        Category::SignInLogs | Category::NonInteractiveUserSignInLogs => {
            let at = (minute, minute_start, weekday);
            user_sign_ins(seed, dir, category, at, &mut rng, &mut push);
        }
        Category::ServicePrincipalSignInLogs | Category::ManagedIdentitySignInLogs => {
            let managed = category == Category::ManagedIdentitySignInLogs;
            let list = if managed {
                &dir.managed_identities
            } else {
                &dir.service_principals
            };
            for w in list {
                if rng.f64() < w.rate / 60.0 {
                    let t = time_in(&mut rng, minute_start);
                    let json = workload_sign_in(&mut rng, dir, w, t, managed);
                    push(&mut rng, t, json);
                }
            }
        }
        Category::AuditLogs => {
            // About one audit event per 10 users per working hour.
            let rate = dir.users.len() as f64 / 10.0 / 60.0
                * if weekday && (7..19).contains(&hour) {
                    1.0
                } else {
                    0.1
                };
            for _ in 0..poisson(&mut rng, rate) {
                let t = time_in(&mut rng, minute_start);
                let json = directory_audit(&mut rng, dir, t);
                push(&mut rng, t, json);
            }
        }
        Category::ProvisioningLogs => {
            let rate = (dir.users.len() as f64 / 600.0).max(0.05);
            for _ in 0..poisson(&mut rng, rate) {
                let t = time_in(&mut rng, minute_start);
                let json = provisioning_event(&mut rng, dir, t);
                push(&mut rng, t, json);
            }
        }
        Category::UserRiskEvents | Category::RiskyUsers => {
            // Risk detections are rare: about one per 200 users per day. A risky-user record is
            // the user's state after the detection; the same user can appear again later.
            let rate = dir.users.len() as f64 / 200.0 / 1440.0;
            for _ in 0..poisson(&mut rng, rate) {
                let t = time_in(&mut rng, minute_start);
                let user = &dir.users[rng.usize(..dir.users.len())];
                let json = if category == Category::UserRiskEvents {
                    risk_detection(&mut rng, user, t)
                } else {
                    risky_user(&mut rng, user, t)
                };
                push(&mut rng, t, json);
            }
        }
        Category::ServicePrincipalRiskEvents | Category::RiskyServicePrincipals => {
            // Both come from the detections' stream: a risky service principal is the state a
            // detection leaves.
            let mut drawn = Rng::with_seed(mix(seed, Category::ServicePrincipalRiskEvents, minute));
            for (t, detection) in super::workload_risk::detections(&mut drawn, dir, minute_start) {
                let json = if category == Category::ServicePrincipalRiskEvents {
                    detection
                } else {
                    super::workload_risk::risky(&detection)
                };
                push(&mut rng, t, json);
            }
        }
        // Only exported, never served by Graph (or entra-monitor's own): the simulated tenant
        // has none.
        Category::MicrosoftGraphActivityLogs
        | Category::ADFSSignInLogs
        | Category::EntraMonitorRecommendations
        | Category::EntraMonitorHealthAlerts => {}
    }
    out.extend(super::attacks::minute_records(
        seed,
        dir,
        category,
        minute_start,
    ));
    out
}

/// The users' sign-ins of a minute (`at`: the minute's number, its start, whether a working
/// day), and the legacy clients' among the interactive ones, each handed to `push`.
fn user_sign_ins(
    seed: u64,
    dir: &Directory,
    category: Category,
    (minute, minute_start, weekday): (i64, DateTime<Utc>, bool),
    rng: &mut Rng,
    push: &mut impl FnMut(&mut Rng, DateTime<Utc>, Value),
) {
    let hour = minute_start.hour();
    let interactive = category == Category::SignInLogs;
    for user in &dir.users {
        let working = weekday && in_hours(hour, user.work_start_hour, user.work_end_hour);
        let per_hour =
            user.activity * if interactive { 1.0 } else { 4.0 } * if working { 1.0 } else { 0.04 };
        if rng.f64() < per_hour / 60.0 {
            let t = time_in(rng, minute_start);
            let json = user_sign_in(rng, dir, user, t, interactive);
            push(rng, t, json);
        }
    }
    if interactive {
        // Their own stream: the other sign-ins are the same with or without them.
        let mut legacy = Rng::with_seed(mix(seed ^ LEGACY_STREAM, category, minute));
        for user in super::sign_ins::legacy_users(dir) {
            if legacy.f64() < 1.0 / LEGACY_POLL_MINUTES {
                let t = time_in(&mut legacy, minute_start);
                let json = super::sign_ins::legacy_sign_in(&mut legacy, dir, user, t);
                push(&mut legacy, t, json);
            }
        }
    }
}

fn in_hours(hour: u32, start: u32, end: u32) -> bool {
    if start < end {
        (start..end).contains(&hour)
    } else {
        hour >= start || hour < end
    }
}

fn workload_sign_in(
    rng: &mut Rng,
    dir: &Directory,
    w: &super::directory::Workload,
    t: DateTime<Utc>,
    managed: bool,
) -> Value {
    let failed = rng.f64() < 0.02;
    json!({
        "id": id(rng),
        "createdDateTime": iso(t),
        "appId": w.app_id,
        "appDisplayName": w.display_name,
        "servicePrincipalId": w.id,
        "servicePrincipalName": w.display_name,
        "ipAddress": if managed { String::new() } else { ip(rng, w.place) },
        "correlationId": id(rng),
        "conditionalAccessStatus": "notApplied",
        "isInteractive": false,
        "signInEventTypes": [if managed { "managedIdentity" } else { "servicePrincipal" }],
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": w.resource_id,
        "resourceTenantId": dir.tenant_id,
        "servicePrincipalCredentialKeyId": if managed { String::new() } else { w.credential_key_id.clone() },
        "servicePrincipalCredentialThumbprint": "",
        "clientCredentialType": if managed { "managedIdentity" } else { "clientSecret" },
        "managedServiceIdentity": if managed {
            json!({ "msiType": "systemAssigned", "associatedResourceId": format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/apps/providers/Microsoft.Web/sites/{}", w.display_name) })
        } else { json!({ "msiType": "none", "associatedResourceId": null }) },
        "federatedCredentialId": null,
        "uniqueTokenIdentifier": id(rng).replace('-', ""),
        "status": if failed {
            json!({ "errorCode": 7000215, "failureReason": "Invalid client secret provided.", "additionalDetails": null })
        } else { json!({ "errorCode": 0, "failureReason": "Other.", "additionalDetails": null }) },
        "location": if managed { json!({ "city": null, "state": null, "countryOrRegion": null, "geoCoordinates": {} }) } else { location(w.place) },
        "appliedConditionalAccessPolicies": [],
        "authenticationProcessingDetails": [],
        "userId": "",
        "userPrincipalName": null,
        "userDisplayName": null
    })
}

fn directory_audit(rng: &mut Rng, dir: &Directory, t: DateTime<Utc>) -> Value {
    let user = &dir.users[rng.usize(..dir.users.len())];
    let admin = &dir.users[rng.usize(..dir.users.len())];
    let by_user = |u: &super::directory::User, ip: String| json!({ "user": { "id": u.id, "displayName": null, "userPrincipalName": u.user_principal_name, "ipAddress": ip, "userType": null, "homeTenantId": null, "homeTenantName": null }, "app": null });
    let target_user = json!({ "id": user.id, "displayName": null, "type": "User", "userPrincipalName": user.user_principal_name, "groupType": null, "modifiedProperties": [] });
    let roll = rng.f64();
    let (category, activity, operation, service, initiated, targets, details) = if roll < 0.25 {
        (
            "UserManagement",
            "Reset password (self-service)",
            "Update",
            "Self-service Password Management",
            by_user(user, ip(rng, user.home)),
            json!([target_user]),
            json!([]),
        )
    } else if roll < 0.35 {
        (
            "UserManagement",
            "Reset user password",
            "Update",
            "Core Directory",
            by_user(admin, ip(rng, admin.home)),
            json!([target_user]),
            json!([]),
        )
    } else if roll < 0.70 {
        let group = &dir.groups[rng.usize(..dir.groups.len())];
        let group_target = json!({ "id": group.id, "displayName": group.display_name, "type": "Group", "userPrincipalName": null, "groupType": "unifiedGroups",
            "modifiedProperties": [{ "displayName": "Group.DisplayName", "oldValue": null, "newValue": format!("\"{}\"", group.display_name) }] });
        let add = rng.f64() < 0.8;
        if group.privileged && add {
            // Privileged groups are reached through PIM for Groups: the user activates an
            // eligible membership.
            (
                "GroupManagement",
                "Add member to group completed (PIM activation)",
                "Assign",
                "PIM",
                by_user(user, ip(rng, user.home)),
                json!([target_user, group_target]),
                json!([]),
            )
        } else {
            (
                "GroupManagement",
                if add {
                    "Add member to group"
                } else {
                    "Remove member from group"
                },
                if add { "Assign" } else { "Unassign" },
                "Core Directory",
                by_user(admin, ip(rng, admin.home)),
                json!([target_user, group_target]),
                json!([]),
            )
        }
    } else if roll < 0.97 {
        (
            "UserManagement",
            "Update user",
            "Update",
            "Core Directory",
            by_user(admin, ip(rng, admin.home)),
            json!([{ "id": user.id, "displayName": null, "type": "User", "userPrincipalName": user.user_principal_name, "groupType": null,
                "modifiedProperties": [{ "displayName": "Department", "oldValue": "[\"Sales\"]", "newValue": "[\"Marketing\"]" }] }]),
            json!([]),
        )
    } else {
        // Privileged roles are reached through PIM: the user activates an eligible assignment.
        let role = &ROLES[rng.usize(..ROLES.len())];
        (
            "RoleManagement",
            "Add member to role completed (PIM activation)",
            "Assign",
            "PIM",
            by_user(user, ip(rng, user.home)),
            json!([target_user, { "id": role.id, "displayName": role.display_name, "type": "Role", "userPrincipalName": null, "groupType": null,
                "modifiedProperties": [{ "displayName": "Role.DisplayName", "oldValue": null, "newValue": format!("\"{}\"", role.display_name) }] }]),
            json!([]),
        )
    };
    let record_id = format!("Directory_{}", id(rng).to_uppercase());
    // One self-service event in six unlocks an account rather than resetting its password,
    // drawn from the record's id so the rest of the tenant's activity stays as it was.
    let activity = if service == "Self-service Password Management"
        && Rng::with_seed(record_id.bytes().fold(0xCBF2_9CE4_8422_2325, |h: u64, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        }))
        .f64()
            < 1.0 / 6.0
    {
        "Unlock user account (self-service)"
    } else {
        activity
    };
    json!({
        "id": record_id,
        "category": category,
        "correlationId": id(rng),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": iso(t),
        "loggedByService": service,
        "operationType": operation,
        "initiatedBy": initiated,
        "targetResources": targets,
        "additionalDetails": details
    })
}

/// The provisioning jobs of the tenant: (source, target, object type, actions).
const JOBS: &[(&str, &str, &str, &[&str])] = &[
    (
        "Workday",
        "Active Directory",
        "User",
        &["create", "update", "update", "disable"],
    ),
    (
        "Azure Active Directory",
        "ServiceNow",
        "Group",
        &["create", "update"],
    ),
    (
        "Azure Active Directory",
        "ServiceNow",
        "User",
        &["create", "update"],
    ),
    (
        "Azure Active Directory",
        "Adobe Identity Management",
        "User",
        &["create", "delete", "update"],
    ),
];

fn provisioning_event(rng: &mut Rng, dir: &Directory, t: DateTime<Utc>) -> Value {
    let job = rng.usize(..JOBS.len());
    let (source, target, object_type, actions) = JOBS[job];
    let action = actions[rng.usize(..actions.len())];
    let roll = rng.f64();
    let status = if roll < 0.85 {
        "success"
    } else if roll < 0.93 {
        "skipped"
    } else {
        "failure"
    };
    let (display, source_id) = if object_type == "Group" {
        let g = &dir.groups[rng.usize(..dir.groups.len())];
        (g.display_name.clone(), g.id.clone())
    } else {
        let u = &dir.users[rng.usize(..dir.users.len())];
        (u.display_name.clone(), u.id.clone())
    };
    let job_id = format!(
        "{}.{}",
        target.split(' ').next().unwrap_or("job").to_lowercase(),
        guid_from(job as u128 + 1).replace('-', "")
    );
    json!({
        "id": format!("{}", id(rng)),
        "activityDateTime": iso(t),
        "tenantId": dir.tenant_id,
        "jobId": job_id,
        "cycleId": id(rng),
        "changeId": id(rng),
        "durationInMilliseconds": rng.i64(100..5000),
        "provisioningAction": action,
        "provisioningStatusInfo": {
            "status": status,
            "errorInformation": if status == "failure" {
                json!({ "errorCode": "ExportFailed", "reason": "The target system rejected the change.", "additionalDetails": null, "errorCategory": "NonServiceFailure", "recommendedAction": null })
            } else { Value::Null }
        },
        "provisioningSteps": [
            { "name": "EntryImport", "provisioningStepType": "import", "status": "success", "description": format!("Retrieved {display} from {source}"), "details": {} },
            { "name": "EntryExportUpdate", "provisioningStepType": "export", "status": status, "description": format!("{action} {display} in {target}"), "details": {} }
        ],
        "modifiedProperties": [{ "displayName": "displayName", "oldValue": null, "newValue": display }],
        "initiatedBy": { "id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system" },
        "servicePrincipal": { "id": guid_from(job as u128 + 100), "displayName": target },
        "sourceSystem": { "id": guid_from(job as u128 + 200), "displayName": source, "details": {} },
        "targetSystem": { "id": guid_from(job as u128 + 300), "displayName": target, "details": { "ApplicationId": guid_from(job as u128 + 400), "ServicePrincipalId": guid_from(job as u128 + 100), "ServicePrincipalDisplayName": target } },
        "sourceIdentity": { "id": source_id, "displayName": display, "identityType": object_type, "details": {} },
        "targetIdentity": { "id": id(rng), "displayName": display, "identityType": object_type, "details": {} }
    })
}

const RISKS: &[(&str, &str)] = &[
    ("anonymizedIPAddress", "realtime"),
    ("unfamiliarFeatures", "realtime"),
    ("unlikelyTravel", "offline"),
    ("leakedCredentials", "offline"),
];

fn risk_detection(rng: &mut Rng, user: &super::directory::User, t: DateTime<Utc>) -> Value {
    let (kind, timing) = RISKS[rng.usize(..RISKS.len())];
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
        "activity": "signin",
        "tokenIssuerType": "AzureAD",
        "ipAddress": ip(rng, user.home),
        "location": location(user.home),
        "activityDateTime": iso(t),
        "detectedDateTime": iso(t),
        "lastUpdatedDateTime": iso(t),
        "userId": user.id,
        "userDisplayName": user.display_name,
        "userPrincipalName": user.user_principal_name,
        "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0\"}]"
    })
}

fn risky_user(rng: &mut Rng, user: &super::directory::User, t: DateTime<Utc>) -> Value {
    json!({
        "id": user.id,
        "isDeleted": false,
        "isProcessing": false,
        "riskLastUpdatedDateTime": iso(t),
        "riskLevel": (["low", "medium", "high"][rng.usize(..3)]),
        "riskState": "atRisk",
        "riskDetail": "none",
        "userDisplayName": user.display_name,
        "userPrincipalName": user.user_principal_name
    })
}
