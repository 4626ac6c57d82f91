//! Collection of the directory inventory (app registrations, service principals, users, role
//! definitions and assignments, registration details, Conditional Access policies): each kind
//! of directory object listed completely
//! from Graph (through the tenant's client, so its request budget is shared with the log
//! collectors), then kept as the tenant's snapshot with the history of what changed
//! ([`SqliteState::sync_inventory`]). A listing cut short — a refusal, Graph failing past its
//! retries, the run's time spent — changes nothing; the next run lists again. A next-page link
//! refused as expired starts the listing again, a few times at most.
//!
//! Service principals (thousands in most tenants, most of them Microsoft's) are read with a
//! delta query: the first run lists them all and keeps the delta link with the snapshot; later
//! runs read only what was created, changed or removed since
//! ([`SqliteState::apply_inventory_delta`]), and list in full again when Graph refuses the
//! link (`syncStateNotFound`, after seven days unused). Applications are listed in full: their
//! owners (`$expand`) are not offered by the delta query. So are users: `signInActivity` is not
//! tracked by it. The other kinds have no delta query in v1.0.
//! <https://learn.microsoft.com/graph/delta-query-overview>

use super::collect::Source;
use crate::source::graph::{Counters, GraphError, same_origin};
use crate::state::{InventoryChanges, SqliteState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// A kind of directory object: its name in the store, where Graph lists it, and the
/// permission that reading it needs.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// The path and query of the first page, after the Graph base.
    pub first_page: &'static str,
    pub permission: &'static str,
    /// Where a licence refusal of `first_page` is answered by listing without what needs the
    /// licence (users' `signInActivity` needs Entra ID P1): the page to list instead.
    pub unlicensed: Option<&'static str>,
    /// A report the tenant may not be licensed for (Microsoft's own usage reports): a refusal
    /// is noted, not a failure.
    pub optional: bool,
    /// `first_page` is a delta query: the listing ends with a delta link, and the next runs
    /// read only what changed since (created, updated, removed objects), listing in full again
    /// when Graph no longer accepts the link (kept seven days).
    pub delta: bool,
    /// For a list of events rather than objects (whose `id` names the user, not the event):
    /// gives each object an `id` of its own, keeping Graph's as `userId`.
    pub rekey: Option<fn(&mut Value)>,
}

/// The kinds collected, in order.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "applications",
        first_page: "v1.0/applications?$top=999&$expand=owners($select=id)&$select=id,appId,displayName,createdDateTime,signInAudience,publisherDomain,passwordCredentials,keyCredentials",
        permission: "Application.Read.All",
        unlicensed: None,
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "servicePrincipals",
        first_page: "v1.0/servicePrincipals/delta?$select=id,appId,displayName,accountEnabled,servicePrincipalType,appOwnerOrganizationId,passwordCredentials,keyCredentials,tags",
        permission: "Application.Read.All",
        unlicensed: None,
        optional: false,
        delta: true,
        rekey: None,
    },
    Kind {
        name: "users",
        first_page: "v1.0/users?$top=999&$select=id,displayName,userPrincipalName,userType,accountEnabled,createdDateTime,signInActivity",
        permission: "User.Read.All and AuditLog.Read.All",
        unlicensed: Some(
            "v1.0/users?$top=999&$select=id,displayName,userPrincipalName,userType,accountEnabled,createdDateTime",
        ),
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "roleDefinitions",
        first_page: "v1.0/roleManagement/directory/roleDefinitions?$select=id,displayName,isBuiltIn,isEnabled,isPrivileged,templateId",
        permission: "RoleManagement.Read.Directory",
        unlicensed: None,
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "roleAssignments",
        first_page: "v1.0/roleManagement/directory/roleAssignments",
        permission: "RoleManagement.Read.Directory",
        unlicensed: None,
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "userRegistrationDetails",
        first_page: "v1.0/reports/authenticationMethods/userRegistrationDetails",
        permission: "AuditLog.Read.All (and an Entra ID P1 or P2 licence)",
        unlicensed: None,
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "conditionalAccessPolicies",
        first_page: "v1.0/identity/conditionalAccess/policies",
        permission: "Policy.Read.All",
        unlicensed: None,
        optional: false,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "servicePrincipalSignInActivities",
        first_page: "beta/reports/servicePrincipalSignInActivities",
        permission: "AuditLog.Read.All (and Workload ID Premium)",
        unlicensed: None,
        optional: true,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "appCredentialSignInActivities",
        first_page: "beta/reports/appCredentialSignInActivities",
        permission: "AuditLog.Read.All (and Workload ID Premium)",
        unlicensed: None,
        optional: true,
        delta: false,
        rekey: None,
    },
    Kind {
        name: "userEventsSummary",
        first_page: "beta/reports/authenticationMethods/userEventsSummary",
        permission: "AuditLog.Read.All (and an Entra ID P1 or P2 licence)",
        unlicensed: None,
        optional: true,
        delta: false,
        rekey: Some(event_key),
    },
    Kind {
        name: "directoryRecommendations",
        first_page: "beta/directory/recommendations?$expand=impactedResources",
        permission: "DirectoryRecommendations.Read.All (and an Entra ID P1 or P2 licence)",
        unlicensed: None,
        optional: true,
        delta: false,
        rekey: None,
    },
    Kind {
        name: crate::health::microsoft::KIND,
        first_page: "beta/healthMonitoring/alerts",
        permission: "HealthMonitoringAlert.Read.All (and a non-trial Entra ID P1 or P2 licence)",
        unlicensed: None,
        optional: true,
        delta: false,
        rekey: None,
    },
];

