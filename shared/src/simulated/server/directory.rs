//! The directory lists of the simulated Graph: `GET /v1.0/applications`, `servicePrincipals`,
//! `users`, `roleManagement/directory/roleDefinitions` and `roleAssignments`,
//! `reports/authenticationMethods/userRegistrationDetails` and
//! `identity/conditionalAccess/policies`, and Microsoft's usage reports
//! `reports/servicePrincipalSignInActivities` and `reports/appCredentialSignInActivities`, and
//! `reports/authenticationMethods/userEventsSummary` (also under `/beta/`, where Graph has the
//! reports only), Microsoft's recommendations and Entra Health alerts
//! (`directory/recommendations`, `healthMonitoring/alerts`), paged as Graph pages them —
//! `$top` from 1 to 999 (100 by default), `@odata.nextLink` with an opaque `$skiptoken` — with
//! an application's `owners` only when asked for with `$expand=owners`, and `$select` honoured
//! (plus `id`, which Graph always returns). Other query options are refused as Graph would.
//!
//! `applications/delta`, `servicePrincipals/delta` and `users/delta` answer delta queries
//! (<https://learn.microsoft.com/graph/delta-query-overview>): a first round lists every object
//! and ends with an `@odata.deltaLink` whose opaque `$deltatoken` carries the round's
//! `$select`; a round from that link lists the objects created or changed since (their current
//! state) and `{"id", "@removed": {"reason": "deleted"}}` for those removed, from the
//! [`Journal`] of edits; `$deltatoken=latest` answers only a link ("sync from now"); a token
//! older than seven days is refused with `syncStateNotFound`, as Graph does since 2020.

use super::super::inventory::Inventory;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use warp::http::StatusCode;

/// The directory lists Graph offers a delta query for (among those served).
const TRACKED: [&str; 3] = ["applications", "servicePrincipals", "users"];

/// How long Graph accepts a delta link.
const DELTA_LINK_DAYS: i64 = 7;

/// The edits made to the tracked lists: each object created, changed or removed, numbered by
/// the edit that did it (a generation).
#[derive(Debug, Default)]
pub struct Journal {
    generation: u64,
    entries: Vec<(u64, &'static str, String)>,
}

/// The tracked lists' objects, by list and id.
fn tracked(inventory: &Inventory) -> BTreeMap<(&'static str, String), Value> {
    let mut out = BTreeMap::new();
    for resource in TRACKED {
        for o in all_of(inventory, resource) {
            if let Some(id) = o["id"].as_str() {
                out.insert((resource, id.to_string()), o.clone());
            }
        }
    }
    out
}

impl Journal {
    /// Records what `edit` changed in the tracked lists.
    pub fn edit(&mut self, inventory: &mut Inventory, edit: impl FnOnce(&mut Inventory)) {
        let before = tracked(inventory);
        edit(inventory);
        let after = tracked(inventory);
        self.generation += 1;
        let g = self.generation;
        for (key, object) in &after {
            if before.get(key) != Some(object) {
                self.entries.push((g, key.0, key.1.clone()));
            }
        }
        for key in before.keys().filter(|k| !after.contains_key(*k)) {
            self.entries.push((g, key.0, key.1.clone()));
        }
    }
}

/// Whether `path` names the delta query of a tracked list, and which.
pub(super) fn delta_of(path: &str) -> Option<(&'static str, &'static str)> {
    let list = path.trim_matches('/').strip_suffix("/delta")?;
    let (version, resource) = list_of(list)?;
    TRACKED.contains(&resource).then_some((version, resource))
}

/// A delta round's state, carried in its tokens: the generation it reads changes after (none:
/// a first round, listing everything), the generation it reads up to, when it began, and the
/// properties selected.
#[derive(serde::Serialize, serde::Deserialize)]
struct Round {
    after: Option<u64>,
    upto: u64,
    began: i64,
    select: Option<String>,
    offset: usize,
}

fn encode(round: &Round) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(round).unwrap_or_default())
}

