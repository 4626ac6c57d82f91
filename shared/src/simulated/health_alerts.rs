//! Microsoft Entra Health's own alerts for the simulated tenant's injected incidents, as beta
//! `healthMonitoring/alerts` lists them
//! (<https://learn.microsoft.com/en-us/graph/api/resources/healthmonitoring-alert?view=graph-rest-beta>):
//! one per incident of a scenario Microsoft alerts on — an MFA outage (`mfaSignInFailure`), a
//! compliant-device wave (`compliantDeviceSignInFailure`), users blocked by Conditional Access
//! rising or falling (`conditionalAccessBlockedSignIn`) — none for one app failing (Microsoft
//! has no per-app scenario). Microsoft does not document its detection latency; the simulation
//! creates each alert an hour after the incident starts and resolves it an hour after it ends,
//! and lists only what exists at the moment asked. Tenants under 100 users get none: Microsoft
//! alerts only tenants with at least 100 monthly active users.

use super::SimulatedTenant;
use super::incidents::IncidentKind;
use crate::clock::Timestamp;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// How long after an incident starts (and ends) Microsoft's alert is created (resolved), in
/// the simulation.
pub const LATENCY: Duration = Duration::hours(1);

/// The fewest users a tenant has for Microsoft to alert it.
pub const MIN_USERS: usize = 100;

/// Microsoft's alert type and scenario for an incident's kind, if it alerts on it.
fn alert_of(kind: &IncidentKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        IncidentKind::MfaOutage => ("mfaSignInFailure", "mfa"),
        IncidentKind::CompliantDeviceWave => ("compliantDeviceSignInFailure", "devices"),
        IncidentKind::PolicyBlocksOffice(_) | IncidentKind::LegacyBlockDisabled => {
            ("conditionalAccessBlockedSignIn", "conditionalAccess")
        }
        IncidentKind::AppFailures(_) => return None,
    })
}

/// The alerts that exist at `now`, oldest first.
pub fn alerts(tenant: &SimulatedTenant, now: DateTime<Utc>) -> Vec<Value> {
    if tenant.directory.users.len() < MIN_USERS {
        return Vec::new();
    }
    let mut out: Vec<(DateTime<Utc>, Value)> = tenant
        .incidents
        .iter()
        .filter_map(|i| {
            let (alert_type, scenario) = alert_of(&i.kind)?;
            let created = i.start + LATENCY;
            if created > now {
                return None;
            }
            let state = if i.start + i.duration + LATENCY <= now {
                "resolved"
            } else {
                "active"
            };
            let id = crate::health::alert::guid(&format!(
                "{}|{}|{alert_type}",
                tenant.seed,
                i.start.timestamp()
            ));
            let window = format!(
                "createdDateTime ge {} and createdDateTime le {}",
                (i.start - Duration::hours(2)).rfc3339_millis(),
                created.rfc3339_millis()
            );
            Some((
                created,
                json!({
                    "id": id,
                    "alertType": alert_type,
                    "scenario": scenario,
                    "category": "authentication",
                    "createdDateTime": created.rfc3339_millis(),
                    "state": state,
                    "enrichment": {
                        "state": "enriched",
                        "impacts": [],
                        "supportingData": {
                            "signIns": format!("https://graph.microsoft.com/beta/auditLogs/signIns?$filter={window}"),
                            "audits": format!("https://graph.microsoft.com/beta/auditLogs/directoryAudits?$filter=activityDateTime ge {}&$top=50", (i.start - Duration::hours(2)).rfc3339_millis()),
                        },
                    },
                    "signals": {},
                    "documentation": {"troubleshootingGuide": "https://go.microsoft.com/fwlink/?linkid=2280158"},
                }),
            ))
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, v)| v).collect()
}
