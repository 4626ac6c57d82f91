//! Recommendations (`docs/recommendations.md`): `evaluate-recommendations` judges every type for
//! every tenant from the directory inventory and the logs, daily — and right after a
//! `collect-inventory` run when the tenant has not been evaluated for a day, so a fresh `serve`
//! (or a new cloud instance) has them as soon as the inventory is listed. `GET
//! /api/recommendations` lists a tenant's recommendations in Graph's `recommendation` shape
//! (filters `status`, `priority`, `type`, `source`); `GET /api/recommendations/{id}` gives one
//! with its history; `GET /api/recommendations/{id}/impacted-resources` its resources.
//! Authenticated and limited to the caller's tenants.

use crate::app::App;
use crate::functions::{HttpResult, TimerResult};
use crate::invocation::{
    BoxFuture, FunctionError, HttpRequest, HttpResponse, Invocation, TimerInfo,
};
use crate::request::tenant;
use serde_json::{Value, json};
use shared::recommend::{self, Definition, SOURCE, Thresholds, lifecycle};
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use std::sync::Arc;

pub static EVALUATE: FunctionSpec = FunctionSpec {
    name: "evaluate-recommendations",
    description: "Evaluates the recommendations of every tenant from the directory inventory and the logs: impacted resources, statuses, history.",
    trigger: Trigger::Timer {
        schedule: "0 15 6 * * *",
    },
};

