//! The Azure Functions custom handler (<https://learn.microsoft.com/en-us/azure/azure-functions/functions-custom-handlers>).
//!
//! The Functions host starts this process, waits for it to listen on
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, and then:
//! - POSTs the invocation envelope `{"Data": ..., "Metadata": ...}` to `/{FunctionName}` for
//!   timer functions (and for HTTP functions if forwarding is off); we answer
//!   `{"Outputs": ..., "Logs": [...], "ReturnValue": ...}` — 200 when the function succeeded,
//!   500 when it failed, so the host records the failure (it discards outputs on non-2xx);
//! - forwards the caller's request unchanged to `/api/...` for HTTP functions, because
//!   `host.json` sets `enableForwardingHttpRequest` (why: `docs/azure-http-forwarding.md`);
//! - pings `GET /` to see whether we are up.

use crate::app::App;
use crate::functions::{self, Handler};
use crate::hosts::http::{self, MAX_BODY};
use crate::invocation::{HttpRequest, HttpResponse, TimerInfo};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::Filter;
use warp::http::HeaderMap;

/// Serves the custom handler on 127.0.0.1:`port` until the process is told to stop.
pub async fn serve(app: Arc<App>, port: u16) -> anyhow::Result<()> {
    let listener = http::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    tracing::info!(port, "custom handler listening");
    let limits = app.config().http.clone();
    http::serve(listener, routes(app.clone()), limits, app.shutdown_signal()).await;
    Ok(())
}

/// Every route the Functions host calls.
pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let ping = warp::get().and(warp::path::end()).map(|| {
        http::into_reply(HttpResponse::json(
            200,
            &json!({ "status": "ok", "handler": "entra-monitor" }),
        ))
    });
    let envelope = {
        let app = app.clone();
        warp::post()
            .and(warp::path::param::<String>())
            .and(warp::path::end())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(move |name: String, headers: HeaderMap, body| {
                let app = app.clone();
                async move {
                    let headers = http::header_map(&headers);
                    let id = http::invocation_id(&headers);
                    let wait = app.config().http.body_timeout;
                    let read = http::read_body(Box::pin(body), MAX_BODY);
                    let read = tokio::time::timeout(wait, read)
                        .await
                        .unwrap_or(Err(http::BodyError::TimedOut(wait.as_secs())));
                    let resp = match read {
                        Ok(body) => invoke(&app, &name, &body, id).await,
                        Err(e) => envelope(
                            http::body_error_response(&e).status,
                            None,
                            vec![e.to_string()],
                        ),
                    };
                    Ok::<_, Infallible>(http::into_reply(resp))
                }
            })
    };
    http::api(app)
        .or(envelope)
        .unify()
        .or(ping)
        .unify()
        .or(http::not_found())
        .unify()
}

/// The host's answer envelope (<https://learn.microsoft.com/en-us/azure/azure-functions/functions-custom-handlers#response-payload>).
fn envelope(status: u16, res: Option<Value>, logs: Vec<String>) -> HttpResponse {
    let outputs = match res {
        Some(res) => json!({ "res": res }),
        None => json!({}),
    };
    HttpResponse::json(
        status,
        &json!({ "Outputs": outputs, "Logs": logs, "ReturnValue": null }),
    )
}

/// Handles one envelope POSTed to `/{name}`.
pub async fn invoke(app: &Arc<App>, name: &str, body: &Bytes, id: String) -> HttpResponse {
    let Some(function) = functions::find(name) else {
        let msg = format!(
            "no function named \"{name}\"; this handler serves {}",
            names()
        );
        tracing::error!(invocation_id = %id, "{msg}");
        return envelope(404, None, vec![msg]);
    };
    let payload: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request(&id, "the invocation body is JSON but not an object; expected {\"Data\": {...}, \"Metadata\": {...}}".into()),
        Err(e) => return bad_request(&id, format!("the invocation body is not JSON ({e}); expected {{\"Data\": {{...}}, \"Metadata\": {{...}}}}")),
    };
    match function.handler {
        Handler::Timer(_) => {
            let timer = match parse_timer(&payload) {
                Ok(t) => t,
                Err(e) => return bad_request(&id, e),
            };
            match app.invoke_timer(function.spec.name, timer, id).await {
                Ok(report) => envelope(200, None, report.logs),
                Err(e) => envelope(500, None, e.logs()),
            }
        }
        Handler::Http(_) => {
            let req = match parse_http(&payload) {
                Ok(r) => r,
                Err(e) => return bad_request(&id, e),
            };
            // Let in like a forwarded request: our own credentials apply here too.
            let answered = app.handle_http_logged(req, id).await;
            if answered.failed {
                envelope(500, None, answered.logs)
            } else {
                envelope(200, Some(http_output(&answered.resp)), answered.logs)
            }
        }
    }
}

