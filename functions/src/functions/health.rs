//! `health` (GET `/api/health`): the version, every function with its trigger, and the last
//! run of each timer function with its outcome and duration, collection per tenant and category,
//! destinations. Answers 503 when the state store cannot be read, naming the problem, so a probe
//! notices. An unauthenticated caller gets only the status and version.

use crate::app::App;
use crate::functions::{HttpResult, REGISTRY};
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use serde_json::{Value, json};
use shared::model::Destination;
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use shared::state::Checkpoints;
use shared::state::Outbox;
use shared::state::Runs;
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "health",
    description: "Version, functions, the last run of each timer function, collection and destinations.",
    trigger: Trigger::Http {
        route: "health",
        methods: &[Method::Get],
        auth: AuthLevel::Anonymous,
    },
};

pub fn run(app: Arc<App>, inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        // Destination figures (a spool listing) only for a caller who may see them.
        let destinations = match req.caller {
            Some(_) => destinations(&app).await,
            None => Value::Null,
        };
        let (status, mut body) = answer(&app, &inv, destinations, req.caller.is_some());
        match &req.caller {
            // An unauthenticated caller learns that the service is up and what it runs,
            // nothing about tenants, files or failures: no collection, destinations, run
            // details or reasons.
            None => {
                for key in [
                    "collection",
                    "inventory",
                    "destinations",
                    "source",
                    "reasons",
                ] {
                    body.as_object_mut().map(|o| o.remove(key));
                }
                body["state"] = json!({ "ok": body["state"]["ok"] });
                if let Some(fs) = body["functions"].as_array_mut() {
                    for f in fs {
                        if let Some(run) = f["last_run"].as_object_mut() {
                            run.remove("detail");
                        }
                    }
                }
                body["detail"] = json!(
                    "authenticate (x-api-key or Authorization: Bearer) to see collection and destinations"
                );
            }
            // A caller limited to some tenants sees only theirs.
            Some(c) if c.tenants.is_some() => {
                for key in ["collection", "inventory"] {
                    if let Some(rows) = body[key].as_array_mut() {
                        rows.retain(|r| r["tenant"].as_str().is_some_and(|t| c.may_read(t)));
                    }
                }
            }
            Some(_) => {}
        }
        Ok(HttpResponse::json(status, &body))
    })
}