fn decode(token: &str) -> Option<Round> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One page of a delta query, or Graph's error (status, code, message).
pub(super) fn delta_page(
    inventory: &Inventory,
    journal: &Journal,
    (version, resource): (&str, &'static str),
    raw_query: &str,
    base: &str,
    now: DateTime<Utc>,
    most: Option<usize>,
) -> Result<Value, (StatusCode, &'static str, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, "BadRequest", m);
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query).map_err(|e| bad(format!("Invalid query: {e}")))?;
    let mut round = Round {
        after: None,
        upto: journal.generation,
        began: now.timestamp(),
        select: None,
        offset: 0,
    };
    let mut latest = false;
    for (k, v) in &params {
        match k.to_ascii_lowercase().as_str() {
            "$select" => round.select = Some(v.clone()),
            "$deltatoken" if v == "latest" => latest = true,
            "$deltatoken" => {
                let kept = decode(v).ok_or_else(|| bad("Invalid delta token.".into()))?;
                if now.timestamp() - kept.began > DELTA_LINK_DAYS * 86_400 {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "syncStateNotFound",
                        "The sync state generation is not found. The delta token is expired and data must be synchronized again.".into(),
                    ));
                }
                round = Round {
                    after: Some(kept.upto),
                    upto: journal.generation,
                    began: now.timestamp(),
                    select: kept.select,
                    offset: 0,
                };
            }
            "$skiptoken" => round = decode(v).ok_or_else(|| bad("Invalid Skip Token".into()))?,
            other => {
                return Err(bad(format!(
                    "Unsupported query option '{other}' on {resource}/delta in the simulated tenant."
                )));
            }
        }
    }
    let select: Option<Vec<String>> = round
        .select
        .as_ref()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let current = all_of(inventory, resource);
    let items: Vec<Value> = match round.after {
        _ if latest => Vec::new(),
        None => current.iter().map(|o| shape(o, &select, None)).collect(),
        Some(after) => {
            let mut ids: Vec<&str> = Vec::new();
            for (g, r, id) in &journal.entries {
                if *g > after && *g <= round.upto && *r == resource && !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
            ids.iter()
                .map(|id| match current.iter().find(|o| o["id"] == *id) {
                    Some(o) => shape(o, &select, None),
                    None => json!({ "id": id, "@removed": { "reason": "deleted" } }),
                })
                .collect()
        }
    };
    let end = (round.offset + most.unwrap_or(100).max(1)).min(items.len());
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#{resource}"),
        "value": items.get(round.offset.min(end)..end).unwrap_or_default(),
    });
    let link = format!("{base}/{version}/{resource}/delta?");
    if end < items.len() {
        round.offset = end;
        body["@odata.nextLink"] = json!(format!("{link}$skiptoken={}", encode(&round)));
    } else {
        round.after = Some(round.upto);
        round.offset = 0;
        body["@odata.deltaLink"] = json!(format!("{link}$deltatoken={}", encode(&round)));
    }
    Ok(body)
}

/// `o` as listed: `owners` only when expanded, only the properties selected (and `id`).
/// The relationships a list can expand (kept inline in the objects, left out unless asked).
const EXPANDABLE: [&str; 2] = ["owners", "impactedResources"];

fn shape(o: &Value, select: &Option<Vec<String>>, expanded: Option<&str>) -> Value {
    let mut o = o.clone();
    if let Value::Object(m) = &mut o {
        m.retain(|k, _| !EXPANDABLE.contains(&k.as_str()) || Some(k.as_str()) == expanded);
        if let Some(fields) = select {
            m.retain(|k, _| {
                k == "id" || fields.iter().any(|f| f == k) || Some(k.as_str()) == expanded
            });
        }
    }
    o
}

/// Every object of a list.
fn all_of<'a>(inventory: &'a Inventory, resource: &str) -> &'a [Value] {
    let p = &inventory.people;
    match resource {
        "applications" => &inventory.applications,
        "servicePrincipals" => &inventory.service_principals,
        "users" => &p.users,
        "roleManagement/directory/roleDefinitions" => &p.role_definitions,
        "roleManagement/directory/roleAssignments" => &p.role_assignments,
        "reports/authenticationMethods/userRegistrationDetails" => &p.registration_details,
        "reports/servicePrincipalSignInActivities" => &inventory.sp_sign_in_activities,
        "reports/appCredentialSignInActivities" => &inventory.credential_sign_in_activities,
        "reports/authenticationMethods/userEventsSummary" => &inventory.user_events,
        "directory/recommendations" => &inventory.recommendations,
        "healthMonitoring/alerts" => &inventory.health_alerts,
        _ => &p.conditional_access_policies,
    }
}

/// The largest `$top` Graph takes for directory objects.
pub const MAX_DIRECTORY_TOP: usize = 999;

/// The directory lists served.
pub(super) const RESOURCES: [&str; 12] = [
    "applications",
    "servicePrincipals",
    "users",
    "roleManagement/directory/roleDefinitions",
    "roleManagement/directory/roleAssignments",
    "reports/authenticationMethods/userRegistrationDetails",
    "identity/conditionalAccess/policies",
    "reports/servicePrincipalSignInActivities",
    "reports/appCredentialSignInActivities",
    "reports/authenticationMethods/userEventsSummary",
    "directory/recommendations",
    "healthMonitoring/alerts",
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
    let mut expanded = None;
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
                expanded = Some("owners")
            }
            "$expand" if resource == "directory/recommendations" && v == "impactedResources" => {
                expanded = Some("impactedResources")
            }
            "$select" => select = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            other => {
                return Err(bad(format!(
                    "Unsupported query option '{other}' on {resource} in the simulated tenant."
                )));
            }
        }
    }
    let all = all_of(inventory, resource);
    let end = (offset + most.map_or(top, |m| top.min(m.max(1)))).min(all.len());
    let value: Vec<Value> = all
        .get(offset.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|o| shape(o, &select, expanded))
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
