//! Microsoft's own recommendations beside ours: `collect-inventory` lists them (beta
//! `directory/recommendations?$expand=impactedResources`, where the tenant is licensed and
//! the app has DirectoryRecommendations.Read.All), and the recommendation endpoints answer for
//! them under their Graph ids (`<tenant id>_Microsoft.Identity.IAM.Insights.<Name>`), marked
//! `source: microsoft`, with Microsoft's own status. Their lifecycle is Microsoft's: an action
//! on one is sent to Graph when write-back is on (`ENTRA_MONITOR_RECOMMENDATION_WRITE_BACK`),
//! and kept (Graph's answer over the collected copy, the change in the history) only once Graph
//! has accepted it; with write-back off it is refused with what to do, so the two never
//! disagree.

use crate::app::App;
use crate::invocation::{FunctionError, HttpResponse};
use serde_json::{Value, json};
use shared::recommend::{MICROSOFT, MICROSOFT_ID_MARKER};
use shared::source::graph::{Counters, GraphError};
use shared::state::{SqliteState, StateError};

/// Whether a recommendation id is one of Microsoft's.
pub fn is_microsoft(id: &str) -> bool {
    id.contains(MICROSOFT_ID_MARKER)
}

/// The tenant id a Microsoft recommendation id starts with.
pub fn tenant_of(id: &str) -> Option<&str> {
    id.split_once(MICROSOFT_ID_MARKER).map(|(t, _)| t)
}

/// A collected recommendation as the listing gives it: without its resources, counting them.
fn summary(rec: &Value) -> Value {
    let mut r = rec.clone();
    let resources = r
        .as_object_mut()
        .and_then(|m| m.remove("impactedResources"))
        .unwrap_or_default();
    let all = resources.as_array().map_or(&[][..], Vec::as_slice);
    let open = all
        .iter()
        .filter(|x| x["status"] == "active" || x["status"] == "postponed")
        .count();
    r["source"] = json!(MICROSOFT);
    r["impactedResourcesActive"] = json!(open);
    r["impactedResourcesTotal"] = json!(all.len());
    r
}

/// `tenant`'s collected recommendations from Microsoft, as listed (their resources counted
/// in the store, not read).
pub fn listed(store: &SqliteState, tenant: &str) -> Result<Vec<Value>, StateError> {
    Ok(store
        .microsoft_recommendations(tenant)?
        .into_iter()
        .map(|mut r| {
            r["source"] = json!(MICROSOFT);
            r
        })
        .collect())
}

/// One collected recommendation, whole (with its resources).
fn collected(store: &SqliteState, tenant: &str, id: &str) -> Result<Option<Value>, StateError> {
    store.microsoft_recommendation(tenant, id)
}

fn not_collected(id: &str, tenant: &str) -> HttpResponse {
    HttpResponse::error(
        404,
        "NoSuchRecommendation",
        format!(
            "Microsoft's recommendation \"{}\" is not collected for tenant {tenant} (collect-inventory lists them where the tenant is licensed and the app has DirectoryRecommendations.Read.All)",
            id.chars().take(200).collect::<String>()
        ),
    )
}

/// One recommendation with the history of the actions taken here.
pub fn one(store: &SqliteState, tenant: &str, id: &str) -> Result<HttpResponse, StateError> {
    let Some(rec) = collected(store, tenant, id)? else {
        return Ok(not_collected(id, tenant));
    };
    let mut r = summary(&rec);
    let kind = rec["recommendationType"].as_str().unwrap_or_default();
    r["history"] = json!(
        store
            .recommendation_history_from(MICROSOFT, tenant, kind)?
            .into_iter()
            .filter(|h| h["subjectId"].is_null())
            .collect::<Vec<_>>()
    );
    Ok(HttpResponse::json(200, &r))
}

