//! Recommendations (`docs/recommendations.md`): `evaluate-recommendations` judges every type for
//! every tenant from the directory inventory and the logs, daily — and right after a
//! `collect-inventory` run when the tenant has not been evaluated for a day, so a fresh `serve`
//! (or a new cloud instance) has them as soon as the inventory is listed. `GET
//! /api/recommendations` lists a tenant's recommendations in Graph's `recommendation` shape
//! (filters `status`, `priority`, `type`, `source`); `GET /api/recommendations/{id}` gives one
//! with its history; `GET /api/recommendations/{id}/impacted-resources` its resources.
//! Authenticated and limited to the caller's tenants.

use super::microsoft_recommendations;
use crate::app::App;
use crate::functions::{HttpResult, TimerResult};
use crate::invocation::{
    BoxFuture, FunctionError, HttpRequest, HttpResponse, Invocation, TimerInfo,
};
use crate::request::tenant;
use serde_json::{Value, json};
use shared::config::recommendations::PRIORITIES;
use shared::recommend::{self, Definition, SOURCE, id_of, lifecycle};
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

const SOURCES: [&str; 2] = [SOURCE, "microsoft"];

/// How long a tenant goes without an evaluation before `collect-inventory` runs one.
pub const EVALUATE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// Routes `tenant`'s recommendation changes not routed yet as records
/// (`EntraMonitorRecommendations_CL`), and delivers them.
pub async fn publish(app: &App, tenant: &str) -> Result<(), FunctionError> {
    crate::routing::route_own(app, tenant, "recommendation rows", |store, router, now| {
        Ok(recommend::publish::publish(store, router, tenant, now)?.batches)
    })
    .await
}

/// Evaluates `tenant` now, logs what changed and alerts what became active; the number of
/// types that hold.
pub async fn evaluate_tenant(
    app: &App,
    inv: &Invocation,
    tenant: &str,
) -> Result<usize, FunctionError> {
    let store = app.state()?;
    let settings = &app.config().recommendations;
    let now = app.now();
    let outcomes = recommend::run(&store, tenant, now, &settings.thresholds)?;
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
    publish(app, tenant).await?;
    if let (Some(webhook), Some(lowest)) = (&app.config().alerts, settings.alert_min_priority) {
        let report =
            recommend::alerts::send(&store, tenant, &outcomes, lowest, webhook, now).await?;
        if report != Default::default() {
            inv.log(format!(
                "tenant {tenant}: recommendation alerts: {} sent, {} waiting (webhook failed {}, over the hour's allowance {})",
                report.sent,
                report.failed + report.suppressed,
                report.failed,
                report.suppressed
            ));
        }
    }
    Ok(holding)
}

pub fn evaluate(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let sources = app.sources().await?;
        let mut holding = 0;
        for t in sources {
            holding += evaluate_tenant(&app, &inv, &t.reports.tenant).await?;
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

/// The columns of a recommendation and of an impacted resource in CSV.
const LIST_COLUMNS: [&str; 12] = [
    "id",
    "recommendationType",
    "source",
    "displayName",
    "priority",
    "status",
    "impactedResourcesActive",
    "impactedResourcesTotal",
    "impactStartDateTime",
    "lastCheckedDateTime",
    "lastModifiedBy",
    "postponeUntilDateTime",
];
const RESOURCE_COLUMNS: [&str; 9] = [
    "subjectId",
    "resourceType",
    "displayName",
    "status",
    "rank",
    "addedDateTime",
    "lastModifiedBy",
    "postponeUntilDateTime",
    "portalUrl",
];

/// Whether CSV is asked for (`format=csv` or `Accept: text/csv`); `explain` is refused with
/// why: a recommendation joins the directory inventory, which no Log Analytics table holds.
fn wants_csv(req: &HttpRequest) -> Result<bool, HttpResponse> {
    if req.query.contains_key("explain") {
        return Err(bad(
            "explain",
            "recommendations have no KQL equivalent: they join the directory inventory (apps, credentials, roles, registration details), which Log Analytics does not hold",
        ));
    }
    match req.query.get("format").map(String::as_str) {
        None => Ok(req
            .headers
            .get("accept")
            .is_some_and(|a| a.contains("text/csv"))),
        Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(bad("format", "expected json or csv")),
    }
}

/// A JSON answer's `value` as CSV (its `nextOffset` in `x-next-offset`), when asked.
fn in_format(csv: bool, columns: &[&str], resp: HttpResponse) -> HttpResponse {
    if !csv || resp.status != 200 {
        return resp;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&resp.body) else {
        return resp;
    };
    let answer = shared::query::Answer {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: body["value"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| columns.iter().map(|c| i[*c].clone()).collect())
                    .collect()
            })
            .unwrap_or_default(),
        summary: None,
        next_offset: None,
    };
    let mut r = HttpResponse::json(200, &Value::Null);
    r.headers
        .insert("content-type".into(), "text/csv; charset=utf-8".into());
    if let Some(next) = body["nextOffset"].as_i64() {
        r.headers.insert("x-next-offset".into(), next.to_string());
    }
    r.body = shared::query::to_csv(&answer).into();
    r
}

