//! Recommendations as records, so a SIEM sees them: each change of a recommendation's or an
//! impacted resource's status (ours and Microsoft's, the system's and people's) becomes a row
//! of entra-monitor's own table `EntraMonitorRecommendations_CL`, routed like the logs
//! (embedded store, Storage, Log Analytics, Event Hubs). The history is routed in order from
//! where the last routing stopped; a change routed twice (a crash between the two steps) has
//! the same id and is stored once.

use super::{MICROSOFT, MICROSOFT_KIND, definition, id_of};
use crate::clock::Timestamp;
use crate::destinations::router::{Published, Router};
use crate::model::Category;
use crate::state::{SqliteState, StateError};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A change's stable id: its tenant, recommendation, resource, time and new status.
fn change_id(parts: &[&str]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(parts.join("|").as_bytes());
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-recommendation-{hex}", super::SOURCE)
}

/// The row for one change (from [`SqliteState::recommendation_changes_unrouted`]).
pub fn change_record(tenant: &str, change: &Value, microsoft: &HashMap<String, Value>) -> Value {
    let text = |k: &str| change[k].as_str().unwrap_or_default();
    let (kind, source, subject) = (text("type"), text("source"), change["subjectId"].as_str());
    let (id, name, priority, impacted) = if source == MICROSOFT {
        let rec = microsoft.get(kind);
        let field = |k: &str| rec.map_or(Value::Null, |r| r[k].clone());
        let open = rec
            .and_then(|r| r["impactedResources"].as_array())
            .map(|a| a.iter().filter(|x| x["status"] == "active").count());
        (
            field("id"),
            field("displayName"),
            field("priority"),
            json!(open),
        )
    } else {
        let d = definition(kind);
        (
            json!(id_of(tenant, kind)),
            json!(d.map(|d| d.display_name)),
            json!(d.map(|d| d.priority)),
            Value::Null,
        )
    };
    // Microsoft's resources are named in the collected recommendation.
    let (resource_name, resource_type) = match (subject, microsoft.get(kind)) {
        (Some(s), Some(rec)) if source == MICROSOFT => rec["impactedResources"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == s || x["subjectId"] == s))
            .map_or((Value::Null, Value::Null), |x| {
                (x["displayName"].clone(), x["resourceType"].clone())
            }),
        _ => (
            change["resourceDisplayName"].clone(),
            change["resourceType"].clone(),
        ),
    };
    json!({
        "Id": change_id(&[tenant, kind, source, subject.unwrap_or(""), text("at"), text("to")]),
        "TimeGenerated": change["at"],
        "RecommendationId": id,
        "RecommendationType": kind,
        "RecommendationSource": source,
        "DisplayName": name,
        "Priority": priority,
        "ImpactedResourcesActive": impacted,
        "SubjectId": subject,
        "ResourceType": resource_type,
        "ResourceDisplayName": resource_name,
        "StatusFrom": change["from"],
        "Status": change["to"],
        "ChangedBy": change["by"],
        "Reason": change["reason"],
    })
}

/// Routes `tenant`'s changes not routed yet.
pub fn publish(
    store: &SqliteState,
    router: &Router,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<Published, StateError> {
    let microsoft: HashMap<String, Value> = store
        .inventory(tenant, MICROSOFT_KIND)?
        .into_iter()
        .filter_map(|r| Some((r["recommendationType"].as_str()?.to_string(), r)))
        .collect();
    let published = router.route_history(
        store,
        (tenant, Category::EntraMonitorRecommendations, super::SOURCE),
        now,
        |limit| {
            Ok(store
                .recommendation_changes_unrouted(tenant, limit)?
                .into_iter()
                .map(|(rowid, c)| (rowid, change_record(tenant, &c, &microsoft)))
                .collect())
        },
        |last| store.recommendation_changes_routed(tenant, last),
    )?;
    tracing::debug!(tenant, rows = published.rows, at = %now.rfc3339_millis(), "recommendation changes routed");
    Ok(published)
}