/// A page of a recommendation's impacted resources: active first, then by rank.
pub fn resources(
    store: &SqliteState,
    tenant: &str,
    id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<HttpResponse, StateError> {
    let Some(rec) = collected(store, tenant, id)? else {
        return Ok(not_collected(id, tenant));
    };
    let mut all: Vec<Value> = rec["impactedResources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| status.is_none_or(|s| r["status"] == s))
        .map(|mut r| {
            r["source"] = json!(MICROSOFT);
            r
        })
        .collect();
    all.sort_by_key(|r| {
        (
            r["status"] != "active",
            r["rank"].as_i64().unwrap_or(i64::MAX),
        )
    });
    let (limit, offset) = (limit as usize, offset as usize);
    let next = (all.len() > offset + limit).then_some(offset + limit);
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    Ok(HttpResponse::json(
        200,
        &json!({ "tenant": tenant, "recommendationId": id, "value": page, "nextOffset": next }),
    ))
}

/// What an action sends to Graph and records.
pub struct Act<'a> {
    pub action: &'a str,
    pub reason: &'a str,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub by: &'a str,
}

/// Sends an action on one of Microsoft's recommendations (or one of its resources) to Graph,
/// then keeps what Graph answered.
pub async fn act(
    app: &App,
    tenant: &str,
    id: &str,
    subject: Option<&str>,
    act: &Act<'_>,
) -> Result<HttpResponse, FunctionError> {
    let store = app.state()?;
    let Some(rec) = collected(&store, tenant, id)? else {
        return Ok(not_collected(id, tenant));
    };
    if let Some(s) = subject {
        let known = rec["impactedResources"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["id"] == s || r["subjectId"] == s));
        if !known {
            return Ok(HttpResponse::error(
                404,
                "NoSuchRecommendation",
                format!(
                    "{id} impacts no resource \"{}\"",
                    s.chars().take(100).collect::<String>()
                ),
            ));
        }
    }
    if !app.config().recommendations.write_back {
        return Ok(HttpResponse::error(
            409,
            "WriteBackOff",
            "this recommendation is Microsoft's: its status is kept by Graph. Act on it in the Entra admin center, or set ENTRA_MONITOR_RECOMMENDATION_WRITE_BACK=true (the app then needs DirectoryRecommendations.ReadWrite.All) to send actions there from here",
        ));
    }
    let sources = app.sources().await?;
    let Some(source) = sources
        .iter()
        .find(|t| t.reports.tenant == tenant)
        .map(|t| &t.reports)
    else {
        return Ok(HttpResponse::error(
            409,
            "NoGraphSource",
            format!("tenant {tenant} is not collected from Graph here (its logs were imported)"),
        ));
    };
    // The resource's Graph id (the listing may have named it by subject).
    let resource_id = subject.map(|s| {
        rec["impactedResources"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == s || r["subjectId"] == s))
            .and_then(|r| r["id"].as_str())
            .unwrap_or(s)
            .to_string()
    });
    let updated = match send(source, id, resource_id.as_deref(), act).await {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    // (An older copy of Graph's documentation shows the answer under `value`.)
    let updated = match updated.get("value") {
        Some(inner @ Value::Object(_)) if updated.get("id").is_none() => inner.clone(),
        _ => updated,
    };
    let now = app.now();
    let after = store.record_microsoft_action(
        tenant,
        id,
        resource_id.as_deref(),
        &updated,
        act.by,
        act.reason,
        now,
    )?;
    let answer = match (after, &resource_id) {
        (Some(rec), None) => summary(&rec),
        (Some(rec), Some(r)) => rec["impactedResources"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == r.as_str()))
            .cloned()
            .unwrap_or(Value::Null),
        (None, _) => Value::Null,
    };
    Ok(HttpResponse::json(200, &answer))
}

/// Sends the action to Graph; its answer (the object changed), or the error to give.
async fn send(
    source: &shared::pipeline::collect::Source,
    id: &str,
    resource_id: Option<&str>,
    act: &Act<'_>,
) -> Result<Value, HttpResponse> {
    // Both ids are Graph's own, as collected; anything else stays out of the URL.
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if !plain(id) || resource_id.is_some_and(|r| !plain(r)) {
        return Err(not_collected(id, ""));
    }
    let mut url = format!("{}/beta/directory/recommendations/{id}", source.graph_base);
    if let Some(r) = resource_id {
        url.push_str(&format!("/impactedResources/{r}"));
    }
    url.push('/');
    url.push_str(act.action);
    let body = match act.action {
        "dismiss" => json!({ "dismissReason": act.reason }),
        "postpone" => json!({ "postponeUntilDateTime": act.until.map(|t| t.to_rfc3339()) }),
        _ => json!({}),
    };
    match source
        .client
        .post_for_object(&url, &body, &mut Counters::default())
        .await
    {
        Ok(v) => Ok(v),
        Err(e) => {
            let why = match e {
                GraphError::Refused {
                    status,
                    code,
                    message,
                    ..
                }
                | GraphError::Rejected {
                    status,
                    code,
                    message,
                } if status == 401 || status == 403 => format!(
                    "Graph refused with {status} ({code}): {message}; the app needs DirectoryRecommendations.ReadWrite.All with admin consent"
                ),
                e => e.to_string(),
            };
            Err(HttpResponse::error(
                502,
                "GraphRefused",
                format!(
                    "the {} was not sent to Graph, so nothing changed: {why}",
                    act.action
                ),
            ))
        }
    }
}