pub fn list(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        const PARAMS: [&str; 7] = [
            "tenant", "status", "priority", "type", "source", "format", "explain",
        ];
        for k in req.query.keys() {
            if !PARAMS.contains(&k.as_str()) {
                return Ok(bad(
                    k,
                    format!("unknown parameter; expected one of {}", PARAMS.join(", ")),
                ));
            }
        }
        let csv = match wants_csv(&req) {
            Ok(c) => c,
            Err(r) => return Ok(r),
        };
        let get = |k: &str| req.query.get(k).map(String::as_str);
        let checks: [(&str, Vec<&str>); 3] = [
            ("status", lifecycle::STATUSES.to_vec()),
            ("priority", PRIORITIES.to_vec()),
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
        let store = app.state()?;
        let microsoft = microsoft_recommendations::listed(&store, &tenant)?;
        // A type is ours, or one of Microsoft's collected for the tenant.
        if let Some(v) = get("type") {
            let known = recommend::definition(v).is_some()
                || microsoft.iter().any(|m| m["recommendationType"] == v);
            if !known {
                let ours: Vec<&str> = recommend::rules().iter().map(|d| d.kind).collect();
                return Ok(bad(
                    "type",
                    format!(
                        "\"{}\" is not a recommendationType; ours are {} (and Microsoft's collected ones)",
                        v.chars().take(100).collect::<String>(),
                        ours.join(", ")
                    ),
                ));
            }
        }
        let stored = store.recommendations(&tenant)?;
        let items: Vec<Value> = stored
            .iter()
            .filter_map(|s| {
                let d = recommend::definition(s["recommendationType"].as_str()?)?;
                Some(shaped(&tenant, d, s))
            })
            .chain(microsoft)
            .filter(|r| get("status").is_none_or(|v| r["status"] == v))
            .filter(|r| get("priority").is_none_or(|v| r["priority"] == v))
            .filter(|r| get("type").is_none_or(|v| r["recommendationType"] == v))
            .filter(|r| get("source").is_none_or(|v| r["source"] == v))
            .collect();
        Ok(in_format(
            csv,
            &LIST_COLUMNS,
            HttpResponse::json(200, &json!({ "tenant": tenant, "value": items })),
        ))
    })
}

