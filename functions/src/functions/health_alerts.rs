//! Tenant health alerts (`docs/health.md`): `monitor-health` computes every tenant's signals
//! every 15 minutes up to the sign-in collection's watermark, runs the anomaly model and keeps
//! the alerts (raised once, sent to the webhook once, resolved when the signal returns). `GET
//! /api/health/alerts` lists a tenant's alerts in Graph's `healthMonitoring` alert shape with
//! their explanation (the common parameters, and `state`); `GET /api/health/alerts/{id}` gives
//! one with its history; `POST /api/health/alerts/{id}/resolve|dismiss` with `{"reason"}`
//! records who, when and why. Authenticated and limited to the caller's tenants.

use crate::app::App;
use crate::functions::{HttpResult, TimerResult};
use crate::invocation::{
    BoxFuture, FunctionError, HttpRequest, HttpResponse, Invocation, TimerInfo,
};
use crate::request::{Read, bad_request, tenant};
use serde_json::{Value, json};
use shared::health::{alert, anomaly::Model, microsoft, monitor, notify, pipeline};
use shared::model::Category;
use shared::pipeline::Source;
use shared::query::params::{self, ParamError};
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use shared::state::{Checkpoints, StateChange};
use std::sync::Arc;

pub static MONITOR: FunctionSpec = FunctionSpec {
    name: "monitor-health",
    description: "Computes every tenant's health signals per 15 minutes from the collected sign-ins and raises, updates and resolves the anomaly alerts.",
    trigger: Trigger::Timer {
        schedule: "0 */15 * * * *",
    },
};

