//! Microsoft Entra Health's own alerts beside ours: `collect-inventory` lists them (beta
//! `healthMonitoring/alerts`, where the tenant has a non-trial Entra ID P1 or P2 licence, at
//! least 100 monthly active users, and the app HealthMonitoringAlert.Read.All) and keeps them
//! as the inventory kind [`KIND`]; the alert endpoints list them with ours, marked
//! `source: microsoft`, in Graph's own shape and state (`active`, `resolved`).

use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The inventory kind Microsoft's alerts are kept as.
pub const KIND: &str = "healthMonitoringAlerts";
/// The `source` of Microsoft's alerts.
pub const SOURCE: &str = "microsoft";

fn created(a: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(a["createdDateTime"].as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
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