/// What a recommendation id names.
enum Named {
    /// One of ours: the tenant and the type.
    Ours(String, &'static Definition),
    /// One of Microsoft's: the tenant and Graph's id.
    Microsoft(String, String),
}

/// The recommendation an id names, its tenant checked against the caller.
async fn lookup(app: &App, req: &HttpRequest) -> Result<Named, HttpResponse> {
    let id = req.params.get("id").map(String::as_str).unwrap_or_default();
    if let Some(asked) = microsoft_recommendations::tenant_of(id) {
        let tenant = asked_tenant(app, req, Some(asked)).await?;
        return Ok(Named::Microsoft(tenant, id.to_string()));
    }
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
    Ok(Named::Ours(tenant, d))
}

pub fn get(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        if let Some(k) = req.query.keys().next() {
            return Ok(bad(k, "unknown parameter; this resource takes none"));
        }
        let (tenant, d) = match lookup(&app, &req).await {
            Ok(Named::Ours(t, d)) => (t, d),
            Ok(Named::Microsoft(t, id)) => {
                let store = app.state()?;
                return Ok(microsoft_recommendations::one(&store, &t, &id)?);
            }
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
            if !["status", "limit", "offset", "format", "explain"].contains(&k.as_str()) {
                return Ok(bad(
                    k,
                    "unknown parameter; expected status, limit, offset or format",
                ));
            }
        }
        let csv = match wants_csv(&req) {
            Ok(c) => c,
            Err(r) => return Ok(r),
        };
        // One answer holds at most a page: a tenant's users can be impacted by the hundred
        // thousand.
        let number = |name: &str, default: i64, most: i64| match req.query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=most).contains(n))
                .ok_or_else(|| bad(name, format!("must be a whole number from 0 to {most}"))),
        };
        let (limit, offset) = match (
            number("limit", MAX_RESOURCES, MAX_RESOURCES),
            number("offset", 0, MAX_OFFSET),
        ) {
            (Ok(l), Ok(o)) => (l.max(1), o),
            (Err(r), _) | (_, Err(r)) => return Ok(r),
        };
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
            Ok(Named::Ours(t, d)) => (t, d),
            Ok(Named::Microsoft(t, id)) => {
                let store = app.state()?;
                let status = status.as_deref();
                let page =
                    microsoft_recommendations::resources(&store, &t, &id, status, limit, offset)?;
                return Ok(in_format(csv, &RESOURCE_COLUMNS, page));
            }
            Err(r) => return Ok(r),
        };
        let id = id_of(&tenant, d.kind);
        let filter = shared::state::ResourceFilter {
            status,
            subject: None,
        };
        let mut page =
            app.state()?
                .impacted_resources_page(&tenant, d.kind, &filter, limit + 1, offset)?;
        let next = (page.len() as i64 > limit).then(|| offset + limit);
        page.truncate(limit as usize);
        let items: Vec<Value> = page
            .into_iter()
            .map(|mut r| {
                r["recommendationId"] = json!(id);
                r["id"] = json!(format!(
                    "{id}_{}",
                    r["subjectId"].as_str().unwrap_or_default()
                ));
                r
            })
            .collect();
        Ok(in_format(
            csv,
            &RESOURCE_COLUMNS,
            HttpResponse::json(
                200,
                &json!({ "tenant": tenant, "recommendationId": id, "value": items, "nextOffset": next }),
            ),
        ))
    })
}

pub static ACT: FunctionSpec = FunctionSpec {
    name: "recommendation-action",
    description: "Dismiss, postpone, complete or reactivate a recommendation (recorded: who, when, why).",
    trigger: Trigger::Http {
        route: "recommendations/{id}/{action}",
        methods: &[Method::Post],
        auth: AuthLevel::Function,
    },
};

pub static ACT_ON_RESOURCE: FunctionSpec = FunctionSpec {
    name: "recommendation-resource-action",
    description: "Dismiss, postpone, complete or reactivate one resource of a recommendation (recorded: who, when, why).",
    trigger: Trigger::Http {
        route: "recommendations/{id}/impacted-resources/{subject}/{action}",
        methods: &[Method::Post],
        auth: AuthLevel::Function,
    },
};

/// The actions, as the routes name them, and the status each sets.
const ACTIONS: [(&str, &str); 4] = [
    ("dismiss", lifecycle::DISMISSED),
    ("postpone", lifecycle::POSTPONED),
    ("complete", lifecycle::COMPLETED_BY_USER),
    ("reactivate", lifecycle::ACTIVE),
];

/// The most impacted resources one answer lists, and the furthest offset asked.
const MAX_RESOURCES: i64 = 1000;
const MAX_OFFSET: i64 = 10_000_000;

/// How far ahead a recommendation can be postponed.
const MOST_POSTPONED: chrono::Duration = chrono::Duration::days(366);