pub static LIST: FunctionSpec = FunctionSpec {
    name: "health-alerts",
    description: "A tenant's health alerts in Graph's healthMonitoring alert shape, each explained, newest first.",
    trigger: Trigger::Http {
        route: "health/alerts",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static MICROSOFT_SIGNALS: FunctionSpec = FunctionSpec {
    name: "health-microsoft-signals",
    description: "Microsoft Entra Health's own metric of a scenario per 15 minutes, as collected from Graph (serviceActivity), beside our signals.",
    trigger: Trigger::Http {
        route: "health/microsoft/signals",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static GET: FunctionSpec = FunctionSpec {
    name: "health-alert",
    description: "One health alert, with the history of its state.",
    trigger: Trigger::Http {
        route: "health/alerts/{id}",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static ACT: FunctionSpec = FunctionSpec {
    name: "health-alert-action",
    description: "Resolve or dismiss a health alert (recorded: who, when, why).",
    trigger: Trigger::Http {
        route: "health/alerts/{id}/{action}",
        methods: &[Method::Post],
        auth: AuthLevel::Function,
    },
};

/// The actions, as the routes name them, and the state each sets.
const ACTIONS: [(&str, &str); 2] = [("resolve", alert::RESOLVED), ("dismiss", alert::DISMISSED)];

/// The columns of a listed alert (JSON objects with these keys, or CSV).
const COLUMNS: [&str; 20] = [
    "id",
    "source",
    "alertType",
    "scenario",
    "category",
    "createdDateTime",
    "state",
    "signal",
    "direction",
    "app",
    "policy",
    "startedDateTime",
    "endedDateTime",
    "figures",
    "explanation",
    "enrichment",
    "signals",
    "relatedSignals",
    "resolution",
    "tenantId",
];

/// Routes `tenant`'s changes of alert state not routed yet as records
/// (`EntraMonitorHealthAlerts_CL`), and delivers them.
async fn publish(app: &App, tenant: &str) -> Result<(), FunctionError> {
    crate::routing::route_own(app, tenant, "health alert rows", |store, router, now| {
        Ok(shared::health::publish::publish(store, router, tenant, now)?.batches)
    })
    .await
}

/// One monitor run for `source`'s tenant (Microsoft's metrics collected first, where
/// licensed); what it did, in a line.
async fn monitor_tenant(app: &App, source: &Source, name: &str) -> Result<String, FunctionError> {
    let tenant = source.tenant.as_str();
    let store = app.state()?;
    let now = app.now();
    let watermark = store
        .checkpoint(tenant, Category::SignInLogs)?
        .and_then(|c| c.watermark);
    let (mut report, judged) = match watermark {
        None => (
            monitor::Report::default(),
            "no sign-ins collected yet; nothing to judge".to_string(),
        ),
        Some(until) => judge(app, source, until, now).await?,
    };
    // The pipeline's alarms in the same stream, sent and routed with the others.
    let mut conditions = pipeline::of_checkpoints(&store.checkpoints()?, tenant, now);
    conditions.extend(pipeline::of_destinations(
        &super::health::destinations(app).await,
    ));
    let (alarms, cleared) = pipeline::reconcile(&store, tenant, &conditions, now)?;
    let alarmed = format!(
        "; pipeline: {} conditions, {} raised, {cleared} cleared",
        conditions.len(),
        alarms.len()
    );
    report.raised.extend(alarms);
    publish(app, tenant).await?;
    let mut sent = String::new();
    if let Some(webhook) = &app.config().alerts {
        let a = notify::send(&store, tenant, &report, webhook, now).await?;
        if a != Default::default() {
            sent = format!(
                "; webhook: {} sent, {} waiting",
                a.sent,
                a.failed + a.suppressed
            );
        }
    }
    Ok(format!("tenant {name}: {judged}{alarmed}{sent}"))
}

/// Microsoft's metrics collected, then one monitor run up to `until` (the sign-in watermark):
/// its report, and what it did in words.
async fn judge(
    app: &App,
    source: &Source,
    until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(monitor::Report, String), FunctionError> {
    let store = app.state()?;
    let tenant = source.tenant.as_str();
    let theirs = match microsoft::collect_metrics(&store, source, until, now).await {
        Ok(r) => match (r.note, r.collected) {
            (Some(note), _) => format!("; {note}"),
            (None, Some((_, to))) => format!("; Microsoft's metrics collected to {to}"),
            (None, None) => String::new(),
        },
        Err(e) => {
            tracing::warn!(tenant, "{e}");
            format!("; {e}")
        }
    };
    let owned = (store.clone(), tenant.to_string());
    // SQLite work off the async threads.
    let report = tokio::task::spawn_blocking(move || {
        monitor::run(&owned.0, &owned.1, until, &Model::default(), now)
    })
    .await
    .map_err(|e| FunctionError::Failed(e.to_string()))??;
    let line = format!(
        "signals computed to {until}{}; {} raised, {} resolved, {} related{theirs}",
        if report.learning {
            " (learning: under three weeks of history, alerts wait)"
        } else {
            ""
        },
        report.raised.len(),
        report.resolved,
        report.related
    );
    Ok((report, line))
}

pub fn run(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let mut lines = Vec::new();
        for t in app.sources().await? {
            let line = monitor_tenant(&app, &t.reports, &t.name).await?;
            inv.log(&line);
            lines.push(line);
        }
        Ok(lines.join("; "))
    })
}

/// Microsoft's metric of a scenario (`scenario`, one of ours that Microsoft measures) over the
/// range, every 15 minutes up to where it is collected.
pub fn microsoft_signals(
    app: Arc<App>,
    _inv: Invocation,
    req: HttpRequest,
) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        let read = match Read::resolve(&app, &req, &["scenario"], 1).await {
            Ok(r) => r,
            Err(r) => return Ok(r),
        };
        let scenarios = microsoft::METRICS.map(|m| m.1);
        let scenario = match params::text(&req.query, "scenario") {
            Ok(Some(s)) if scenarios.contains(&s.as_str()) => s,
            Ok(other) => {
                return Ok(bad_request(&ParamError {
                    parameter: "scenario".into(),
                    message: format!(
                        "{}; expected one of {}",
                        other.map_or("required".to_string(), |s| format!(
                            "\"{}\" is not one Microsoft measures",
                            s.chars().take(100).collect::<String>()
                        )),
                        scenarios.join(", ")
                    ),
                }));
            }
            Err(e) => return Ok(bad_request(&e)),
        };
        let c = &read.common;
        let values = app
            .state()?
            .microsoft_metrics(&read.tenant, &scenario, (c.from, c.to))?;
        let rows = values
            .into_iter()
            .map(|(t, v)| vec![json!(alert::iso(t)), json!(v)])
            .collect();
        let answer = read.page(&["intervalStartDateTime", "value"], rows);
        Ok(read.respond(&app, &req, MICROSOFT_SIGNALS.name, &answer, None))
    })
}

pub fn list(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        let read = match Read::resolve(&app, &req, &["state"], 30).await {
            Ok(r) => r,
            Err(r) => return Ok(r),
        };
        let state = match params::text(&req.query, "state") {
            Ok(None) => None,
            Ok(Some(s)) if alert::STATES.contains(&s.as_str()) => Some(s),
            Ok(Some(s)) => {
                return Ok(bad_request(&ParamError {
                    parameter: "state".into(),
                    message: format!(
                        "\"{}\" is not a state; expected one of {}",
                        s.chars().take(100).collect::<String>(),
                        alert::STATES.join(", ")
                    ),
                }));
            }
            Err(e) => return Ok(bad_request(&e)),
        };
        let c = &read.common;
        let store = app.state()?;
        let stored = store.health_alerts(
            &read.tenant,
            c.from,
            c.to,
            state.as_deref(),
            c.offset + c.limit + 1,
        )?;
        // Microsoft's alerts beside ours, newest first.
        let mut alerts: Vec<Value> = stored.into_iter().map(|a| a.alert).collect();
        alerts.extend(microsoft::alerts(
            &store,
            &read.tenant,
            (c.from, c.to),
            state.as_deref(),
        )?);
        alerts.sort_by(|a, b| {
            b["createdDateTime"]
                .as_str()
                .cmp(&a["createdDateTime"].as_str())
        });
        let rows = alerts
            .iter()
            .take(c.offset + c.limit + 1)
            .map(|a| COLUMNS.iter().map(|k| a[*k].clone()).collect())
            .collect();
        let answer = read.page(&COLUMNS, rows);
        Ok(read.respond(&app, &req, LIST.name, &answer, None))
    })
}

