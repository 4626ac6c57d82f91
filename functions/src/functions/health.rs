//! `health` (GET `/api/health`): the version, every function with its trigger, and the last
//! run of each timer function with its outcome and duration. Answers 503 when the state store
//! cannot be read, naming the problem, so a probe notices.

use crate::app::App;
use crate::functions::{HttpResult, REGISTRY};
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use serde_json::{Value, json};
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use shared::state::StateStore;
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "health",
    description: "Version, functions, and the last run of each timer function.",
    trigger: Trigger::Http {
        route: "health",
        methods: &[Method::Get],
        auth: AuthLevel::Anonymous,
    },
};

pub fn run(app: Arc<App>, inv: Invocation, _req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { Ok(answer(&app, &inv)) })
}

fn answer(app: &App, inv: &Invocation) -> HttpResponse {
    let now = app.now();
    let read = app
        .state()
        .and_then(|s| Ok((s.last_runs()?, s.checkpoints()?, s.record_counts_all()?)));
    let (last_runs, checkpoints, counts, state) = match read {
        Ok((runs, checkpoints, counts)) => (runs, checkpoints, counts, json!({ "ok": true })),
        Err(e) => {
            tracing::warn!(error = %e, "health: state store unavailable");
            (
                Default::default(),
                Vec::new(),
                Default::default(),
                json!({ "ok": false, "error": e.to_string() }),
            )
        }
    };
    // Per tenant and category: where collection stands and how the last run went.
    let collection: Vec<Value> = checkpoints
        .iter()
        .map(|c| {
            json!({
                "tenant": c.tenant,
                "category": c.category,
                "watermark": c.watermark,
                "lag_seconds": c.watermark.map(|w| (now - w).num_seconds()),
                "stored_records": counts.get(&(c.tenant.clone(), c.category.clone())).copied().unwrap_or(0),
                "last_run_at": c.last_run_at,
                "last_window": { "from": c.window_from, "to": c.window_to },
                "records_last_run": c.records_last_run,
                "new_last_run": c.new_last_run,
                "requests_last_run": c.requests_last_run,
                "throttled_last_run": c.throttled_last_run,
                "rejected_total": c.rejected_total,
                "schema_drift_total": c.drift_total,
                "last_error": c.last_error,
                "paused_until": c.paused_until,
            })
        })
        .collect();
    let functions: Vec<Value> = REGISTRY
        .iter()
        .map(|f| match &f.spec.trigger {
            Trigger::Timer { .. } => {
                let schedule = app.schedule_of(f.spec);
                json!({
                    "name": f.spec.name,
                    "description": f.spec.description,
                    "trigger": "timer",
                    "schedule": schedule.as_str(),
                    "next_run": schedule.next_after(now),
                    "running": app.is_running(f.spec.name),
                    "last_run": last_runs.get(f.spec.name),
                })
            }
            Trigger::Http {
                route,
                methods,
                auth,
            } => json!({
                "name": f.spec.name,
                "description": f.spec.description,
                "trigger": "http",
                "route": format!("/api/{route}"),
                "methods": methods,
                "auth_level": auth.as_str(),
            }),
        })
        .collect();
    let ok = state["ok"] == json!(true);
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "host": inv.host,
        "time": now,
        "source": if app.config().uses_simulated_tenant() { "simulated tenant" } else { "Microsoft Graph" },
        "state": state,
        "functions": functions,
        "collection": collection,
    });
    HttpResponse::json(if ok { 200 } else { 503 }, &body)
}