/// An action's reason and, to postpone, until when — or the 400 that says what is wrong.
fn read_action(
    body: &[u8],
    status: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, Option<chrono::DateTime<chrono::Utc>>), HttpResponse> {
    let body: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(bad(
                "body",
                "is not a JSON object; expected {\"reason\": \"...\"} (and \"postponeUntilDateTime\" to postpone)",
            ));
        }
    };
    let reason = body["reason"]
        .as_str()
        .or(body["dismissReason"].as_str())
        .unwrap_or_default()
        .trim();
    if reason.is_empty() || reason.len() > 1000 {
        return Err(bad("reason", "must say why, in at most 1000 characters"));
    }
    let until = match (status, body["postponeUntilDateTime"].as_str()) {
        (lifecycle::POSTPONED, Some(t)) => match chrono::DateTime::parse_from_rfc3339(t) {
            Ok(t) if t > now && t <= now + MOST_POSTPONED => Some(t.with_timezone(&chrono::Utc)),
            Ok(_) => {
                return Err(bad(
                    "postponeUntilDateTime",
                    "must be in the future, at most a year ahead",
                ));
            }
            Err(_) => {
                return Err(bad(
                    "postponeUntilDateTime",
                    "is not an RFC 3339 date and time, e.g. 2027-01-31T00:00:00Z",
                ));
            }
        },
        (lifecycle::POSTPONED, None) => {
            return Err(bad(
                "postponeUntilDateTime",
                "is needed to postpone: until when",
            ));
        }
        (_, Some(_)) => return Err(bad("postponeUntilDateTime", "is only for postpone")),
        (_, None) => None,
    };
    Ok((reason.to_string(), until))
}

pub fn act(app: Arc<App>, inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        let action = req.params.get("action").cloned().unwrap_or_default();
        let Some(&(_, status)) = ACTIONS.iter().find(|(a, _)| *a == action) else {
            return Ok(HttpResponse::error(
                404,
                "NoSuchAction",
                format!(
                    "no action \"{}\"; expected dismiss, postpone, complete or reactivate",
                    action.chars().take(100).collect::<String>()
                ),
            ));
        };
        let now = app.now();
        let (reason, until) = match read_action(&req.body, status, now) {
            Ok(x) => x,
            Err(r) => return Ok(r),
        };
        let reason = reason.as_str();
        let subject = req.params.get("subject").map(String::as_str);
        let by = req
            .caller
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let (tenant, d) = match lookup(&app, &req).await {
            Ok(Named::Ours(t, d)) => (t, d),
            Ok(Named::Microsoft(t, id)) => {
                let act = microsoft_recommendations::Act {
                    action: &action,
                    reason,
                    until,
                    by: &by,
                };
                let answer = microsoft_recommendations::act(&app, &t, &id, subject, &act).await?;
                if answer.status == 200 {
                    inv.log(format!("{by} sent {action} on {id} to Graph"));
                    publish(&app, &t).await?;
                }
                return Ok(answer);
            }
            Err(r) => return Ok(r),
        };
        let act = recommend::lifecycle::Action {
            status,
            until,
            by: &by,
            reason,
        };
        let store = app.state()?;
        let Some(was) = store.act_on_recommendation(&tenant, d.kind, subject, &act, now)? else {
            let what = subject.map_or_else(
                || format!("{} has not been raised", d.kind),
                |s| {
                    format!(
                        "{} impacts no resource \"{}\"",
                        d.kind,
                        s.chars().take(100).collect::<String>()
                    )
                },
            );
            return Ok(HttpResponse::error(
                404,
                "NoSuchRecommendation",
                format!("{what} for tenant {tenant}"),
            ));
        };
        publish(&app, &tenant).await?;
        inv.log(format!(
            "{by} set {}{} from {was} to {status}",
            d.kind,
            subject
                .map(|s| format!(" resource {s}"))
                .unwrap_or_default()
        ));
        let answer = match subject {
            None => store
                .recommendations(&tenant)?
                .into_iter()
                .find(|s| s["recommendationType"] == d.kind)
                .map(|s| shaped(&tenant, d, &s)),
            Some(s) => {
                let one = shared::state::ResourceFilter {
                    status: None,
                    subject: Some(s.to_string()),
                };
                store
                    .impacted_resources_page(&tenant, d.kind, &one, 1, 0)?
                    .into_iter()
                    .next()
            }
        };
        Ok(HttpResponse::json(200, &answer.unwrap_or(Value::Null)))
    })
}

