//! Microsoft's own usage reports as the simulated tenant's Graph serves them (beta, Workload ID
//! Premium): `reports/servicePrincipalSignInActivities` and
//! `reports/appCredentialSignInActivities`
//! (<https://learn.microsoft.com/graph/api/resources/serviceprincipalsigninactivity?view=graph-rest-beta>,
//! <https://learn.microsoft.com/graph/api/resources/appcredentialsigninactivity?view=graph-rest-beta>).
//!
//! They are computed from the tenant's sign-ins of the `days` before the anchor with the roles
//! entra-monitor uses, plus history older than any collection: Microsoft keeps all of it, so
//! the app registration `legacy-reporting` (never signed in to during the logs) last signed in
//! 200 days before the anchor with its secret. That is the difference a comparison must find.
//!
//! Also the authentication methods report `reports/authenticationMethods/userEventsSummary`
//! (beta, Entra ID P1 or P2): the self-service password resets of the same week, each with the
//! method the user verified with — which the audit logs do not record
//! (<https://learn.microsoft.com/graph/api/resources/usereventssummary?view=graph-rest-beta>).

use super::SimulatedTenant;
use super::inventory::Inventory;
use crate::model::Category;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How long before the anchor `legacy-reporting` last signed in, in Microsoft's history.
pub const LEGACY_LAST_SIGN_IN_DAYS: i64 = 200;

type Last = BTreeMap<String, (DateTime<Utc>, String)>;

fn keep(map: &mut Last, key: &str, t: DateTime<Utc>, id: &str) {
    if key.is_empty() {
        return;
    }
    let e = map.entry(key.to_string()).or_insert((t, id.to_string()));
    if t > e.0 {
        *e = (t, id.to_string());
    }
}

fn activity(last: Option<&(DateTime<Utc>, String)>) -> Value {
    match last {
        Some((t, id)) => json!({
            "lastSignInDateTime": t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastSignInRequestId": id,
        }),
        None => json!({ "lastSignInDateTime": null, "lastSignInRequestId": null }),
    }
}

/// Fills what Graph computes from sign-ins — the users' `signInActivity` and Microsoft's usage
/// reports — from `tenant`'s sign-ins of the week before `anchor`.
pub fn fill_from_logs(inv: &mut Inventory, tenant: &SimulatedTenant, anchor: DateTime<Utc>) {
    super::people::fill_sign_in_activity(&mut inv.people.users, tenant, anchor, 7);
    let (sps, credentials) = generate(tenant, inv, anchor, 7);
    inv.sp_sign_in_activities = sps;
    inv.credential_sign_in_activities = credentials;
    inv.user_events = user_events(tenant, anchor, 7);
    inv.sign_in_activity_filled = true;
}

/// The methods a user verifies with to reset a password, as `userEventsSummary` names them
/// (`usageAuthMethod`).
const RESET_METHODS: [&str; 5] = [
    "appNotification",
    "mobileSMS",
    "email",
    "appCode",
    "securityQuestion",
];

/// The activity of a self-service password reset in the audit logs.
pub const SELF_SERVICE_RESET: &str = "Reset password (self-service)";

/// The method a self-service reset was verified with, drawn from its audit record's id
/// (ground truth for the report).
pub fn reset_method(record_id: &str) -> &'static str {
    let hash = record_id.bytes().fold(0x811C_9DC5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    // Most users verify with the Authenticator app or a text message.
    match hash % 10 {
        0..=3 => RESET_METHODS[0],
        4..=6 => RESET_METHODS[1],
        7 => RESET_METHODS[2],
        8 => RESET_METHODS[3],
        _ => RESET_METHODS[4],
    }
}