fn names() -> String {
    functions::REGISTRY
        .iter()
        .map(|f| f.spec.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bad_request(id: &str, msg: String) -> HttpResponse {
    tracing::error!(invocation_id = %id, "{msg}");
    envelope(400, None, vec![msg])
}

/// The trigger's value in `Data`: the named binding if present, else the only value there.
/// `None` when the binding is absent or null.
fn binding<'a>(
    payload: &'a Value,
    preferred: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    let data = payload
        .get("Data")
        .and_then(Value::as_object)
        .ok_or("the invocation has no \"Data\" object; expected {\"Data\": {\"<binding>\": {...}}, \"Metadata\": {...}}")?;
    let value = data.get(preferred).or_else(|| {
        if data.len() == 1 {
            data.values().next()
        } else {
            None
        }
    });
    match value {
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(format!("Data.{preferred} is missing or not an object")),
    }
}

/// Reads `TimerInfo` from the envelope. `ScheduleStatus` may be null or absent (first run,
/// or `useMonitor: false`); an empty `Data` is accepted as a plain occurrence.
pub fn parse_timer(payload: &Value) -> Result<TimerInfo, String> {
    let Some(info) = binding(payload, "timer")? else {
        return Ok(TimerInfo::default());
    };
    let past_due = match info.get("IsPastDue") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "Data.timer.IsPastDue is {other}; expected true or false"
            ));
        }
    };
    let status = info.get("ScheduleStatus").and_then(Value::as_object);
    let field = |k: &str| {
        status
            .and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .map(String::from)
    };
    Ok(TimerInfo {
        past_due,
        last: field("Last"),
        next: field("Next"),
    })
}

/// Reads the HTTP request from the envelope. `Query` may be an object or a JSON-encoded string
/// (older hosts); `Headers` values are arrays of strings (or plain strings).
pub fn parse_http(payload: &Value) -> Result<HttpRequest, String> {
    let req = binding(payload, "req")?.ok_or("Data.req is missing or not an object")?;
    let method = req
        .get("Method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let url = req.get("Url").and_then(Value::as_str).unwrap_or_default();
    let query = match req.get("Query") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(o)) => string_map(o, "Query")?,
        Some(Value::String(s)) if s.trim().is_empty() => BTreeMap::new(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => string_map(&o, "Query")?,
            _ => {
                return Err(format!(
                    "Data.req.Query is the string {s:?}, which is not a JSON object"
                ));
            }
        },
        Some(other) => {
            return Err(format!(
                "Data.req.Query is {other}; expected an object or a JSON string"
            ));
        }
    };
    let mut headers = BTreeMap::new();
    match req.get("Headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                let joined = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(String::from).ok_or(()))
                        .collect::<Result<Vec<_>, _>>()
                        .map(|vs| vs.join(", "))
                        .map_err(|_| {
                            format!("Data.req.Headers.{k} holds a value that is not a string")
                        })?,
                    Value::String(s) => s.clone(),
                    _ => {
                        return Err(format!(
                            "Data.req.Headers.{k} is {v}; expected an array of strings"
                        ));
                    }
                };
                headers.insert(k.to_ascii_lowercase(), joined);
            }
        }
        Some(other) => {
            return Err(format!(
                "Data.req.Headers is {other}; expected an object of arrays of strings"
            ));
        }
    }
    let params = match req.get("Params") {
        Some(Value::Object(o)) => string_map(o, "Params")?,
        _ => BTreeMap::new(),
    };
    let body = match req.get("Body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    if body.len() > MAX_BODY {
        return Err(format!("Data.req.Body is larger than {MAX_BODY} bytes"));
    }
    Ok(HttpRequest {
        method,
        path: api_path(url),
        query,
        headers,
        params,
        body,
        caller: None,
    })
}

fn string_map(o: &Map<String, Value>, what: &str) -> Result<BTreeMap<String, String>, String> {
    o.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Null => Ok((k.clone(), String::new())),
            Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
            _ => Err(format!("Data.req.{what}.{k} is {v}; expected a string")),
        })
        .collect()
}

/// `http://host:7071/api/reports/x?y=1` → `reports/x`.
fn api_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_start_matches('/');
    path.strip_prefix("api/")
        .or_else(|| if path == "api" { Some("") } else { None })
        .unwrap_or(path)
        .to_string()
}