/// The OpenAPI paths of these endpoints.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    let kinds: Vec<&str> = recommend::rules().iter().map(|d| d.kind).collect();
    let enum_param = |name: &str, values: Vec<&str>, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string", "enum": values }, "description": description });
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "<tenant id>_entra-monitor.<recommendationType> (ours) or <tenant id>_Microsoft.Identity.IAM.Insights.<Name> (Microsoft's), as the listing gives it." });
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
            { "name": "type", "in": "query", "required": false, "schema": { "type": "string", "maxLength": 100 },
              "description": format!("Only this recommendationType: one of ours ({}) or of Microsoft's collected for the tenant.", kinds.join(", ")) },
            enum_param("source", SOURCES.to_vec(), "Ours, or Microsoft's."),
            enum_param("format", vec!["json", "csv"], "JSON (the default) or CSV (also with Accept: text/csv)."),
        ],
        "responses": { "200": { "description": "{tenant, value: [recommendation]}" }, "400": bad_request, "403": forbidden }
    } }));
    paths.insert("/api/recommendations/{id}".into(), json!({ "get": {
        "operationId": GET.name, "summary": GET.description, "parameters": [id],
        "responses": { "200": { "description": "The recommendation, with history." }, "400": bad_request, "403": forbidden, "404": missing }
    } }));
    let action = |what: &str| {
        json!({ "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": ACTIONS.iter().map(|a| a.0).collect::<Vec<_>>() },
                "description": format!("What to do with the {what}: dismiss, postpone (until postponeUntilDateTime), complete, reactivate.") })
    };
    let body = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["reason"], "properties": {
        "reason": { "type": "string", "maxLength": 1000, "description": "Why (kept in the history; dismissReason is taken too)." },
        "postponeUntilDateTime": { "type": "string", "format": "date-time", "description": "Until when, to postpone (at most a year ahead)." } } } } } });
    let mut no_such = missing.clone();
    no_such["description"] = json!("No such recommendation, resource or action.");
    paths.insert("/api/recommendations/{id}/{action}".into(), json!({ "post": {
        "operationId": ACT.name, "summary": ACT.description, "parameters": [id, action("recommendation")], "requestBody": body,
        "responses": { "200": { "description": "The recommendation after the action." }, "400": bad_request, "403": forbidden, "404": no_such }
    } }));
    let subject = json!({ "name": "subject", "in": "path", "required": true, "schema": { "type": "string" }, "description": "The resource's subjectId." });
    paths.insert("/api/recommendations/{id}/impacted-resources/{subject}/{action}".into(), json!({ "post": {
        "operationId": ACT_ON_RESOURCE.name, "summary": ACT_ON_RESOURCE.description, "parameters": [id, subject, action("resource")], "requestBody": body,
        "responses": { "200": { "description": "The resource after the action." }, "400": bad_request, "403": forbidden, "404": no_such }
    } }));
    paths.insert("/api/recommendations/{id}/impacted-resources".into(), json!({ "get": {
        "operationId": RESOURCES.name, "summary": RESOURCES.description,
        "parameters": [id, enum_param("status", lifecycle::STATUSES.to_vec(), "Only resources with this status."),
            { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": MAX_RESOURCES }, "description": "At most this many (1000, the most, by default)." },
            { "name": "offset", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": MAX_OFFSET }, "description": "From this one on (the answer's nextOffset)." },
            enum_param("format", vec!["json", "csv"], "JSON (the default) or CSV (nextOffset in the x-next-offset header).")],
        "responses": { "200": { "description": "{tenant, recommendationId, value: [impactedResource]}" }, "400": bad_request, "403": forbidden, "404": missing }
    } }));
}