pub static LIST: FunctionSpec = FunctionSpec {
    name: "recommendations",
    description: "A tenant's recommendations in Graph's recommendation shape, with their status and how many resources each impacts.",
    trigger: Trigger::Http {
        route: "recommendations",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static GET: FunctionSpec = FunctionSpec {
    name: "recommendation",
    description: "One recommendation, with the history of its status.",
    trigger: Trigger::Http {
        route: "recommendations/{id}",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static RESOURCES: FunctionSpec = FunctionSpec {
    name: "recommendation-resources",
    description: "The resources a recommendation impacts (or impacted), by rank, with their status.",
    trigger: Trigger::Http {
        route: "recommendations/{id}/impacted-resources",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
const SOURCES: [&str; 2] = [SOURCE, "microsoft"];

/// How long a tenant goes without an evaluation before `collect-inventory` runs one.
pub const EVALUATE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// Evaluates `tenant` now and logs what changed; the number of types that hold.
pub fn evaluate_tenant(app: &App, inv: &Invocation, tenant: &str) -> Result<usize, FunctionError> {
    let store = app.state()?;
    let outcomes = recommend::run(&store, tenant, app.now(), &Thresholds::default())?;
    let mut holding = 0;
    for o in &outcomes {
        match (&o.undecided, o.impacted) {
            (Some(why), _) => inv.log(format!("tenant {tenant}: {}: not judged: {why}", o.kind)),
            (None, Some(n)) if n > 0 => {
                holding += 1;
                inv.log(format!(
                    "tenant {tenant}: {}: {n} impacted{}{}",
                    o.kind,
                    if o.activated { " (newly active)" } else { "" },
                    if o.resources_activated.is_empty() {
                        String::new()
                    } else {
                        format!(", {} newly", o.resources_activated.len())
                    }
                ));
            }
            (None, _) if o.completed => inv.log(format!("tenant {tenant}: {}: completed", o.kind)),
            _ => {}
        }
    }
    Ok(holding)
}

pub fn evaluate(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let sources = app.sources().await?;
        let mut holding = 0;
        for t in sources {
            holding += evaluate_tenant(&app, &inv, &t.reports.tenant)?;
        }
        Ok(format!(
            "{holding} recommendation(s) hold across {} tenant(s)",
            sources.len()
        ))
    })
}

fn bad(parameter: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::error(
        400,
        "BadParameter",
        format!("{parameter}: {}", message.into()),
    )
}

/// Graph's recommendation id: `{tenant}_entra-monitor.{type}`.
fn id_of(tenant: &str, kind: &str) -> String {
    format!("{tenant}_{SOURCE}.{kind}")
}

/// A stored recommendation with its definition's fields, as Graph's `recommendation`.
fn shaped(tenant: &str, d: &Definition, stored: &Value) -> Value {
    let mut r = json!({
        "id": id_of(tenant, d.kind),
        "recommendationType": d.kind,
        "displayName": d.display_name,
        "category": d.category,
        "featureAreas": d.feature_areas,
        "priority": d.priority,
        "impactType": d.impact_type,
        "insights": d.insights,
        "benefits": d.benefits,
        "actionSteps": d.action_steps.iter().enumerate().map(|(i, (text, name, url))| {
            json!({ "stepNumber": i + 1, "text": text,
                    "actionUrl": if url.is_empty() { Value::Null } else { json!({ "displayName": name, "url": url }) } })
        }).collect::<Vec<_>>(),
        "condition": d.condition,
        "releaseType": "generallyAvailable",
    });
    if let (Value::Object(into), Value::Object(from)) = (&mut r, stored) {
        into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    r
}

/// The tenant a request asks about (its `tenant` parameter), checked against the caller.
async fn asked_tenant(
    app: &App,
    req: &HttpRequest,
    asked: Option<&str>,
) -> Result<String, HttpResponse> {
    tenant(app, req, asked).await
}

pub fn list(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        for k in req.query.keys() {
            if !["tenant", "status", "priority", "type", "source"].contains(&k.as_str()) {
                return Ok(bad(
                    k,
                    "unknown parameter; expected one of tenant, status, priority, type, source",
                ));
            }
        }
        let get = |k: &str| req.query.get(k).map(String::as_str);
        let checks: [(&str, Vec<&str>); 4] = [
            ("status", lifecycle::STATUSES.to_vec()),
            ("priority", PRIORITIES.to_vec()),
            ("type", recommend::rules().iter().map(|d| d.kind).collect()),
            ("source", SOURCES.to_vec()),
        ];
        for (name, allowed) in &checks {
            if let Some(v) = get(name).filter(|v| !allowed.contains(v)) {
                return Ok(bad(
                    name,
                    format!("\"{v}\" is not one of {}", allowed.join(", ")),
                ));
            }
        }
        let tenant = match asked_tenant(&app, &req, get("tenant")).await {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let stored = app.state()?.recommendations(&tenant)?;
        let items: Vec<Value> = stored
            .iter()
            .filter_map(|s| {
                let d = recommend::definition(s["recommendationType"].as_str()?)?;
                Some(shaped(&tenant, d, s))
            })
            .filter(|r| get("status").is_none_or(|v| r["status"] == v))
            .filter(|r| get("priority").is_none_or(|v| r["priority"] == v))
            .filter(|r| get("type").is_none_or(|v| r["recommendationType"] == v))
            .filter(|r| get("source").is_none_or(|v| r["source"] == v))
            .collect();
        Ok(HttpResponse::json(
            200,
            &json!({ "tenant": tenant, "value": items }),
        ))
    })
}

/// The tenant and definition a recommendation id names, checked against the caller.
async fn lookup(
    app: &App,
    req: &HttpRequest,
) -> Result<(String, &'static Definition), HttpResponse> {
    let id = req.params.get("id").map(String::as_str).unwrap_or_default();
    let marker = format!("_{SOURCE}.");
    let not_found = || {
        HttpResponse::error(
            404,
            "NoSuchRecommendation",
            format!(
                "no recommendation \"{}\"; ids look like <tenant id>_{SOURCE}.<recommendationType>, as GET /api/recommendations lists them",
                id.chars().take(200).collect::<String>()
            ),
        )
    };
    let Some((asked, kind)) = id.split_once(&marker) else {
        return Err(not_found());
    };
    let d = recommend::definition(kind).ok_or_else(not_found)?;
    let tenant = asked_tenant(app, req, Some(asked)).await?;
    Ok((tenant, d))
}

pub fn get(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        if let Some(k) = req.query.keys().next() {
            return Ok(bad(k, "unknown parameter; this resource takes none"));
        }
        let (tenant, d) = match lookup(&app, &req).await {
            Ok(x) => x,
            Err(r) => return Ok(r),
        };
        let store = app.state()?;
        let Some(stored) = store
            .recommendations(&tenant)?
            .into_iter()
            .find(|s| s["recommendationType"] == d.kind)
        else {
            return Ok(HttpResponse::error(
                404,
                "NoSuchRecommendation",
                format!(
                    "{} has not been raised for tenant {tenant}: its condition has not held (or the tenant was not evaluated yet)",
                    d.kind
                ),
            ));
        };
        let mut r = shaped(&tenant, d, &stored);
        r["history"] = json!(
            store
                .recommendation_history(&tenant, d.kind)?
                .into_iter()
                .filter(|h| h["subjectId"].is_null())
                .collect::<Vec<_>>()
        );
        Ok(HttpResponse::json(200, &r))
    })
}

pub fn resources(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        for k in req.query.keys() {
            if k != "status" {
                return Ok(bad(k, "unknown parameter; expected status"));
            }
        }
        let status = req.query.get("status").cloned();
        if let Some(s) = status
            .as_deref()
            .filter(|s| !lifecycle::STATUSES.contains(s))
        {
            return Ok(bad(
                "status",
                format!("\"{s}\" is not one of {}", lifecycle::STATUSES.join(", ")),
            ));
        }
        let (tenant, d) = match lookup(&app, &req).await {
            Ok(x) => x,
            Err(r) => return Ok(r),
        };
        let id = id_of(&tenant, d.kind);
        let items: Vec<Value> = app
            .state()?
            .impacted_resources(&tenant, d.kind)?
            .into_iter()
            .filter(|r| status.as_deref().is_none_or(|s| r["status"] == s))
            .map(|mut r| {
                r["recommendationId"] = json!(id);
                r["id"] = json!(format!(
                    "{id}_{}",
                    r["subjectId"].as_str().unwrap_or_default()
                ));
                r
            })
            .collect();
        Ok(HttpResponse::json(
            200,
            &json!({ "tenant": tenant, "recommendationId": id, "value": items }),
        ))
    })
}