/// Per destination: where it is, what is routed to it, and how delivery goes.
pub(crate) async fn destinations(app: &App) -> Value {
    let config = app.config();
    let state = app.state();
    let figures = state
        .as_ref()
        .ok()
        .and_then(|s| s.destination_health().ok())
        .unwrap_or_default();
    let outbox = state
        .as_ref()
        .ok()
        .and_then(|s| s.outbox_counts().ok())
        .unwrap_or_default();
    let (spooled, spool_error) = match app.router().await {
        Ok(router) => match router.spool().list().await {
            Ok(names) => (names, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut out = Vec::new();
    for d in Destination::ALL {
        let categories: Vec<&str> = config
            .routes
            .iter()
            .filter(|(_, ds)| ds.contains(&d))
            .map(|(c, _)| c.name())
            .collect();
        if categories.is_empty() {
            continue;
        }
        if d == Destination::Embedded {
            out.push(json!({
                "destination": d.name(),
                "categories": categories,
                "guarantee": "exactly once, in the page's transaction",
                "retention_days": config.destinations.retention_days,
            }));
            continue;
        }
        let f = figures.iter().find(|f| f.destination == d.name());
        let prefix = format!("batches/{}/", d.name());
        out.push(json!({
            "destination": d.name(),
            "categories": categories,
            "guarantee": if d == Destination::Storage { "exactly once (block ids, record ids)" } else { "at least once (dedupe on the record id)" },
            "last_success": f.and_then(|f| f.last_success),
            "last_error": f.and_then(|f| f.last_error.clone()),
            "last_error_at": f.and_then(|f| f.last_error_at),
            "batches_sent": f.map(|f| f.batches_sent).unwrap_or(0),
            "records_sent": f.map(|f| f.records_sent).unwrap_or(0),
            "bytes_sent": f.map(|f| f.bytes_sent).unwrap_or(0),
            "spooled_batches": spooled.iter().filter(|n| n.starts_with(&prefix)).count(),
            "spooled_total": f.map(|f| f.spooled_total).unwrap_or(0),
            "replayed_total": f.map(|f| f.replayed_total).unwrap_or(0),
            "dead_letters": f.map(|f| f.dead_letters).unwrap_or(0),
            "outbox_batches": outbox.get(d.name()).copied().unwrap_or(0),
        }));
    }
    json!({ "routes": out, "spool_error": spool_error })
}

/// Every function: a timer's schedule, next and last run; an HTTP function's route.
fn functions(
    app: &App,
    last_runs: &std::collections::BTreeMap<String, shared::state::RunRecord>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    REGISTRY
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
        .collect()
}

/// Why health is degraded: nothing when it is ok.
fn reasons(
    app: &App,
    state: &Value,
    unrecorded: &std::collections::BTreeMap<String, shared::state::RunRecord>,
    last_runs: &std::collections::BTreeMap<String, shared::state::RunRecord>,
    checkpoints: &[shared::state::Checkpoint],
    destinations: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    if let Some(e) = state["error"].as_str() {
        reasons.push(format!("state: {e}"));
    }
    if let Ok(store) = app.state()
        && let Some(Err(problem)) = store.integrity()
    {
        reasons.push(format!(
            "state: {} failed its integrity check ({problem}); restore it from a copy or move it aside (a new one is created)",
            store.path().display()
        ));
    }
    if !unrecorded.is_empty() {
        let names: Vec<&str> = unrecorded.keys().map(String::as_str).collect();
        reasons.push(format!(
            "state: the last run of {} could not be recorded (is the disk full?)",
            names.join(", ")
        ));
    }
    for (name, run) in last_runs {
        if run.outcome == shared::state::Outcome::Failed {
            reasons.push(format!("{name}: the last run failed: {}", run.detail));
        }
    }
    for c in checkpoints {
        if let Some(until) = c.paused_until.filter(|u| *u > now) {
            reasons.push(format!("{} {}: paused until {until}", c.tenant, c.category));
        } else if let Some(e) = &c.last_error {
            reasons.push(format!("{} {}: {e}", c.tenant, c.category));
        }
    }
    if let Some(routes) = destinations["routes"].as_array() {
        for d in routes {
            let failing = match (d["last_error_at"].as_str(), d["last_success"].as_str()) {
                (Some(err), Some(ok)) => err > ok,
                (Some(_), None) => true,
                _ => false,
            };
            if failing {
                reasons.push(format!(
                    "destination {}: {}",
                    d["destination"].as_str().unwrap_or_default(),
                    d["last_error"].as_str().unwrap_or("failing")
                ));
            }
        }
    }
    reasons
}

/// The whole health answer and its status: 200, or 503 (`degraded`, with the reasons) when
/// the state store cannot be read or failed its integrity check, a timer function's last run
/// failed, a category is paused or failing, or a destination's last delivery failed. The
/// stored-record counts (a count of the ledger) only for an authenticated caller: what anyone
/// may ask stays cheap whatever the store's size.
fn answer(app: &App, inv: &Invocation, destinations: Value, counted: bool) -> (u16, Value) {
    let now = app.now();
    let read = app.state().and_then(|s| {
        let counts = if counted {
            s.record_counts_all()?
        } else {
            Default::default()
        };
        Ok((
            (s.last_runs()?, s.checkpoints()?, counts),
            s.inventory_syncs()?,
        ))
    });
    let ((mut last_runs, checkpoints, counts), syncs, state) = match read {
        Ok((read, syncs)) => (read, syncs, json!({ "ok": true })),
        Err(e) => {
            tracing::warn!(error = %e, "health: state store unavailable");
            (
                Default::default(),
                Vec::new(),
                json!({ "ok": false, "error": e.to_string() }),
            )
        }
    };
    // Per tenant and kind of directory object: the last complete listing.
    let inventory: Vec<Value> = syncs
        .iter()
        .map(|r| json!({ "tenant": r[0], "kind": r[1], "listed_at": r[2], "objects": r[3] }))
        .collect();
    // A run the store could not record is newer than the stored one.
    let unrecorded = app.unrecorded_runs();
    for (name, run) in &unrecorded {
        last_runs.insert(name.clone(), run.clone());
    }
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
    let functions = functions(app, &last_runs, now);
    let reasons = reasons(
        app,
        &state,
        &unrecorded,
        &last_runs,
        &checkpoints,
        &destinations,
        now,
    );
    let ok = reasons.is_empty();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "reasons": reasons,
        "version": env!("CARGO_PKG_VERSION"),
        "host": inv.host,
        "time": now,
        "source": if app.config().uses_simulated_tenant() { "simulated tenant" } else { "Microsoft Graph" },
        "state": state,
        "functions": functions,
        "collection": collection,
        "inventory": inventory,
        "destinations": destinations,
    });
    (if ok { 200 } else { 503 }, body)
}
