//! Collection of the directory inventory (app registrations, service principals, users, role
//! definitions and assignments, registration details, Conditional Access policies): each kind
//! of directory object listed completely
//! from Graph (through the tenant's client, so its request budget is shared with the log
//! collectors), then kept as the tenant's snapshot with the history of what changed
//! ([`SqliteState::sync_inventory`]). A listing cut short — a refusal, Graph failing past its
//! retries, the run's time spent — changes nothing; the next run lists again. A next-page link
//! refused as expired starts the listing again, a few times at most.

use super::collect::Source;
use crate::source::graph::{Counters, GraphError, same_origin};
use crate::state::{InventoryChanges, SqliteState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// A kind of directory object: its name in the store, where Graph lists it, and the
/// permission that reading it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// The kinds collected, in order.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "applications",
        first_page: "v1.0/applications?$top=999&$expand=owners($select=id)&$select=id,appId,displayName,createdDateTime,signInAudience,publisherDomain,passwordCredentials,keyCredentials",
        permission: "Application.Read.All",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "servicePrincipals",
        first_page: "v1.0/servicePrincipals?$top=999&$select=id,appId,displayName,accountEnabled,servicePrincipalType,appOwnerOrganizationId,passwordCredentials,keyCredentials,tags",
        permission: "Application.Read.All",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "users",
        first_page: "v1.0/users?$top=999&$select=id,displayName,userPrincipalName,userType,accountEnabled,createdDateTime,signInActivity",
        permission: "User.Read.All and AuditLog.Read.All",
        unlicensed: Some(
            "v1.0/users?$top=999&$select=id,displayName,userPrincipalName,userType,accountEnabled,createdDateTime",
        ),
        optional: false,
    },
    Kind {
        name: "roleDefinitions",
        first_page: "v1.0/roleManagement/directory/roleDefinitions?$select=id,displayName,isBuiltIn,isEnabled,isPrivileged,templateId",
        permission: "RoleManagement.Read.Directory",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "roleAssignments",
        first_page: "v1.0/roleManagement/directory/roleAssignments",
        permission: "RoleManagement.Read.Directory",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "userRegistrationDetails",
        first_page: "v1.0/reports/authenticationMethods/userRegistrationDetails",
        permission: "AuditLog.Read.All (and an Entra ID P1 or P2 licence)",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "conditionalAccessPolicies",
        first_page: "v1.0/identity/conditionalAccess/policies",
        permission: "Policy.Read.All",
        unlicensed: None,
        optional: false,
    },
    Kind {
        name: "servicePrincipalSignInActivities",
        first_page: "beta/reports/servicePrincipalSignInActivities",
        permission: "AuditLog.Read.All (and Workload ID Premium)",
        unlicensed: None,
        optional: true,
    },
    Kind {
        name: "appCredentialSignInActivities",
        first_page: "beta/reports/appCredentialSignInActivities",
        permission: "AuditLog.Read.All (and Workload ID Premium)",
        unlicensed: None,
        optional: true,
    },
];

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
        let mut listed = list(source, kind.first_page, kind, &mut counters, keep_going).await;
        if let (Err(Refusal::Unlicensed(e)), Some(page)) = (&listed, kind.unlicensed) {
            report.note = Some(format!("listed without what needs a licence: {e}"));
            listed = list(source, page, kind, &mut counters, keep_going).await;
        }
        match listed.map_err(|e| e.to_string()) {
            Ok(Some(objects)) => {
                match store.sync_inventory(&source.tenant, kind.name, &objects, now) {
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
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unlicensed(e) | Refusal::Other(e) => f.write_str(e),
        }
    }
}

/// Every object of `kind` from `first_page` on, or None when told to stop first.
async fn list(
    source: &Source,
    first_page: &str,
    kind: &Kind,
    counters: &mut Counters,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Option<Vec<Value>>, Refusal> {
    let first = format!("{}/{first_page}", source.graph_base.trim_end_matches('/'),);
    let mut restarts = 0;
    let mut objects = Vec::new();
    let mut next = Some(first.clone());
    while let Some(url) = next.take() {
        if !keep_going() {
            return Ok(None);
        }
        let page = match source.client.page(&url, counters).await {
            Ok(page) => page,
            Err(e) if e.is_expired_page_link() && restarts < MAX_RESTARTS => {
                restarts += 1;
                objects.clear();
                next = Some(first.clone());
                continue;
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
        objects.extend(page.value);
        if objects.len() > MAX_OBJECTS {
            return Err(Refusal::Other(format!(
                "{} lists more than {MAX_OBJECTS} objects; not kept",
                kind.name
            )));
        }
        if let Some(link) = &page.next_link
            && !same_origin(&source.graph_base, link)
        {
            return Err(Refusal::Other(format!(
                "listing {}: Graph's next-page link is not on {}; not followed",
                kind.name, source.graph_base
            )));
        }
        next = page.next_link;
    }
    Ok(Some(objects))
}