/// The alert a request names, its tenant (the `tenant` parameter, or the only one) checked
/// against the caller.
async fn lookup(
    app: &App,
    req: &HttpRequest,
) -> Result<(String, shared::state::StoredAlert), HttpResponse> {
    let id = req.params.get("id").map(String::as_str).unwrap_or_default();
    let asked = req.query.get("tenant").map(String::as_str);
    let tenant = tenant(app, req, asked).await?;
    let store = app
        .state()
        .map_err(|e| HttpResponse::error(503, "StateUnavailable", e.to_string()))?;
    let found = store
        .health_alert(&tenant, id)
        .map_err(|e| HttpResponse::error(500, "StateError", e.to_string()))?;
    found.map(|a| (tenant.clone(), a)).ok_or_else(|| {
        HttpResponse::error(
            404,
            "NoSuchAlert",
            format!(
                "no health alert \"{}\" for tenant {tenant}; GET /api/health/alerts lists them",
                id.chars().take(100).collect::<String>()
            ),
        )
    })
}

/// The answer when a request names one of Microsoft's alerts: the alert, or for an action a
/// 409 saying where to change it (its state is Microsoft's: resolved in the Microsoft Entra
/// admin center, or by `PATCH` on Graph's alert, which entra-monitor does not send).
async fn microsofts(
    app: &App,
    req: &HttpRequest,
    action: Option<&str>,
) -> Result<Option<HttpResponse>, FunctionError> {
    let id = req.params.get("id").map(String::as_str).unwrap_or_default();
    let asked = req.query.get("tenant").map(String::as_str);
    let tenant = match tenant(app, req, asked).await {
        Ok(t) => t,
        Err(r) => return Ok(Some(r)),
    };
    let store = app.state()?;
    let Some(found) = microsoft::alert(&store, &tenant, id)? else {
        return Ok(None);
    };
    Ok(Some(match action {
        None => HttpResponse::json(200, &found),
        Some(action) => HttpResponse::error(
            409,
            "MicrosoftsAlert",
            format!(
                "alert {id} is Microsoft Entra Health's own; {action} it in the Microsoft Entra admin center (Health, Alerts), where its state is kept"
            ),
        ),
    }))
}

/// Refuses any query parameter but `tenant`.
fn only_tenant(req: &HttpRequest) -> Option<HttpResponse> {
    req.query.keys().find(|k| *k != "tenant").map(|k| {
        HttpResponse::error(
            400,
            "BadParameter",
            format!("{k}: unknown parameter; this resource takes only tenant"),
        )
    })
}

pub fn get(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        if let Some(r) = only_tenant(&req) {
            return Ok(r);
        }
        if let Some(r) = microsofts(&app, &req, None).await? {
            return Ok(r);
        }
        let (tenant, a) = match lookup(&app, &req).await {
            Ok(x) => x,
            Err(r) => return Ok(r),
        };
        let mut body = a.alert.clone();
        body["history"] = json!(app.state()?.health_alert_history(&tenant, &a.id)?);
        Ok(HttpResponse::json(200, &body))
    })
}

