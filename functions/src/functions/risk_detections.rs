//! `risk-detections` (GET `/api/risk/detections`): our detections and Microsoft's (the
//! collected `AADUserRiskEvents`), newest first, with the evidence of ours; `risky-sign-ins`
//! (GET `/api/risk/signins`): the sign-ins our detections name and those Microsoft rated at
//! risk, with both ratings. Authenticated and limited to the caller's tenants like the question
//! endpoints.

use crate::app::App;
use crate::functions::HttpResult;
use crate::invocation::{BoxFuture, HttpRequest, Invocation};
use crate::request::{Read, bad_request};
use serde_json::Value;
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
    let read = match Read::resolve(app, &req, OWN, 7).await {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let user = match params::text(&req.query, "user") {
        Ok(u) => u.map(|u| u.to_ascii_lowercase()),
        Err(e) => return Ok(bad_request(&e)),
    };
    let source = match params::text(&req.query, "source") {
        Ok(None) => None,
        Ok(Some(s)) if s == "entra-monitor" || s == "Microsoft" => Some(s),
        Ok(Some(s)) => {
            return Ok(bad_request(&params::ParamError {
                parameter: "source".into(),
                message: format!("\"{s}\" is not a source; expected entra-monitor or Microsoft"),
            }));
        }
        Err(e) => return Ok(bad_request(&e)),
    };
    let (c, tenant) = (&read.common, &read.tenant);
    let store = app.state()?;
    let (columns, mut rows, name, user_at): (&[&str], Vec<Vec<Value>>, _, usize) = match listing {
        Listing::Detections => {
            let mut rows: Vec<Vec<Value>> = Vec::new();
            if source.as_deref() != Some("Microsoft") {
                let ours = store.risk_detections(tenant, c.from, c.to)?;
                rows.extend(ours.into_iter().map(|mut r| {
                    r[8] =
                        serde_json::from_str(r[8].as_str().unwrap_or("[]")).unwrap_or(Value::Null);
                    r
                }));
            }
            if source.as_deref() != Some("entra-monitor") {
                rows.extend(store.microsoft_detections(tenant, c.from, c.to)?);
            }
            rows.sort_by(|a, b| {
                b[5].as_str()
                    .cmp(&a[5].as_str())
                    .then(a[1].as_str().cmp(&b[1].as_str()))
            });
            (&DETECTION_COLUMNS[..], rows, "risk-detections", 3)
        }
        Listing::SignIns => {
            let mut rows = store.risky_sign_ins(tenant, c.from, c.to)?;
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
    let a = read.page(columns, rows);
    Ok(read.respond(app, &req, name, &a, None))
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
