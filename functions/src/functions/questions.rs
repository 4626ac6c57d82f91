//! The question endpoints (GET `/api/...`), one HTTP function each, answered from the embedded
//! store: JSON by default, CSV with `Accept: text/csv` or `format=csv`; `explain=true` adds the
//! KQL to paste into Log Analytics. Every bad parameter is a 400 naming it. The questions
//! themselves are [`shared::query::questions::ALL`], the one list the registry entries and the
//! OpenAPI document (`/api/openapi.json`) come from.

use crate::app::App;
use crate::functions::HttpResult;
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use crate::request::{Read, bad_request};
use serde_json::{Value, json};
use shared::model::Destination;
use shared::query::log_analytics::QueryError;
use shared::query::params::{self, Backend};
use shared::query::questions;
use shared::query::{finish, run_embedded};
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use std::sync::Arc;

/// The handler of every question function: the invocation names the question.
pub fn run(app: Arc<App>, inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { answer(&app, inv.function, req).await })
}

/// Answers question `name`.
pub async fn answer(app: &App, name: &'static str, mut req: HttpRequest) -> HttpResult {
    // A route parameter ({category}) is read like a query parameter.
    for (k, v) in &req.params {
        req.query.insert(k.clone(), v.clone());
    }
    let Some(q) = questions::find(name) else {
        return Ok(HttpResponse::error(
            404,
            "NoSuchQuestion",
            format!("no question {name}"),
        ));
    };
    let read = Read::resolve(
        app,
        &req,
        &q.spec().parameter_names(),
        q.spec().default_days,
    )
    .await;
    let mut read = match read {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let question = match q.parse(&req.query) {
        Ok(q) => q,
        Err(e) => return Ok(bad_request(&e)),
    };
    read.common.kql_tables = app.config().query.tables;
    let (common, tenant) = (&read.common, &read.tenant);
    let backend = common.backend.unwrap_or(app.config().query.backend);
    if backend == Backend::LogAnalytics && question.embedded_only() {
        return Ok(HttpResponse::error(
            409,
            "EmbeddedOnly",
            format!(
                "{name} reads the directory inventory, which only the embedded store keeps; ask with backend=embedded"
            ),
        ));
    }
    let p = question.plan(tenant, common);
    let rows = match backend {
        Backend::Embedded => {
            let missing = question
                .categories()
                .into_iter()
                .find(|c| !app.config().routes[c].contains(&Destination::Embedded));
            if let Some(category) = missing {
                return Ok(HttpResponse::error(
                    409,
                    "NotInEmbeddedStore",
                    format!(
                        "{category} is not routed to the embedded store; add embedded to {}, or ask with backend=log-analytics",
                        shared::config::routes_env_var(category)
                    ),
                ));
            }
            let store = app.state()?;
            // SQLite blocks its thread: run the read off the async workers, so a long
            // question never holds up collection or other requests.
            let plan = p.clone();
            let read = tokio::task::spawn_blocking(move || run_embedded(&store, &plan))
                .await
                .map_err(|e| {
                    crate::invocation::FunctionError::Failed(format!("the query stopped: {e}"))
                })?;
            match read {
                Ok(rows) => rows,
                Err(e @ shared::state::StateError::AnswerTooLarge(_)) => {
                    return Ok(HttpResponse::error(400, "AnswerTooLarge", e.to_string()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Backend::LogAnalytics => {
            let la = match app.log_analytics_query().await {
                Ok(la) => la,
                Err(e) => return Ok(HttpResponse::error(400, "BadParameter", e.to_string())),
            };
            match la.run(&p.kql, common.from, common.to).await {
                Ok(rows) => rows,
                Err(e @ QueryError::Unavailable(_)) => {
                    return Ok(HttpResponse::error(
                        503,
                        "LogAnalyticsUnavailable",
                        e.to_string(),
                    ));
                }
                Err(e) => {
                    return Ok(HttpResponse::error(
                        502,
                        "LogAnalyticsRefused",
                        e.to_string(),
                    ));
                }
            }
        }
    };
    let a = finish(&*question, &p, common, rows);
    let kql = common.explain.then_some(p.kql.as_str());
    Ok(read.respond(app, &req, name, &a, kql))
}

/// The OpenAPI 3.0 document of the HTTP functions.
pub fn openapi() -> Value {
    let common_params = json!([
        { "name": "from", "in": "query", "schema": { "oneOf": [{ "type": "string", "format": "date-time" }, { "type": "string", "format": "date" }] }, "description": "Start of the range (RFC 3339 or YYYY-MM-DD); not before the retention." },
        { "name": "to", "in": "query", "schema": { "oneOf": [{ "type": "string", "format": "date-time" }, { "type": "string", "format": "date" }] }, "description": "End of the range (default: now); not later than now." },
        { "name": "last", "in": "query", "schema": { "type": "string", "pattern": "^[0-9]+[dhm]$" }, "description": "The range as a span before now, e.g. 7d, 24h, 30m (instead of from/to)." },
        { "name": "tenant", "in": "query", "schema": { "type": "string" }, "description": "A configured tenant's id or name (required with several tenants)." },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": params::MAX_LIMIT, "default": 100 }, "description": "Rows per page (listings)." },
        { "name": "cursor", "in": "query", "schema": { "type": "string" }, "description": "next_cursor of the previous page, with the same other parameters." },
        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "csv"] }, "description": "Answer format; Accept: text/csv also gives CSV." },
        { "name": "explain", "in": "query", "schema": { "type": "boolean" }, "description": "Add the KQL that answers the same question in Log Analytics." },
        { "name": "backend", "in": "query", "schema": { "type": "string", "enum": ["embedded", "log-analytics"] }, "description": "Where to answer from (default: ENTRA_MONITOR_QUERY_BACKEND, embedded)." }
    ]);
    let mut paths = serde_json::Map::new();
    for q in questions::ALL {
        let spec = q.spec();
        let Trigger::Http { route, .. } = spec.function.trigger else {
            continue;
        };
        let mut parameters: Vec<Value> = spec
            .params
            .iter()
            .map(|p| {
                let schema = if p.values.is_empty() {
                    json!({ "type": "string" })
                } else {
                    json!({ "type": "string", "enum": p.values })
                };
                json!({ "name": p.name, "in": "query", "required": p.required, "schema": schema, "description": p.description, "example": p.example })
            })
            .collect();
        if route.contains("{category}") {
            parameters.insert(0, json!({ "name": "category", "in": "path", "required": true, "schema": { "type": "string", "enum": shared::model::Category::ALL.iter().map(|c| c.name()).collect::<Vec<_>>() }, "description": "The log category, as diagnostic settings name it." }));
        }
        parameters.extend(common_params.as_array().cloned().unwrap_or_default());
        paths.insert(
            format!("/api/{route}"),
            json!({ "get": {
                "operationId": spec.function.name,
                "summary": spec.function.description,
                "parameters": parameters,
                "responses": {
                    "200": { "description": "The answer: columns, rows (objects), next_cursor, summary when the question has totals, kql with explain=true.",
                             "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Answer" } }, "text/csv": { "schema": { "type": "string" } } } },
                    "400": { "description": "A parameter is wrong; the message names it and what is expected.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "409": { "description": "The category is not routed to the embedded store.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
            } }),
        );
    }
    risk_and_health_paths(&mut paths, &common_params);
    super::recommendations::openapi_paths(&mut paths);
    super::health_alerts::openapi_paths(&mut paths, &common_params);
    json!({
        "openapi": "3.0.3",
        "info": { "title": "entra-monitor", "version": env!("CARGO_PKG_VERSION"), "description": "Answers about Microsoft Entra activity logs, from the embedded store." },
        "paths": paths,
        // Any one of these lets a request in (see docs/security.md): an API key of
        // ours, an Entra access token, or — on Azure with no key or audience of ours
        // configured — the function key. A local `serve` on loopback lets reads in without.
        "security": [{ "apiKey": [] }, { "bearer": [] }, { "functionKey": [] }],
        "components": {
          "securitySchemes": {
            "apiKey": { "type": "apiKey", "in": "header", "name": "x-api-key", "description": "An API key whose SHA-256 is configured (ENTRA_MONITOR_API_KEYS), or locally the key in data/local-admin-key." },
            "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An Entra access token for the configured audience, with the configured app role." },
            "functionKey": { "type": "apiKey", "in": "header", "name": "x-functions-key", "description": "The Azure Functions key, checked by the Functions host (also accepted as the code query parameter)." }
          },
          "schemas": {
            "Answer": { "type": "object", "properties": {
                "question": { "type": "string" }, "tenant": { "type": "string" },
                "from": { "type": "string", "format": "date-time" }, "to": { "type": "string", "format": "date-time" },
                "columns": { "type": "array", "items": { "type": "string" } },
                "rows": { "type": "array", "items": { "type": "object" } },
                "next_cursor": { "type": "string", "nullable": true },
                "summary": { "type": "object" }, "kql": { "type": "string" } } },
            "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } }
        } }
    })
}

/// The paths of the risk listings and actions, health and this document.
fn risk_and_health_paths(paths: &mut serde_json::Map<String, Value>, common_params: &Value) {
    let mut risk_params = vec![
        json!({ "name": "user", "in": "query", "schema": { "type": "string" }, "description": "Only this user's detections." }),
        json!({ "name": "source", "in": "query", "schema": { "type": "string", "enum": ["entra-monitor", "Microsoft"] }, "description": "Only ours, or only Microsoft's." }),
    ];
    risk_params.extend(common_params.as_array().cloned().unwrap_or_default());
    let risk_listing = |operation: &str, summary: &str, columns: &str| {
        json!({ "get": {
            "operationId": operation,
            "summary": summary,
            "parameters": risk_params,
            "responses": {
                "200": { "description": format!("Columns {columns}."), "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Answer" } }, "text/csv": { "schema": { "type": "string" } } } },
                "400": { "description": "A parameter is wrong.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        } })
    };
    paths.insert(
        "/api/risk/detections".into(),
        risk_listing(
            "risk-detections",
            "Risk detections, ours (with evidence: record ids, counts, the threshold crossed) and Microsoft's, newest first.",
            "source, name, risk_level, user, ip, first_seen, last_seen, evidence, record_ids, state",
        ),
    );
    paths.insert(
        "/api/risk/signins".into(),
        risk_listing(
            "risky-sign-ins",
            "Risky sign-ins: the interactive sign-ins our detections name and those Microsoft rated at risk (RiskLevelDuringSignIn), newest first.",
            "id, time, user, ip, location, app, result, risk_level (the higher of ours and Microsoft's), microsoft_risk_level, risk_state, sources, detections",
        ),
    );
    paths.insert(
        "/api/risk/users".into(),
        json!({ "get": {
            "operationId": "risky-users",
            "summary": "Risky users: level (none, low, medium, high), state (atRisk, confirmedCompromised, dismissed, remediated) and history.",
            "parameters": [
                { "name": "tenant", "in": "query", "schema": { "type": "string" } },
                { "name": "state", "in": "query", "schema": { "type": "string", "enum": ["atRisk", "confirmedCompromised", "dismissed", "remediated"] } },
                { "name": "user", "in": "query", "schema": { "type": "string" } }
            ],
            "responses": { "200": { "description": "{tenant, users: [{user, level, state, updated, history}]}" }, "400": { "description": "A parameter is wrong." } }
        } }),
    );
    paths.insert(
        "/api/risk/users/{action}".into(),
        json!({ "post": {
            "operationId": "risky-user-action",
            "summary": "Dismiss a user's risk or confirm them compromised; who, when and why are recorded.",
            "parameters": [{ "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": ["dismiss", "confirm-compromised"] } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["user", "reason"], "properties": { "user": { "type": "string" }, "reason": { "type": "string", "maxLength": 1000 }, "tenant": { "type": "string" } } } } } },
            "responses": { "200": { "description": "The user's risk after the action." }, "400": { "description": "The body is wrong." }, "403": { "description": "The caller may not act on this tenant." }, "404": { "description": "The user has no risk, or no such action." } }
        } }),
    );
    paths.insert(
        "/api/health".into(),
        json!({ "get": { "operationId": "health", "summary": "Version, functions, last runs, collection and destination health (the details only with a credential).", "security": [], "responses": { "200": { "description": "Healthy." }, "503": { "description": "Degraded: the state store cannot be read or failed its integrity check, a function's last run failed, a category is paused, or a destination fails." } } } }),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({ "get": { "operationId": "openapi", "summary": "This document.", "security": [], "responses": { "200": { "description": "OpenAPI 3.0." } } } }),
    );
}

pub static OPENAPI: FunctionSpec = FunctionSpec {
    name: "openapi",
    description: "The OpenAPI document of the HTTP functions.",
    trigger: Trigger::Http {
        route: "openapi.json",
        methods: &[Method::Get],
        auth: AuthLevel::Anonymous,
    },
};

pub fn run_openapi(_app: Arc<App>, _inv: Invocation, _req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { Ok(HttpResponse::json(200, &openapi())) })
}