/// The `res` output binding; all four fields, as some host builds require.
fn http_output(resp: &HttpResponse) -> Value {
    json!({
        "statusCode": resp.status,
        "status": resp.status,
        "headers": resp.headers,
        "body": resp.body_text(),
    })
}

/// Writes `<dir>/<FunctionName>/function.json` for every registered function.
pub fn write_layout(dir: &std::path::Path) -> std::io::Result<()> {
    for f in functions::REGISTRY.iter() {
        let folder = dir.join(f.spec.name);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("function.json"), function_json_text(f.spec))?;
    }
    Ok(())
}

/// The exact text of a function's `function.json` (pretty JSON and a final newline).
pub fn function_json_text(spec: &shared::registry::FunctionSpec) -> String {
    let mut text = serde_json::to_string_pretty(&spec.function_json()).unwrap_or_default();
    text.push('\n');
    text
}

/// Compares the `function.json` files under `dir` with the registry; returns one line per
/// disagreement (missing, different, or a folder for a function that does not exist).
pub fn check_layout(dir: &std::path::Path) -> Vec<String> {
    let mut problems = Vec::new();
    for f in functions::REGISTRY.iter() {
        let path = dir.join(f.spec.name).join("function.json");
        match std::fs::read_to_string(&path) {
            Err(e) => problems.push(format!(
                "{}: cannot read ({e}); the registry has function {}",
                path.display(),
                f.spec.name
            )),
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Err(e) => problems.push(format!("{}: not JSON ({e})", path.display())),
                Ok(v) if v != f.spec.function_json() => problems.push(format!(
                    "{}: differs from the registry; expected {}",
                    path.display(),
                    f.spec.function_json()
                )),
                Ok(_) => {}
            },
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join("function.json").exists() && functions::find(&name).is_none() {
                problems.push(format!(
                    "{}: the registry has no function \"{name}\"",
                    entry.path().display()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_payloads_with_and_without_schedule_status() {
        let with = json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true},
            "ScheduleStatus": {"Last": "2026-11-27T10:00:00+00:00", "Next": "2026-11-27T10:05:00+00:00", "LastUpdated": "x"},
            "IsPastDue": true}}, "Metadata": {}});
        let t = parse_timer(&with).unwrap();
        assert!(t.past_due);
        assert_eq!(t.next.as_deref(), Some("2026-11-27T10:05:00+00:00"));
        let without = json!({"Data": {"myTimer": {"ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
        assert_eq!(parse_timer(&without).unwrap(), TimerInfo::default());
        assert_eq!(
            parse_timer(&json!({"Data": {}, "Metadata": {}})).unwrap(),
            TimerInfo::default()
        );
        assert!(
            parse_timer(&json!({"Metadata": {}}))
                .unwrap_err()
                .contains("no \"Data\" object")
        );
        assert!(
            parse_timer(&json!({"Data": {"timer": {"IsPastDue": "yes"}}}))
                .unwrap_err()
                .contains("IsPastDue")
        );
    }

    #[test]
    fn http_payloads_with_query_as_object_or_string() {
        let obj = json!({"Data": {"req": {"Url": "http://localhost:7071/api/health?x=1", "Method": "GET",
            "Query": {"x": "1"}, "Headers": {"Accept": ["application/json"], "X-Multi": ["a", "b"]},
            "Params": {}, "Body": null}}, "Metadata": {}});
        let r = parse_http(&obj).unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "health"));
        assert_eq!(r.query["x"], "1");
        assert_eq!(r.headers["accept"], "application/json");
        assert_eq!(r.headers["x-multi"], "a, b");
        let s = json!({"Data": {"req": {"Url": "https://app.azurewebsites.net/api/health", "Method": "get",
            "Query": "{\"last\":\"7d\"}", "Headers": {}, "Body": "{\"id\":1}"}}, "Metadata": {}});
        let r = parse_http(&s).unwrap();
        assert_eq!(r.query["last"], "7d");
        assert_eq!(r.method, "GET");
        assert_eq!(&r.body[..], b"{\"id\":1}");
        let bad = json!({"Data": {"req": {"Query": "x=1"}}});
        assert!(parse_http(&bad).unwrap_err().contains("Query"));
    }

    #[test]
    fn api_paths_are_taken_from_urls() {
        assert_eq!(api_path("http://localhost:7071/api/health?x=1"), "health");
        assert_eq!(
            api_path("http://localhost/api/reports/risky-users"),
            "reports/risky-users"
        );
        assert_eq!(api_path("/api/health"), "health");
        assert_eq!(api_path(""), "");
    }
}
