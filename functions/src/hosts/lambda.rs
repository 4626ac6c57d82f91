//! AWS Lambda (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>). One deployment package serves every function:
//! - an EventBridge scheduled event (or an EventBridge Scheduler target whose input is
//!   `{"function": "<name>"}`) runs the timer function named in the event, or else the one
//!   named by `ENTRA_MONITOR_LAMBDA_FUNCTION`;
//! - a Function URL or API Gateway HTTP API (payload format 2.0) event runs the HTTP function
//!   whose route matches the path (`/api/health` or `/health`).
//!
//! A failed timer function returns an error, which the runtime reports to Lambda through
//! `/invocation/{id}/error`; a failed HTTP function answers 500.

use crate::app::App;
use crate::invocation::{HttpRequest, HttpResponse, TimerInfo};
use base64::Engine;
use bytes::Bytes;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Environment variables Lambda always sets; the runtime crate panics without them.
const REQUIRED_ENV: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Checks that the process runs under a Lambda runtime, naming what is missing.
pub fn check_environment() -> Result<(), String> {
    let missing: Vec<&str> = REQUIRED_ENV
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not running under AWS Lambda: {} not set; to run locally use `entra-monitor serve`",
            missing.join(", ")
        ))
    }
}

/// Polls the Runtime API for events until the process is stopped.
pub async fn serve(
    app: Arc<App>,
    default_function: Option<String>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        let default_function = default_function.clone();
        async move {
            handle(
                &app,
                event.payload,
                event.context.request_id,
                default_function.as_deref(),
            )
            .await
        }
    }))
    .await
}

/// Handles one event. HTTP events always answer (errors become 4xx/5xx responses); timer
/// events return an error when the function failed.
pub async fn handle(
    app: &Arc<App>,
    event: Value,
    request_id: String,
    default_function: Option<&str>,
) -> Result<Value, lambda_runtime::Error> {
    if event.pointer("/requestContext/http").is_some() {
        let resp = match parse_http(&event) {
            Ok(req) => app.handle_http(req, request_id).await,
            Err(msg) => HttpResponse::error(400, "BadRequest", msg),
        };
        return Ok(http_response(&resp));
    }
    let name = event
        .get("function")
        .or_else(|| event.pointer("/detail/function"))
        .and_then(Value::as_str)
        .or(default_function)
        .ok_or("the event names no function (set \"function\" in the event or detail) and ENTRA_MONITOR_LAMBDA_FUNCTION is not set")?;
    let report = app
        .invoke_timer(name, TimerInfo::default(), request_id)
        .await?;
    Ok(json!({
        "function": name,
        "outcome": report.outcome,
        "detail": report.detail,
        "duration_ms": report.duration_ms,
    }))
}

/// Reads a payload-format-2.0 HTTP event.
fn parse_http(event: &Value) -> Result<HttpRequest, String> {
    let method = event
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let raw_path = event.get("rawPath").and_then(Value::as_str).unwrap_or("/");
    let path = raw_path.trim_start_matches('/');
    let path = path
        .strip_prefix("api/")
        .or_else(|| if path == "api" { Some("") } else { None })
        .unwrap_or(path);
    let query = super::http::parse_query(
        event
            .get("rawQueryString")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )?;
    let headers: BTreeMap<String, String> = event
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let body = match event.get("body").and_then(Value::as_str) {
        None => Bytes::new(),
        Some(b)
            if event
                .get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false) =>
        {
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("the body is marked base64 but is not: {e}"))?,
            )
        }
        Some(b) => Bytes::from(b.to_string()),
    };
    if body.len() > super::http::MAX_BODY {
        return Err(format!(
            "the request body is larger than {} bytes",
            super::http::MAX_BODY
        ));
    }
    Ok(HttpRequest {
        method,
        path: path.to_string(),
        query,
        headers,
        params: BTreeMap::new(),
        body,
        caller: None,
    })
}

/// The payload-format-2.0 response; binary bodies are sent base64-encoded.
fn http_response(resp: &HttpResponse) -> Value {
    let (body, base64) = match std::str::from_utf8(&resp.body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&resp.body),
            true,
        ),
    };
    json!({ "statusCode": resp.status, "headers": resp.headers, "body": body, "isBase64Encoded": base64 })
}