/// `userEventsSummary`'s `id` is the user's: an event is the user, when, what and how.
fn event_key(event: &mut Value) {
    let part = |k: &str| event[k].as_str().unwrap_or_default().to_string();
    let key = [
        part("id"),
        part("eventDateTime"),
        part("feature"),
        part("authMethod"),
    ]
    .join("|");
    event["userId"] = event["id"].take();
    event["id"] = Value::String(key);
}

/// The Graph error code of a tenant without the licence a resource needs.
const NOT_LICENSED: &str = "Authentication_RequestFromNonPremiumTenantOrB2CTenant";

/// The most objects of one kind a listing keeps (a tenant's apps and service principals are
/// counted in thousands; a listing past this is refused rather than filling memory).
pub const MAX_OBJECTS: usize = 500_000;

/// How many times one listing starts again after an expired next-page link.
const MAX_RESTARTS: u32 = 3;

/// What one kind's listing did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindReport {
    pub tenant: String,
    pub kind: String,
    pub requests: u64,
    pub throttled: u64,
    /// Present when the listing completed.
    pub changes: Option<InventoryChanges>,
    /// What was left out, and why (a licence the tenant lacks).
    pub note: Option<String>,
    pub error: Option<String>,
}

/// Lists every kind for `source`'s tenant and keeps what it found.
pub async fn collect_inventory(
    store: &SqliteState,
    source: &Source,
    now: DateTime<Utc>,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Vec<KindReport> {
    let mut reports = Vec::new();
    for kind in KINDS {
        if !keep_going() {
            break;
        }
        let mut counters = Counters::default();
        let mut report = KindReport {
            tenant: source.tenant.clone(),
            kind: kind.name.to_string(),
            ..Default::default()
        };
        let kept = match store.inventory_delta_link(&source.tenant, kind.name) {
            Ok(link) => link.filter(|_| kind.delta),
            Err(e) => {
                report.error = Some(format!("the delta link could not be read: {e}"));
                reports.push(report);
                continue;
            }
        };
        let mut listed = match &kept {
            Some(link) => list(source, link, false, kind, &mut counters, keep_going).await,
            None => Err(Refusal::ExpiredDelta(String::new())),
        };
        if let Err(Refusal::ExpiredDelta(e)) = &listed {
            if kept.is_some() {
                report.note = Some(format!("listed in full: {e}"));
            }
            let first = format!(
                "{}/{}",
                source.graph_base.trim_end_matches('/'),
                kind.first_page
            );
            listed = list(source, &first, true, kind, &mut counters, keep_going).await;
        }
        if let (Err(Refusal::Unlicensed(e)), Some(page)) = (&listed, kind.unlicensed) {
            report.note = Some(format!("listed without what needs a licence: {e}"));
            let page = format!("{}/{page}", source.graph_base.trim_end_matches('/'));
            listed = list(source, &page, true, kind, &mut counters, keep_going).await;
        }
        let full = listed
            .as_ref()
            .is_ok_and(|l| l.as_ref().is_some_and(|l| l.full));
        match listed.map_err(|e| e.to_string()) {
            Ok(Some(mut l)) => {
                if let Some(rekey) = kind.rekey {
                    l.objects.iter_mut().for_each(rekey);
                }
                let kept = match (&l.delta_link, full) {
                    (Some(link), false) => store.apply_inventory_delta(
                        &source.tenant,
                        kind.name,
                        &l.objects,
                        &l.removed,
                        now,
                        link,
                    ),
                    (link, _) => store.sync_inventory(
                        &source.tenant,
                        kind.name,
                        &l.objects,
                        now,
                        link.as_deref(),
                    ),
                };
                match kept {
                    Ok(changes) => report.changes = Some(changes),
                    Err(e) => report.error = Some(format!("not kept: {e}")),
                }
            }
            Ok(None) => report.error = Some("stopped before the listing ended (time budget spent or shutting down); kept as it was, listed again next run".into()),
            Err(e) if kind.optional => report.note = Some(format!("not collected: {e}")),
            Err(e) => report.error = Some(e),
        }
        report.requests = counters.requests;
        report.throttled = counters.throttled;
        reports.push(report);
    }
    reports
}

/// Why a listing failed.
#[derive(Debug)]
enum Refusal {
    /// The tenant lacks the licence the listing needs.
    Unlicensed(String),
    /// Graph no longer accepts the delta link kept: list in full.
    ExpiredDelta(String),
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unlicensed(e) | Refusal::ExpiredDelta(e) | Refusal::Other(e) => f.write_str(e),
        }
    }
}

