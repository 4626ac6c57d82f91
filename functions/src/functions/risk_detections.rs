//! `risk-detections` (GET `/api/risk/detections`): our detections and Microsoft's (the
//! collected `AADUserRiskEvents`), newest first, with the evidence of ours; `risky-sign-ins`
//! (GET `/api/risk/signins`): the sign-ins our detections name and those Microsoft rated at
//! risk, with both ratings. Authenticated and limited to the caller's tenants like the question
//! endpoints.

use crate::app::App;
use crate::functions::HttpResult;
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use serde_json::Value;
use shared::query::Answer;
use shared::query::params;
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use shared::state::RiskStore;
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "risk-detections",
    description: "Risk detections, ours (with evidence) and Microsoft's, newest first.",
    trigger: Trigger::Http {
        route: "risk/detections",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

pub static SIGN_INS: FunctionSpec = FunctionSpec {
    name: "risky-sign-ins",
    description: "Risky sign-ins: those our detections name and those Microsoft rated at risk, newest first.",
    trigger: Trigger::Http {
        route: "risk/signins",
        methods: &[Method::Get],
        auth: AuthLevel::Function,
    },
};

const OWN: &[&str] = &["user", "source"];

#[derive(Clone, Copy, PartialEq)]
enum Listing {
    Detections,
    SignIns,
}

pub fn run(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { answer(&app, req, Listing::Detections).await })
}

pub fn sign_ins(app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { answer(&app, req, Listing::SignIns).await })
}

async fn answer(app: &App, req: HttpRequest, listing: Listing) -> HttpResult {
    let bad = |e: params::ParamError| HttpResponse::error(400, "BadParameter", e.to_string());
    let retention = chrono::Duration::days(app.config().destinations.retention_days as i64);
    let accept_csv = req
        .headers
        .get("accept")
        .is_some_and(|a| a.contains("text/csv"));
    let c = match params::common(
        &req.query,
        OWN,
        app.now(),
        chrono::Duration::days(7),
        retention,
        accept_csv,
        app.cursor_key(),
    ) {
        Ok(c) => c,
        Err(e) => return Ok(bad(e)),
    };
    let user = match params::text(&req.query, "user") {
        Ok(u) => u.map(|u| u.to_ascii_lowercase()),
        Err(e) => return Ok(bad(e)),
    };
    let source = match params::text(&req.query, "source") {
        Ok(None) => None,
        Ok(Some(s)) if s == "entra-monitor" || s == "Microsoft" => Some(s),
        Ok(Some(s)) => {
            return Ok(bad(params::ParamError {
                parameter: "source".into(),
                message: format!("\"{s}\" is not a source; expected entra-monitor or Microsoft"),
            }));
        }
        Err(e) => return Ok(bad(e)),
    };
    let tenant = match crate::functions::questions::tenant(app, &req, c.tenant.as_deref()).await {
        Ok(t) => t,
        Err(r) => return Ok(r),
    };
    let store = app.state()?;
    let (columns, mut rows, name, user_at): (&[&str], Vec<Vec<Value>>, _, usize) = match listing {
        Listing::Detections => {
            let mut rows: Vec<Vec<Value>> = Vec::new();
            if source.as_deref() != Some("Microsoft") {
                let ours = store.risk_detections(&tenant, c.from, c.to)?;
                rows.extend(ours.into_iter().map(|mut r| {
                    r[8] =
                        serde_json::from_str(r[8].as_str().unwrap_or("[]")).unwrap_or(Value::Null);
                    r
                }));
            }
            if source.as_deref() != Some("entra-monitor") {
                rows.extend(store.microsoft_detections(&tenant, c.from, c.to)?);
            }
            rows.sort_by(|a, b| {
                b[5].as_str()
                    .cmp(&a[5].as_str())
                    .then(a[1].as_str().cmp(&b[1].as_str()))
            });
            (&DETECTION_COLUMNS[..], rows, "risk-detections", 3)
        }
        Listing::SignIns => {
            let mut rows = store.risky_sign_ins(&tenant, c.from, c.to)?;
            if let Some(s) = &source {
                rows.retain(|r| r[10].as_array().is_some_and(|x| x.iter().any(|v| v == s)));
            }
            (&SIGN_IN_COLUMNS[..], rows, "risky-sign-ins", 2)
        }
    };
    if let Some(u) = &user {
        rows.retain(|r| {
            r[user_at]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(u))
        });
    }
    let more = rows.len() > c.offset + c.limit;
    let page: Vec<Vec<Value>> = rows.into_iter().skip(c.offset).take(c.limit).collect();
    let a = Answer {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: page,
        summary: None,
        next_offset: more.then_some(c.offset + c.limit),
    };
    let next = a
        .next_offset
        .map(|o| params::cursor(o, &req.query, app.cursor_key()));
    Ok(crate::functions::questions::respond(
        name, &tenant, &c, &a, next, None,
    ))
}

const DETECTION_COLUMNS: [&str; 10] = [
    "source",
    "name",
    "risk_level",
    "user",
    "ip",
    "first_seen",
    "last_seen",
    "evidence",
    "record_ids",
    "state",
];

const SIGN_IN_COLUMNS: [&str; 12] = [
    "id",
    "time",
    "user",
    "ip",
    "location",
    "app",
    "result",
    "risk_level",
    "microsoft_risk_level",
    "risk_state",
    "sources",
    "detections",
];
