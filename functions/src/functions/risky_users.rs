//! Risky users: `GET /api/risk/users` lists each user's level, state and history (our
//! detections, Microsoft's, password resets, people's actions); `POST
//! /api/risk/users/dismiss` and `/api/risk/users/confirm-compromised` with
//! `{"user": "...", "reason": "..."}` record who did it, when and why (the audit trail) and
//! change the state. Authenticated and limited to the caller's tenants.

use crate::app::App;
use crate::functions::HttpResult;
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use crate::request::tenant;
use serde_json::{Value, json};
use shared::query::params;
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use shared::source::graph::GraphError;
use shared::state::RiskStore;
use std::sync::Arc;

pub static LIST: FunctionSpec = FunctionSpec {
    name: "risky-users",
    description: "Risky users: level, state and history.",
    trigger: Trigger::Http {
        route: "risk/users",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static ACT: FunctionSpec = FunctionSpec {
    name: "risky-user-action",
    description: "Dismiss a user's risk or confirm them compromised (recorded: who, when, why).",
    trigger: Trigger::Http {
        route: "risk/users/{action}",
        methods: &[Method::Post],
        auth: AuthLevel::Function,
    },
};

fn bad(parameter: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::error(
        400,
        "BadParameter",
        format!("{parameter}: {}", message.into()),
    )
}

/// The tenant's risky users as of now.
async fn users(
    app: &App,
    tenant: &str,
) -> Result<Vec<shared::detect::risky::RiskyUser>, crate::invocation::FunctionError> {
    let retention = chrono::Duration::days(app.config().destinations.retention_days as i64);
    let store = app.state()?;
    Ok(shared::detect::risky::current(
        &store,
        tenant,
        app.now(),
        retention,
    )?)
}

pub fn list(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        for k in req.query.keys() {
            if !["tenant", "state", "user"].contains(&k.as_str()) {
                return Ok(bad(
                    k,
                    "unknown parameter; expected one of tenant, state, user",
                ));
            }
        }
        let asked = match params::text(&req.query, "tenant") {
            Ok(t) => t,
            Err(e) => return Ok(bad(&e.parameter, e.message)),
        };
        let tenant = match tenant(&app, &req, asked.as_deref()).await {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let state = req.query.get("state").cloned();
        if let Some(s) = &state
            && !["atRisk", "confirmedCompromised", "dismissed", "remediated"].contains(&s.as_str())
        {
            return Ok(bad(
                "state",
                format!(
                    "\"{s}\" is not a state; expected atRisk, confirmedCompromised, dismissed or remediated"
                ),
            ));
        }
        let user = req.query.get("user").map(|u| u.to_ascii_lowercase());
        let list: Vec<_> = users(&app, &tenant)
            .await?
            .into_iter()
            .filter(|u| state.as_deref().is_none_or(|s| u.state == s))
            .filter(|u| user.as_deref().is_none_or(|x| u.user == x))
            .collect();
        Ok(HttpResponse::json(
            200,
            &json!({ "tenant": tenant, "users": list }),
        ))
    })
}

pub fn act(app: Arc<App>, inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        let action = match req.params.get("action").map(String::as_str) {
            Some("dismiss") => "dismiss",
            Some("confirm-compromised") => "confirmCompromised",
            other => {
                return Ok(HttpResponse::error(
                    404,
                    "NoSuchAction",
                    format!(
                        "no action \"{}\"; expected dismiss or confirm-compromised",
                        other.unwrap_or("")
                    ),
                ));
            }
        };
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => {
                return Ok(bad(
                    "body",
                    "is not JSON; expected {\"user\": \"...\", \"reason\": \"...\"}",
                ));
            }
        };
        let (Some(user), Some(reason)) = (body["user"].as_str(), body["reason"].as_str()) else {
            return Ok(bad(
                "body",
                "needs user and reason, e.g. {\"user\": \"adele@contoso.com\", \"reason\": \"known pen test\"}",
            ));
        };
        if reason.trim().is_empty() || reason.len() > 1000 {
            return Ok(bad("reason", "must say why, in at most 1000 characters"));
        }
        let tenant = match tenant(&app, &req, body["tenant"].as_str()).await {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        if !users(&app, &tenant)
            .await?
            .iter()
            .any(|u| u.user.eq_ignore_ascii_case(user))
        {
            return Ok(HttpResponse::error(
                404,
                "NotRisky",
                format!("{user} has no risk to act on in tenant {tenant}"),
            ));
        }
        let actor = req
            .caller
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let now = app.now();
        app.state()?
            .record_risk_action(&tenant, user, action, &actor, reason.trim(), now)?;
        tracing::info!(tenant, user, action, actor, "risk action recorded");
        crate::functions::detect_risks::publish_risk(&app, &tenant, &[]).await?;
        let graph = if app.config().risk_write_back {
            let result = write_back(&app, &tenant, user, action).await;
            match &result {
                Ok(()) => inv.log(format!("{action} for {user} written back to Graph")),
                Err(e) => inv.log(format!(
                    "{action} for {user} not written back to Graph: {e}"
                )),
            }
            match result {
                Ok(()) => json!({ "written_back": true }),
                Err(e) => json!({ "written_back": false, "error": e }),
            }
        } else {
            json!({ "written_back": false, "error": "write-back is off (ENTRA_MONITOR_RISK_WRITE_BACK)" })
        };
        inv.log(format!("{actor} recorded {action} for {user}"));
        let after = users(&app, &tenant)
            .await?
            .into_iter()
            .find(|u| u.user.eq_ignore_ascii_case(user));
        let mut answer = json!(after);
        answer["graph"] = graph;
        Ok(HttpResponse::json(200, &answer))
    })
}

/// Sends the action to Graph (`identityProtection/riskyUsers/dismiss` or
/// `confirmCompromised`) for the user's object id, as the tenant's Identity Protection client.
async fn write_back(app: &App, tenant: &str, user: &str, action: &str) -> Result<(), String> {
    let id = app
        .state()
        .map_err(|e| e.to_string())?
        .user_object_id(tenant, user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("no object id known for {user} (none of its sign-ins or risky-user records collected)")
        })?;
    let sources = app.sources().await.map_err(|e| e.to_string())?;
    let source = sources
        .iter()
        .find(|t| t.reports.tenant == tenant)
        .map(|t| &t.identity_protection)
        .ok_or_else(|| format!("tenant {tenant} has no Graph source"))?;
    let url = format!(
        "{}/v1.0/identityProtection/riskyUsers/{action}",
        source.graph_base
    );
    source
        .client
        .post(
            &url,
            &json!({ "userIds": [id] }),
            &mut Default::default(),
        )
        .await
        .map_err(|e| match e {
            GraphError::Refused {
                status, code, message, ..
            }
            | GraphError::Rejected {
                status, code, message,
            } if status == 401 || status == 403 => format!(
                "Graph refused with {status} ({code}): {message}; the app needs IdentityRiskyUser.ReadWrite.All with admin consent"
            ),
            e => e.to_string(),
        })
}
