//! Microsoft's own recommendations for the simulated tenant, as the beta
//! `directory/recommendations` API lists them (`?$expand=impactedResources`) and as its actions
//! change them (`POST …/{id}/dismiss|postpone|complete|reactivate`, and the same on one
//! impacted resource), each answering `200 OK` with the object changed
//! (<https://learn.microsoft.com/graph/api/resources/recommendation?view=graph-rest-beta>,
//! <https://learn.microsoft.com/graph/api/resources/impactedresource?view=graph-rest-beta>).
//!
//! Three types, computed from the tenant's inventory at the anchor: two that entra-monitor also
//! computes (`applicationCredentialExpiry` — per app, as Microsoft's published example has it,
//! `resourceType` `app` and `ExpiringCredentialsCount` — and `staleApps`), and one only Microsoft
//! has (`selfServicePasswordReset`: members not registered for self-service password reset).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// What follows the tenant id in Microsoft's recommendation ids.
pub use crate::recommend::MICROSOFT_ID_MARKER as ID_PREFIX;

/// The id of the actor Microsoft records for changes made by the service.
const SYSTEM: &str = "System";

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One impacted resource (its recommendation, rank and date are set by [`generate`]).
fn resource(subject: &Value, kind: &str, name: &Value, portal: String, details: Value) -> Value {
    json!({
        "id": subject, "subjectId": subject, "recommendationId": null,
        "resourceType": kind, "displayName": name, "owner": null, "rank": null,
        "status": "active", "addedDateTime": null, "postponeUntilDateTime": null,
        "lastModifiedDateTime": null, "lastModifiedBy": null, "apiUrl": null,
        "portalUrl": portal, "additionalDetails": details,
    })
}

/// What Microsoft's recommendations are computed from: the tenant's app registrations, its
/// users' registration details, and the app seeded unused.
pub struct Directory<'a> {
    pub tenant_id: &'a str,
    pub applications: &'a [Value],
    pub registration_details: &'a [Value],
    pub unused_app: &'a str,
}

/// The three recommendations of the tenant (with their impacted resources) at `anchor`.
pub fn generate(inv: &Directory, anchor: DateTime<Utc>) -> Vec<Value> {
    let tenant_id = inv.tenant_id;
    let id = |name: &str| format!("{tenant_id}{ID_PREFIX}{name}");
    let added = anchor - Duration::days(2);
    let expiry = id("ApplicationCredentialExpiry");
    let mut expiring = Vec::new();
    for app in inv.applications {
        let soon = ["passwordCredentials", "keyCredentials"]
            .iter()
            .flat_map(|l| app[*l].as_array().into_iter().flatten())
            .filter(|k| {
                time(&k["endDateTime"])
                    .is_some_and(|e| e > anchor && e <= anchor + Duration::days(30))
            })
            .count();
        if soon > 0 {
            expiring.push(resource(
                &app["appId"],
                "app",
                &app["displayName"],
                format!("https://portal.azure.com/#blade/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/Credentials/appId/{}", app["appId"].as_str().unwrap_or_default()),
                json!([{ "key": "ExpiringCredentialsCount", "value": soon.to_string() }]),
            ));
        }
    }
    let stale = id("StaleApps");
    let unused: Vec<Value> = inv
        .applications
        .iter()
        .filter(|a| a["appId"] == json!(inv.unused_app))
        .map(|a| {
            resource(
                &a["appId"],
                "app",
                &a["displayName"],
                format!("https://portal.azure.com/#blade/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/Overview/appId/{}", a["appId"].as_str().unwrap_or_default()),
                json!([{ "key": "Unused since", "value": "90+ days" }]),
            )
        })
        .collect();
    let sspr = id("SelfServicePasswordReset");
    let unregistered: Vec<Value> = inv
        .registration_details
        .iter()
        .filter(|r| r["userType"] == "member" && r["isSsprRegistered"] == false)
        .map(|r| {
            resource(
                &r["id"],
                "user",
                &r["userDisplayName"],
                format!("https://entra.microsoft.com/#view/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/AuthenticationMethods/userId/{}", r["id"].as_str().unwrap_or_default()),
                json!([{ "key": "userPrincipalName", "value": r["userPrincipalName"] }]),
            )
        })
        .collect();
    [
        (
            expiry,
            "applicationCredentialExpiry",
            "Renew expiring application credentials",
            "applications",
            "high",
            "apps",
            expiring,
        ),
        (
            stale,
            "staleApps",
            "Remove unused applications",
            "applications",
            "medium",
            "apps",
            unused,
        ),
        (
            sspr,
            "selfServicePasswordReset",
            "Enable self-service password reset",
            "users",
            "medium",
            "users",
            unregistered,
        ),
    ]
    .into_iter()
    .map(|(id, kind, title, area, priority, impact, mut resources)| {
        for (n, r) in resources.iter_mut().enumerate() {
            r["recommendationId"] = json!(id);
            r["rank"] = json!(n + 1);
            r["addedDateTime"] = json!(iso(added));
        }
        json!({
            "id": id, "recommendationType": kind, "displayName": title,
            "category": "identityBestPractice", "featureAreas": [area], "priority": priority,
            "impactType": impact, "insights": format!("{} resource(s) found.", resources.len()),
            "benefits": "", "remediationImpact": "",
            "actionSteps": [{ "stepNumber": 1, "text": format!("1. Review the {impact} listed."),
                "actionUrl": { "displayName": "Microsoft Entra admin center", "url": "https://entra.microsoft.com/" } }],
            "status": if resources.is_empty() { "completedBySystem" } else { "active" },
            "createdDateTime": iso(anchor - Duration::days(30)),
            "impactStartDateTime": iso(added), "lastCheckedDateTime": iso(anchor),
            "lastModifiedDateTime": null, "lastModifiedBy": null, "postponeUntilDateTime": null,
            "releaseType": "generallyAvailable", "currentScore": null, "maxScore": null,
            "impactedResources": resources,
        })
    })
    .collect()
}

