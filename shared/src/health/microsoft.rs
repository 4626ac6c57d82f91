//! Microsoft Entra Health's own alerts beside ours: `collect-inventory` lists them (beta
//! `healthMonitoring/alerts`, where the tenant has a non-trial Entra ID P1 or P2 licence, at
//! least 100 monthly active users, and the app HealthMonitoringAlert.Read.All) and keeps them
//! as the inventory kind [`KIND`]; the alert endpoints list them with ours, marked
//! `source: microsoft`, in Graph's own shape and state (`active`, `resolved`).
//!
//! And its scenario metrics (beta `reports/serviceActivity/getMetricsFor…`, Entra ID P1 or P2):
//! `monitor-health` collects them every 15 minutes beside our signals ([`collect_metrics`]),
//! served by `GET /api/health/microsoft-signals`.

use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Graph's metric functions (after `getMetricsFor`) and the scenario each is, by our names.
pub const METRICS: [(&str, &str); 6] = [
    ("MfaSignInSuccess", "mfaSignInSuccess"),
    ("MfaSignInFailure", "mfaSignInFailure"),
    (
        "ConditionalAccessManagedDevicesSignInSuccess",
        "managedDeviceSignInSuccess",
    ),
    (
        "ConditionalAccessCompliantDevicesSignInSuccess",
        "compliantDeviceSignInSuccess",
    ),
    ("SamlSignInSuccess", "samlSignInSuccess"),
    (
        "ConditionalAccessBlockedSignIn",
        "conditionalAccessBlockedUsers",
    ),
];

/// The path of the metric functions, after the version.
pub const PATH: &str = "reports/serviceActivity/getMetricsFor";

/// How far back a metric may start.
pub const MAX_DAYS: i64 = 30;

/// The inventory kind Microsoft's alerts are kept as.
pub const KIND: &str = "healthMonitoringAlerts";
/// The `source` of Microsoft's alerts.
pub const SOURCE: &str = "microsoft";

fn created(a: &Value) -> Option<DateTime<Utc>> {
    created_at(&a["createdDateTime"])
}

/// `tenant`'s collected Microsoft alerts created in `[from, to]`, in `state` if given (Graph's
/// states: `dismissed` is ours and matches none), newest first, each marked with its source.
pub fn alerts(
    store: &SqliteState,
    tenant: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    state: Option<&str>,
) -> Result<Vec<Value>, StateError> {
    let mut out: Vec<(DateTime<Utc>, Value)> = store
        .inventory(tenant, KIND)?
        .into_iter()
        .filter(|a| state.is_none_or(|s| a["state"] == s))
        .filter_map(|mut a| {
            let t = created(&a).filter(|t| (from..=to).contains(t))?;
            a["source"] = json!(SOURCE);
            Some((t, a))
        })
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.0));
    Ok(out.into_iter().map(|(_, a)| a).collect())
}

/// One collected Microsoft alert by its Graph id, marked with its source.
pub fn alert(store: &SqliteState, tenant: &str, id: &str) -> Result<Option<Value>, StateError> {
    Ok(store
        .inventory(tenant, KIND)?
        .into_iter()
        .find(|a| a["id"] == id)
        .map(|mut a| {
            a["source"] = json!(SOURCE);
            a
        }))
}

/// How far back each collection of Microsoft's metrics reads again (its values for recent
/// intervals grow as late sign-ins are processed), and at most how far back the first one
/// starts.
pub const METRICS_AGAIN: chrono::Duration = chrono::Duration::hours(3);
pub const METRICS_FIRST: chrono::Duration = chrono::Duration::days(1);

/// What one collection of Microsoft's metrics did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsReport {
    /// The intervals collected: `[from, to)`.
    pub collected: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub values: usize,
    pub requests: u64,
    /// Why nothing was collected, when Graph refused (a licence or permission the tenant
    /// lacks): noted, not a failure.
    pub note: Option<String>,
}

/// Collects `source`'s tenant's Microsoft metrics (beta `serviceActivity`, every 15 minutes)
/// for the intervals up to `until` (the sign-in collection's watermark) not collected yet, the
/// last [`METRICS_AGAIN`] again, and keeps them (`health_microsoft_values`).
pub async fn collect_metrics(
    store: &SqliteState,
    source: &crate::pipeline::Source,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<MetricsReport, String> {
    use crate::clock::Timestamp;
    use chrono::DurationRound;
    let quarter = chrono::Duration::minutes(15);
    let tenant = &source.tenant;
    let to = until.duration_trunc(quarter).map_err(|e| e.to_string())?;
    let floor = (now - chrono::Duration::days(MAX_DAYS) + chrono::Duration::hours(1))
        .max(to - METRICS_FIRST);
    let from = match store
        .microsoft_metrics_collected(tenant)
        .map_err(|e| e.to_string())?
    {
        Some((_, done)) => (done - METRICS_AGAIN).max(floor),
        None => floor,
    };
    let from = from.duration_trunc(quarter).map_err(|e| e.to_string())?;
    let mut report = MetricsReport::default();
    if to <= from {
        return Ok(report);
    }
    let mut counters = crate::source::graph::Counters::default();
    let mut values = Vec::new();
    for (name, scenario) in METRICS {
        let url = format!(
            "{}/beta/{PATH}{name}(inclusiveIntervalStartDateTime={},exclusiveIntervalEndDateTime={},aggregationIntervalInMinutes=15)",
            source.graph_base,
            from.rfc3339_millis(),
            to.rfc3339_millis()
        );
        match source.client.page(&url, &mut counters).await {
            Ok(page) => values.extend(page.value.iter().filter_map(|v| {
                let at = created_at(&v["intervalStartDateTime"])?;
                Some((scenario.to_string(), at, v["value"].as_f64()?))
            })),
            Err(crate::source::graph::GraphError::Refused { message, .. }) => {
                report.requests = counters.requests;
                report.note = Some(format!(
                    "Microsoft's health metrics not collected: {message} (they need an Entra ID P1 or P2 licence and the app's Reports.Read.All)"
                ));
                return Ok(report);
            }
            Err(e) => return Err(format!("Microsoft's health metric {name}: {e}")),
        }
    }
    store
        .put_microsoft_metrics(
            tenant,
            (from, to),
            &values,
            now - chrono::Duration::days(35),
        )
        .map_err(|e| e.to_string())?;
    report.collected = Some((from, to));
    report.values = values.len();
    report.requests = counters.requests;
    Ok(report)
}

fn created_at(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
