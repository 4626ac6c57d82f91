//! The Log Analytics destination against a local server that enforces the Logs Ingestion API as
//! documented (protocols.md §4): no emulator of Azure Monitor exists, so this server checks the
//! path, `api-version`, bearer token, gzip, the per-call size limit (answering 413
//! `ContentLengthLimitExceeded`), that every element is an object with `TimeGenerated`, and
//! answers 429 with `Retry-After` and 503 once each.

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};
use shared::destinations::log_analytics::{LogAnalyticsSink, LogAnalyticsTarget};
use shared::model::Category;
use shared::source::token::{TokenCache, TokenSource};
use std::io::Read;
use std::sync::{Arc, Mutex};
use warp::Filter;

#[derive(Default)]
struct Ingested {
    calls: usize,
    too_large: usize,
    rows: Vec<Value>,
    largest_call: usize,
}

/// The server's per-call limit; smaller than the API's 1 MB so the client's halving is exercised.
const SERVER_LIMIT: usize = 64 * 1024;

async fn start(state: Arc<Mutex<Ingested>>) -> String {
    let ingest = warp::post()
        .and(warp::path!(
            "dataCollectionRules" / String / "streams" / String
        ))
        .and(warp::query::<std::collections::BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("content-encoding"))
        .and(warp::body::bytes())
        .map(
            move |dcr: String,
                  stream: String,
                  query: std::collections::BTreeMap<String, String>,
                  auth: Option<String>,
                  encoding: Option<String>,
                  body: Bytes| {
                let reply = |status: u16, code: &str| {
                    let mut r = warp::reply::Response::new(
                        json!({ "error": { "code": code, "message": code } })
                            .to_string()
                            .into(),
                    );
                    *r.status_mut() = warp::http::StatusCode::from_u16(status).unwrap();
                    r.headers_mut()
                        .insert("x-ms-error-code", code.parse().unwrap());
                    r
                };
                if query.get("api-version").map(String::as_str) != Some("2023-01-01") {
                    return reply(400, "InvalidApiVersion");
                }
                if auth.as_deref() != Some("Bearer token-for-monitor") {
                    return reply(401, "InvalidToken");
                }
                if dcr != "dcr-00000000000000000000000000000000" || stream != "Custom-AuditLogs_CL"
                {
                    return reply(404, "NotFound");
                }
                let mut s = state.lock().unwrap();
                s.calls += 1;
                if s.calls == 1 {
                    let mut r = reply(429, "TooManyRequests");
                    r.headers_mut().insert("retry-after", "1".parse().unwrap());
                    return r;
                }
                if s.calls == 3 {
                    return reply(503, "ServiceUnavailable");
                }
                if body.len() > SERVER_LIMIT {
                    s.too_large += 1;
                    return reply(413, "ContentLengthLimitExceeded");
                }
                if encoding.as_deref() != Some("gzip") {
                    return reply(400, "UnsupportedEncoding");
                }
                let mut text = String::new();
                if flate2::read::GzDecoder::new(&body[..])
                    .read_to_string(&mut text)
                    .is_err()
                {
                    return reply(400, "InvalidGzip");
                }
                let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(&text) else {
                    return reply(400, "InvalidPayload");
                };
                if rows
                    .iter()
                    .any(|r| !r.is_object() || r["TimeGenerated"].as_str().is_none())
                {
                    return reply(400, "InvalidPayload");
                }
                s.largest_call = s.largest_call.max(body.len());
                s.rows.extend(rows);
                let mut r = warp::reply::Response::new(Default::default());
                *r.status_mut() = warp::http::StatusCode::NO_CONTENT;
                r
            },
        );
    let token = warp::get().and(warp::path!("msi" / "token")).map(|| {
        warp::reply::json(&json!({ "access_token": "token-for-monitor", "expires_on": (Utc::now().timestamp() + 3600).to_string(), "token_type": "Bearer" }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(ingest.or(token)).incoming(listener).run());
    base
}

/// A sink for the local server, with a token from its managed-identity endpoint.
fn sink_for(base: &str) -> LogAnalyticsSink {
    let tokens = Arc::new(TokenCache::new(TokenSource::ManagedIdentity {
        endpoint: format!("{base}/msi/token"),
        header: shared::config::Secret::new("h"),
        resource: "https://monitor.azure.com".into(),
        client_id: None,
    }));
    let target = LogAnalyticsTarget {
        endpoint: base.to_string(),
        dcr_immutable_id: "dcr-00000000000000000000000000000000".into(),
    };
    LogAnalyticsSink::new(target, Some(tokens))
}

#[tokio::test]
async fn rows_arrive_whole_at_least_once_within_the_limits() {
    let state = Arc::new(Mutex::new(Ingested::default()));
    let base = start(state.clone()).await;
    let sink = sink_for(&base);

    // 3,000 audit rows with varied text (so gzip does not squeeze them to nothing) and one
    // record too big for any call.
    let mut rows: Vec<Value> = (0..3000)
        .map(|i| json!({ "Id": format!("Directory_{i}"), "ActivityDisplayName": "Add member to group", "Note": format!("{:032x}", fastrand::u128(..)).repeat(8), "TimeGenerated": null }))
        .collect();
    rows.push(json!({ "Id": "huge", "Blob": "x".repeat(1_200_000) }));
    let sent = sink
        .send(Category::AuditLogs, &rows, Utc::now())
        .await
        .unwrap();

    let s = state.lock().unwrap();
    assert_eq!(sent.records, 3000);
    assert_eq!(sent.dead_letter.len(), 1);
    assert_eq!(sent.dead_letter[0].0, "huge");
    assert!(sent.dead_letter[0].1.contains("1 MB"));
    assert!(
        s.too_large > 0,
        "the server's 413 made the client halve its calls"
    );
    assert!(s.largest_call <= SERVER_LIMIT);
    let ids: std::collections::BTreeSet<&str> =
        s.rows.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3000, "every row arrived, whole");
    assert!(
        s.rows
            .iter()
            .all(|r| r["Note"].as_str().unwrap().len() == 256 && r["TimeGenerated"].is_string())
    );
    println!(
        "{} calls ({} answered 413, one 429, one 503) for 3,000 rows; largest accepted call {} bytes",
        s.calls, s.too_large, s.largest_call
    );
}

#[tokio::test]
async fn a_wrong_stream_is_refused_with_what_to_check() {
    let state = Arc::new(Mutex::new(Ingested::default()));
    let base = start(state).await;
    let sink = sink_for(&base);
    let e = sink
        .send(Category::SignInLogs, &[json!({ "Id": "x" })], Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("stream name"), "{e}");
}
