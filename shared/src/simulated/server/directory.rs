//! The directory lists of the simulated Graph: `GET /v1.0/applications`, `servicePrincipals`,
//! `users`, `roleManagement/directory/roleDefinitions` and `roleAssignments`,
//! `reports/authenticationMethods/userRegistrationDetails` and
//! `identity/conditionalAccess/policies`, and Microsoft's usage reports
//! `reports/servicePrincipalSignInActivities` and `reports/appCredentialSignInActivities` (also
//! under `/beta/`, where Graph has the reports only), paged as Graph pages them —
//! `$top` from 1 to 999 (100 by default), `@odata.nextLink` with an opaque `$skiptoken` — with
//! an application's `owners` only when asked for with `$expand=owners`, and `$select` honoured
//! (plus `id`, which Graph always returns). Other query options are refused as Graph would.

use super::super::inventory::Inventory;
use serde_json::{Value, json};
use warp::http::StatusCode;

/// The largest `$top` Graph takes for directory objects.
pub const MAX_DIRECTORY_TOP: usize = 999;

/// The directory lists served.
pub(super) const RESOURCES: [&str; 9] = [
    "applications",
    "servicePrincipals",
    "users",
    "roleManagement/directory/roleDefinitions",
    "roleManagement/directory/roleAssignments",
    "reports/authenticationMethods/userRegistrationDetails",
    "identity/conditionalAccess/policies",
    "reports/servicePrincipalSignInActivities",
    "reports/appCredentialSignInActivities",
];

/// Whether `path` names one of the directory lists, and which.
pub(super) fn list_of(path: &str) -> Option<(&'static str, &'static str)> {
    let trimmed = path.trim_matches('/');
    let (version, resource) = trimmed.split_once('/')?;
    if version != "v1.0" && version != "beta" {
        return None;
    }
    let version = if version == "beta" { "beta" } else { "v1.0" };
    RESOURCES
        .iter()
        .find(|r| **r == resource)
        .map(|r| (version, *r))
}

/// One page of a directory list, or the Graph error for a bad query.
pub(super) fn page(
    inventory: &Inventory,
    (version, resource): (&str, &str),
    raw_query: &str,
    base: &str,
    most: Option<usize>,
) -> Result<Value, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let mut top = 100;
    let mut offset = 0;
    let mut expand_owners = false;
    let mut select: Option<Vec<String>> = None;
    for (k, v) in &params {
        match k.as_str() {
            "$top" => {
                top = v
                    .parse()
                    .ok()
                    .filter(|t| (1..=MAX_DIRECTORY_TOP).contains(t))
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid page size specified: '{v}'. Must be between 1 and {MAX_DIRECTORY_TOP} inclusive."
                        ))
                    })?;
            }
            "$skiptoken" => {
                offset = v
                    .parse()
                    .map_err(|_| bad("Invalid Skip Token".to_string()))?
            }
            "$expand" if resource == "applications" && v.starts_with("owners") => {
                expand_owners = true
            }
            "$select" => select = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            other => {
                return Err(bad(format!(
                    "Unsupported query option '{other}' on {resource} in the simulated tenant."
                )));
            }
        }
    }
    let p = &inventory.people;
    let all = match resource {
        "applications" => &inventory.applications,
        "servicePrincipals" => &inventory.service_principals,
        "users" => &p.users,
        "roleManagement/directory/roleDefinitions" => &p.role_definitions,
        "roleManagement/directory/roleAssignments" => &p.role_assignments,
        "reports/authenticationMethods/userRegistrationDetails" => &p.registration_details,
        "reports/servicePrincipalSignInActivities" => &inventory.sp_sign_in_activities,
        "reports/appCredentialSignInActivities" => &inventory.credential_sign_in_activities,
        _ => &p.conditional_access_policies,
    };
    let end = (offset + most.map_or(top, |m| top.min(m.max(1)))).min(all.len());
    let value: Vec<Value> = all
        .get(offset.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let mut o = o.clone();
            if let Value::Object(m) = &mut o {
                if !expand_owners {
                    m.remove("owners");
                }
                if let Some(fields) = &select {
                    m.retain(|k, _| {
                        k == "id"
                            || fields.iter().any(|f| f == k)
                            || (k == "owners" && expand_owners)
                    });
                }
            }
            o
        })
        .collect();
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#{resource}"),
        "value": value,
    });
    if end < all.len() {
        let mut next: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _)| k != "$skiptoken")
            .collect();
        next.push(("$skiptoken".into(), end.to_string()));
        body["@odata.nextLink"] = json!(format!(
            "{base}/{version}/{resource}?{}",
            serde_urlencoded::to_string(&next).unwrap_or_default()
        ));
    }
    Ok(body)
}