/// `userEventsSummary`: each self-service password reset of the `days` before `anchor`.
pub fn user_events(tenant: &SimulatedTenant, anchor: DateTime<Utc>, days: i64) -> Vec<Value> {
    let names: BTreeMap<&str, &str> = tenant
        .directory
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.display_name.as_str()))
        .collect();
    tenant
        .records(Category::AuditLogs, anchor - Duration::days(days), anchor, None)
        .into_iter()
        .filter(|r| r.json["activityDisplayName"] == SELF_SERVICE_RESET)
        .map(|r| {
            let user = &r.json["targetResources"][0];
            let id = user["id"].as_str().unwrap_or_default();
            let success = r.json["result"] == "success";
            json!({
                "@odata.type": "#microsoft.graph.userEventsSummary",
                "id": id,
                "feature": "reset",
                "userPrincipalName": user["userPrincipalName"],
                "userDisplayName": names.get(id).copied().unwrap_or_default(),
                "isSuccess": success,
                "authMethod": reset_method(r.json["id"].as_str().unwrap_or_default()),
                "failureReason": if success { "" } else { r.json["resultReason"].as_str().unwrap_or_default() },
                "eventDateTime": r.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        })
        .collect()
}

/// The two reports (service principal activities, credential activities) for `inv`'s objects.
pub fn generate(
    tenant: &SimulatedTenant,
    inv: &Inventory,
    anchor: DateTime<Utc>,
    days: i64,
) -> (Vec<Value>, Vec<Value>) {
    // Roles: app-only client, app-only resource, delegated client, delegated resource.
    let mut roles: [Last; 4] = Default::default();
    let mut keys = Last::new();
    let from = anchor - Duration::days(days);
    for category in [
        Category::ServicePrincipalSignInLogs,
        Category::ManagedIdentitySignInLogs,
        Category::SignInLogs,
        Category::NonInteractiveUserSignInLogs,
    ] {
        // Every record of the time, late ones too: Microsoft reports them once they arrive.
        for r in tenant.records(category, from, anchor, None) {
            let j = &r.json;
            let text = |k: &str| j[k].as_str().unwrap_or_default().to_string();
            let id = text("id");
            match category {
                Category::ServicePrincipalSignInLogs | Category::ManagedIdentitySignInLogs => {
                    keep(&mut roles[0], &text("appId"), r.time, &id);
                    if category == Category::ServicePrincipalSignInLogs {
                        keep(&mut roles[1], &text("resourceId"), r.time, &id);
                        keep(
                            &mut keys,
                            &text("servicePrincipalCredentialKeyId"),
                            r.time,
                            &id,
                        );
                    }
                }
                _ => {
                    keep(&mut roles[2], &text("appId"), r.time, &id);
                    keep(&mut roles[3], &text("resourceId"), r.time, &id);
                    if j["authenticationProtocol"] == "saml20" && j["status"]["errorCode"] == 0 {
                        keep(&mut keys, &format!("saml:{}", text("appId")), r.time, &id);
                    }
                }
            }
        }
    }
    // History older than the logs: legacy-reporting's last sign-in with its secret.
    let old = anchor - Duration::days(LEGACY_LAST_SIGN_IN_DAYS);
    if let Some(app) = inv
        .applications
        .iter()
        .find(|a| a["appId"] == json!(inv.seeded.unused_app))
    {
        let app_id = inv.seeded.unused_app.clone();
        keep(
            &mut roles[0],
            &app_id,
            old,
            "00000000-0000-0000-0000-00000000a200",
        );
        if let Some(k) = app["passwordCredentials"][0]["keyId"].as_str() {
            keep(&mut keys, k, old, "00000000-0000-0000-0000-00000000a200");
        }
    }
    let mut app_ids: Vec<&String> = roles.iter().flat_map(|m| m.keys()).collect();
    app_ids.sort();
    app_ids.dedup();
    let service_principals = app_ids
        .into_iter()
        .map(|app_id| {
            let overall = roles
                .iter()
                .filter_map(|m| m.get(app_id))
                .max_by_key(|(t, _)| *t);
            json!({
                "id": format!("sp-activity-{app_id}"), "appId": app_id,
                "applicationAuthenticationClientSignInActivity": activity(roles[0].get(app_id)),
                "applicationAuthenticationResourceSignInActivity": activity(roles[1].get(app_id)),
                "delegatedClientSignInActivity": activity(roles[2].get(app_id)),
                "delegatedResourceSignInActivity": activity(roles[3].get(app_id)),
                "lastSignInActivity": activity(overall),
            })
        })
        .collect();
    let mut credentials = Vec::new();
    for (objects, origin) in [
        (&inv.applications, "application"),
        (&inv.service_principals, "servicePrincipal"),
    ] {
        for o in objects {
            for (list, key_type) in [
                ("passwordCredentials", "clientSecret"),
                ("keyCredentials", "certificate"),
            ] {
                for c in o[list].as_array().into_iter().flatten() {
                    let key = c["keyId"].as_str().unwrap_or_default();
                    let usage = c["usage"].as_str().unwrap_or("Verify").to_lowercase();
                    let used = if origin == "servicePrincipal" && usage == "sign" {
                        keys.get(&format!("saml:{}", o["appId"].as_str().unwrap_or_default()))
                    } else {
                        keys.get(key)
                    };
                    credentials.push(json!({
                        "id": format!("cred-activity-{key}"), "keyId": key, "keyType": key_type,
                        "keyUsage": usage, "credentialOrigin": origin, "appId": o["appId"],
                        "appObjectId": if origin == "application" { o["id"].clone() } else { Value::Null },
                        "servicePrincipalObjectId": if origin == "servicePrincipal" { o["id"].clone() } else { Value::Null },
                        "resourceId": null, "createdDateTime": c["startDateTime"],
                        "expirationDateTime": c["endDateTime"], "signInActivity": activity(used),
                    }));
                }
            }
        }
    }
    (service_principals, credentials)
}