/// What one listing found.
struct Listing {
    /// Every object (a full listing), or those created or changed (a delta round).
    objects: Vec<Value>,
    /// The ids a delta round says were removed (`@removed`).
    removed: Vec<String>,
    /// Where the next delta round starts.
    delta_link: Option<String>,
    /// Whether this lists every object (not a delta round from a kept link).
    full: bool,
}

/// Every object from `first` (a listing's first page, or — not `full` — a delta link kept
/// from the last round) on, or None when told to stop first.
async fn list(
    source: &Source,
    first: &str,
    full: bool,
    kind: &Kind,
    counters: &mut Counters,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Option<Listing>, Refusal> {
    let mut restarts = 0;
    let mut listing = Listing {
        objects: Vec::new(),
        removed: Vec::new(),
        delta_link: None,
        full,
    };
    let mut next = Some(first.to_string());
    while let Some(url) = next.take() {
        if !keep_going() {
            return Ok(None);
        }
        let page = match source.client.page(&url, counters).await {
            Ok(page) => page,
            Err(e) if e.is_expired_page_link() && restarts < MAX_RESTARTS => {
                restarts += 1;
                listing.objects.clear();
                listing.removed.clear();
                next = Some(first.to_string());
                continue;
            }
            Err(e) if e.is_expired_delta_link() && !listing.full => {
                return Err(Refusal::ExpiredDelta(format!(
                    "Graph no longer accepts the delta link of {} ({e})",
                    kind.name
                )));
            }
            Err(GraphError::Refused { code, message, .. }) if code == NOT_LICENSED => {
                return Err(Refusal::Unlicensed(format!(
                    "Graph refused listing {} ({code}): {message}; the tenant needs a Microsoft Entra ID P1 or P2 licence for it",
                    kind.name
                )));
            }
            Err(GraphError::Refused { code, message, .. }) => {
                return Err(Refusal::Other(format!(
                    "Graph refused listing {} ({code}): {message}; reading it needs the application permission {} (with admin consent)",
                    kind.name, kind.permission
                )));
            }
            Err(e) => return Err(Refusal::Other(format!("listing {}: {e}", kind.name))),
        };
        for object in page.value {
            match (object.get("@removed"), object["id"].as_str()) {
                (Some(_), Some(id)) => listing.removed.push(id.to_string()),
                (Some(_), None) => {}
                (None, _) => listing.objects.push(object),
            }
        }
        if listing.objects.len() + listing.removed.len() > MAX_OBJECTS {
            return Err(Refusal::Other(format!(
                "{} lists more than {MAX_OBJECTS} objects; not kept",
                kind.name
            )));
        }
        for link in [&page.next_link, &page.delta_link].into_iter().flatten() {
            if !same_origin(&source.graph_base, link) {
                return Err(Refusal::Other(format!(
                    "listing {}: Graph's next-page or delta link is not on {}; not followed",
                    kind.name, source.graph_base
                )));
            }
        }
        next = page.next_link;
        if next.is_none() {
            listing.delta_link = page.delta_link;
        }
    }
    Ok(Some(listing))
}