/// The OpenAPI paths of these endpoints.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let kinds: Vec<&str> = recommend::rules().iter().map(|d| d.kind).collect();
    let enum_param = |name: &str, values: Vec<&str>, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string", "enum": values }, "description": description });
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "<tenant id>_entra-monitor.<recommendationType>, as the listing gives it." });
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let mut bad_request = error.clone();
    bad_request["description"] =
        json!("A parameter is wrong; the message names it and what is expected.");
    let mut forbidden = error.clone();
    forbidden["description"] = json!("The caller may not read this tenant.");
    let mut missing = error.clone();
    missing["description"] = json!("No such recommendation, or not raised for this tenant.");
    paths.insert("/api/recommendations".into(), json!({ "get": {
        "operationId": LIST.name, "summary": LIST.description,
        "parameters": [
            { "name": "tenant", "in": "query", "required": false, "schema": { "type": "string" }, "description": "A tenant's id or name (required when there are several)." },
            enum_param("status", lifecycle::STATUSES.to_vec(), "Only recommendations with this status."),
            enum_param("priority", PRIORITIES.to_vec(), "Only this priority."),
            enum_param("type", kinds, "Only this recommendationType."),
            enum_param("source", SOURCES.to_vec(), "Ours, or Microsoft's."),
        ],
        "responses": { "200": { "description": "{tenant, value: [recommendation]}" }, "400": bad_request, "403": forbidden }
    } }));
    paths.insert("/api/recommendations/{id}".into(), json!({ "get": {
        "operationId": GET.name, "summary": GET.description, "parameters": [id],
        "responses": { "200": { "description": "The recommendation, with history." }, "400": bad_request, "403": forbidden, "404": missing }
    } }));
    paths.insert("/api/recommendations/{id}/impacted-resources".into(), json!({ "get": {
        "operationId": RESOURCES.name, "summary": RESOURCES.description,
        "parameters": [id, enum_param("status", lifecycle::STATUSES.to_vec(), "Only resources with this status.")],
        "responses": { "200": { "description": "{tenant, recommendationId, value: [impactedResource]}" }, "400": bad_request, "403": forbidden, "404": missing }
    } }));
}