/// The status an action sets.
fn status_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "dismiss" => "dismissed",
        "postpone" => "postponed",
        "complete" => "completedByUser",
        "reactivate" => "active",
        _ => return None,
    })
}

/// Applies an action (`…/directory/recommendations/{id}[/impactedResources/{rid}]/{action}`
/// after the version) to `recommendations`: the object changed, or Graph's status and error
/// message.
pub fn act(
    recommendations: &mut [Value],
    path: &str,
    body: &[u8],
    by: &str,
    now: DateTime<Utc>,
) -> Result<Value, (u16, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let (rec_id, resource_id, action) = match parts.as_slice() {
        [id, action] => (*id, None, *action),
        [id, "impactedResources", rid, action] => (*id, Some(*rid), *action),
        _ => return Err((404, format!("Resource not found for the segment '{path}'."))),
    };
    let status = status_of(action).ok_or_else(|| {
        (
            400,
            format!("'{action}' is not an action of recommendation."),
        )
    })?;
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let until = match status {
        "postponed" => match time(&body["postponeUntilDateTime"]) {
            Some(t) if t > now => Some(iso(t)),
            _ => {
                return Err((
                    400,
                    "postponeUntilDateTime must be a date and time in the future.".into(),
                ));
            }
        },
        _ => None,
    };
    if status == "dismissed" && body["dismissReason"].as_str().is_none_or(str::is_empty) {
        return Err((400, "dismissReason is required.".into()));
    }
    let rec = recommendations
        .iter_mut()
        .find(|r| r["id"] == rec_id)
        .ok_or_else(|| (404, format!("Recommendation '{rec_id}' was not found.")))?;
    let target = match resource_id {
        None => rec,
        Some(rid) => rec["impactedResources"]
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|r| r["id"] == rid))
            .ok_or_else(|| (404, format!("Impacted resource '{rid}' was not found.")))?,
    };
    target["status"] = json!(status);
    target["postponeUntilDateTime"] = json!(until);
    target["lastModifiedDateTime"] = json!(iso(now));
    target["lastModifiedBy"] = json!(if by.is_empty() { SYSTEM } else { by });
    let mut answer = target.clone();
    if let Value::Object(m) = &mut answer {
        m.remove("impactedResources");
    }
    Ok(answer)
}