pub fn act(app: Arc<App>, inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        if let Some(r) = only_tenant(&req) {
            return Ok(r);
        }
        let action = req.params.get("action").cloned().unwrap_or_default();
        let Some(&(_, to)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
            return Ok(HttpResponse::error(
                404,
                "NoSuchAction",
                format!(
                    "no action \"{}\"; expected resolve or dismiss",
                    action.chars().take(100).collect::<String>()
                ),
            ));
        };
        let reason = match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(o)) => o
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string(),
            _ => String::new(),
        };
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Ok(HttpResponse::error(
                400,
                "BadParameter",
                "body: expected a JSON object {\"reason\": \"...\"} saying why, in at most 1000 characters",
            ));
        }
        if let Some(r) = microsofts(&app, &req, Some(&action)).await? {
            return Ok(r);
        }
        let (tenant, mut a) = match lookup(&app, &req).await {
            Ok(x) => x,
            Err(r) => return Ok(r),
        };
        if a.state == to {
            return Ok(HttpResponse::error(
                409,
                "AlreadyInState",
                format!("alert {} is {to} already", a.id),
            ));
        }
        let by = req
            .caller
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let now = app.now();
        let was = std::mem::replace(&mut a.state, to.to_string());
        alert::set_state(&mut a, &by, now, &reason);
        let change = StateChange {
            at: now,
            to,
            by: &by,
            reason: &reason,
        };
        app.state()?
            .put_health_alert(&tenant, &a, Some((was.as_str(), change)))?;
        inv.log(format!("{by} set health alert {} from {was} to {to}", a.id));
        publish(&app, &tenant).await?;
        Ok(HttpResponse::json(200, &a.alert))
    })
}

/// The OpenAPI paths of these endpoints; `common_params`: the question endpoints' common
/// parameters.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>, common_params: &Value) {
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let with = |d: &str| {
        let mut e = error.clone();
        e["description"] = json!(d);
        e
    };
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "maxLength": 100 }, "description": "The alert's id, as the listing gives it." });
    let tenant = json!({ "name": "tenant", "in": "query", "required": false, "schema": { "type": "string" }, "description": "A tenant's id or name (required when there are several)." });
    let mut parameters: Vec<Value> = common_params
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !["explain", "backend"].contains(&p["name"].as_str().unwrap_or_default()))
        .cloned()
        .collect();
    parameters.push(json!({ "name": "state", "in": "query", "required": false, "schema": { "type": "string", "enum": alert::STATES }, "description": "Only alerts in this state (dismissed: resolved by a person as not worth acting on)." }));
    paths.insert("/api/health/alerts".into(), json!({ "get": {
        "operationId": LIST.name, "summary": LIST.description, "parameters": parameters,
        "responses": { "200": { "description": "{tenant, columns, value: [alert]}: alerts raised in the range, newest first." },
                       "400": with("A parameter is wrong; the message names it and what is expected."),
                       "403": with("The caller may not read this tenant.") }
    } }));
    let mut signal_params: Vec<Value> = parameters
        .iter()
        .filter(|p| p["name"] != "state")
        .cloned()
        .collect();
    signal_params.push(json!({ "name": "scenario", "in": "query", "required": true, "schema": { "type": "string", "enum": microsoft::METRICS.map(|m| m.1) }, "description": "The scenario, by our signal's name." }));
    paths.insert("/api/health/microsoft/signals".into(), json!({ "get": {
        "operationId": MICROSOFT_SIGNALS.name, "summary": MICROSOFT_SIGNALS.description, "parameters": signal_params,
        "responses": { "200": { "description": "{tenant, columns, value: [{intervalStartDateTime, value}]}: every quarter hour of the range collected so far." },
                       "400": with("A parameter is wrong; the message names it and what is expected."),
                       "403": with("The caller may not read this tenant.") }
    } }));
    paths.insert("/api/health/alerts/{id}".into(), json!({ "get": {
        "operationId": GET.name, "summary": GET.description, "parameters": [id, tenant],
        "responses": { "200": { "description": "The alert, with its history." }, "400": with("A parameter is wrong."),
                       "403": with("The caller may not read this tenant."), "404": with("No such alert for this tenant.") }
    } }));
    let action = json!({ "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": ACTIONS.map(|a| a.0) }, "description": "resolve, or dismiss (not worth acting on)." });
    let body = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": {
        "reason": { "type": "string", "maxLength": 1000, "description": "Why (kept in the history)." } } } } } });
    paths.insert("/api/health/alerts/{id}/{action}".into(), json!({ "post": {
        "operationId": ACT.name, "summary": ACT.description, "parameters": [id, action, tenant], "requestBody": body,
        "responses": { "200": { "description": "The alert after the action." }, "400": with("No reason, or a parameter is wrong."),
                       "403": with("The caller may not read this tenant."), "404": with("No such alert or action."),
                       "409": with("The alert is in that state already.") }
    } }));
}
