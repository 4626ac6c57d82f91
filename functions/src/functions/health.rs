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
    let (last_runs, state) = match app.state().and_then(|s| s.last_runs()) {
        Ok(runs) => (runs, json!({ "ok": true })),
        Err(e) => {
            tracing::warn!(error = %e, "health: state store unavailable");
            (
                Default::default(),
                json!({ "ok": false, "error": e.to_string() }),
            )
        }
    };
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
    });
    HttpResponse::json(if ok { 200 } else { 503 }, &body)
}
