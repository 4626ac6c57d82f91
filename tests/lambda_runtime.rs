//! The AWS Lambda entry, driven through a local server that implements the Lambda Runtime API
//! the way Lambda does (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>): the binary long-polls
//! `GET /2018-06-01/runtime/invocation/next`, and reports each event's result to
//! `POST .../invocation/{id}/response` or `POST .../invocation/{id}/error`.

mod common;

use common::{Process, TempDir, corrupt_state, free_port};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;

#[derive(Debug, Clone)]
struct Reported {
    request_id: String,
    kind: &'static str,
    body: Value,
}

#[derive(Clone, Default)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    reported: Arc<Mutex<Vec<Reported>>>,
}

impl RuntimeApi {
    /// Starts the Runtime API on a free port; returns its `host:port`.
    async fn start(events: Vec<(&str, Value)>) -> (Self, String) {
        let api = RuntimeApi::default();
        api.events
            .lock()
            .unwrap()
            .extend(events.into_iter().map(|(id, e)| (id.to_string(), e)));
        let next = {
            let api = api.clone();
            warp::path!("2018-06-01" / "runtime" / "invocation" / "next").and(warp::get()).then(move || {
                let api = api.clone();
                async move {
                    // Long poll: hold the request until an event is queued.
                    loop {
                        if let Some((id, event)) = api.events.lock().unwrap().pop_front() {
                            let deadline = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 60_000;
                            return warp::http::Response::builder()
                                .header("Lambda-Runtime-Aws-Request-Id", id)
                                .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                                .header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:entra-monitor")
                                .header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
                                .header("Content-Type", "application/json")
                                .body(event.to_string())
                                .unwrap();
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        };
        let report = {
            let api = api.clone();
            warp::path!("2018-06-01" / "runtime" / "invocation" / String / String)
                .and(warp::post())
                .and(warp::body::bytes())
                .map(move |id: String, kind: String, body: bytes::Bytes| {
                    let kind = match kind.as_str() {
                        "response" => "response",
                        "error" => "error",
                        _ => return warp::http::StatusCode::NOT_FOUND,
                    };
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    api.reported.lock().unwrap().push(Reported {
                        request_id: id,
                        kind,
                        body,
                    });
                    warp::http::StatusCode::ACCEPTED
                })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(next.or(report)).incoming(listener).run());
        (api, addr.to_string())
    }

    async fn wait_for(&self, count: usize, process: &Process) -> Vec<Reported> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.reported.lock().unwrap().len() >= count {
                return self.reported.lock().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "only {:?} after 30 s; logs:\n{}",
            self.reported.lock().unwrap(),
            process.logs()
        );
    }
}

fn start_lambda(dir: &std::path::Path, runtime_api: &str, extra: &[(&str, &str)]) -> Process {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "entra-monitor"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ];
    env.extend_from_slice(extra);
    // No command: the binary sees AWS_LAMBDA_RUNTIME_API and runs as a Lambda bootstrap.
    Process::start(dir, &[], &env)
}

/// An EventBridge scheduled-rule event (shape of the published sample).
fn scheduled_event(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-27T10:05:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/entra-monitor-collect"],
        "detail": detail
    })
}

/// A Function URL / HTTP API event, payload format 2.0.
fn http_event(method: &str, path: &str, query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": { "accept": "application/json", "host": "abc123.lambda-url.eu-west-1.on.aws" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abc123",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0" },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:10:05:00 +0000",
            "timeEpoch": 1795773900000u64
        },
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn timer_and_http_events_are_run_and_reported() {
    let dir = TempDir::new("lambda");
    let (api, addr) = RuntimeApi::start(vec![
        (
            "evt-timer",
            scheduled_event(json!({ "function": "collect-provisioning" })),
        ),
        ("evt-http", http_event("GET", "/api/health", "verbose=1")),
        ("evt-default", scheduled_event(json!({}))),
        ("evt-unknown", json!({ "function": "collect-everything" })),
        ("evt-404", http_event("GET", "/api/nothing-here", "")),
    ])
    .await;
    let process = start_lambda(
        dir.path(),
        &addr,
        &[("ENTRA_MONITOR_LAMBDA_FUNCTION", "collect-audit")],
    );
    let reported = api.wait_for(5, &process).await;
    let by_id = |id: &str| {
        reported
            .iter()
            .find(|r| r.request_id == id)
            .unwrap_or_else(|| panic!("{id} not reported: {reported:?}"))
    };

    let timer = by_id("evt-timer");
    assert_eq!(timer.kind, "response", "{timer:?}");
    assert_eq!(timer.body["function"], "collect-provisioning");
    assert_eq!(timer.body["outcome"], "succeeded");

    let http = by_id("evt-http");
    assert_eq!(http.kind, "response");
    assert_eq!(http.body["statusCode"], 200);
    assert_eq!(http.body["isBase64Encoded"], false);
    let health: Value = serde_json::from_str(http.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(health["host"], "lambda");
    let provisioning = health["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "collect-provisioning")
        .unwrap();
    assert_eq!(provisioning["last_run"]["invocation_id"], "evt-timer");
    assert_eq!(provisioning["last_run"]["host"], "lambda");

    // A scheduled event naming no function runs the configured one.
    let default = by_id("evt-default");
    assert_eq!(default.kind, "response");
    assert_eq!(default.body["function"], "collect-audit");

    // An unknown function is reported as an invocation error, naming it.
    let unknown = by_id("evt-unknown");
    assert_eq!(unknown.kind, "error");
    assert!(
        unknown.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no function named \"collect-everything\""),
        "{unknown:?}"
    );

    let missing = by_id("evt-404");
    assert_eq!(missing.kind, "response");
    assert_eq!(missing.body["statusCode"], 404);
}

#[tokio::test]
async fn a_failing_timer_function_is_reported_as_an_error() {
    let dir = TempDir::new("lambda-fail");
    corrupt_state(dir.path());
    let (api, addr) = RuntimeApi::start(vec![
        (
            "evt-fail",
            scheduled_event(json!({ "function": "collect-signins" })),
        ),
        ("evt-health", http_event("GET", "/health", "")),
    ])
    .await;
    let process = start_lambda(dir.path(), &addr, &[]);
    let reported = api.wait_for(2, &process).await;

    let fail = reported
        .iter()
        .find(|r| r.request_id == "evt-fail")
        .unwrap();
    assert_eq!(fail.kind, "error");
    assert!(
        fail.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("state.sqlite is unusable"),
        "{fail:?}"
    );
    // The HTTP function still answers (at /health too, without the /api prefix): 503, degraded.
    let health = reported
        .iter()
        .find(|r| r.request_id == "evt-health")
        .unwrap();
    assert_eq!(health.body["statusCode"], 503);
    assert!(process.logs().contains("unusable"), "{}", process.logs());
}

#[tokio::test]
async fn outside_lambda_the_entry_refuses_to_start() {
    let dir = TempDir::new("lambda-none");
    let port = free_port().to_string();
    // Only the Runtime API address: the other variables Lambda always sets are missing.
    let out = common::run(
        dir.path(),
        &["lambda"],
        &[("AWS_LAMBDA_RUNTIME_API", &format!("127.0.0.1:{port}"))],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AWS_LAMBDA_FUNCTION_NAME"), "{err}");
}
