//! A local server enforcing the Logs Ingestion API contract (protocols.md §4.1, §4.3): the
//! path `/dataCollectionRules/{dcr}/streams/{stream}`, `api-version=2023-01-01`, the bearer
//! token, gzip, a per-call size limit answered with 413 `ContentLengthLimitExceeded`, a JSON
//! array of objects each with `TimeGenerated`; 204 on success. It also serves a
//! managed-identity token endpoint (`/msi/token`) handing out the token it expects.

use super::{Script, empty, reply};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use warp::Filter;

pub const DCR: &str = "dcr-00000000000000000000000000000000";
pub const TOKEN: &str = "token-for-monitor";

#[derive(Default)]
pub struct Ingested {
    pub calls: usize,
    pub too_large: usize,
    pub throttled: usize,
    pub server_errors: usize,
    /// Accepted rows, with the stream each was posted to.
    pub rows: Vec<(String, Value)>,
    pub largest_call: usize,
    /// Answer 503 to everything (the service is down).
    pub down: bool,
    pub script: Script,
    /// The largest body accepted; larger ones get 413.
    pub limit: usize,
    /// Streams that exist (all when empty).
    pub streams: Vec<String>,
}

pub type Shared = Arc<Mutex<Ingested>>;

pub fn state(limit: usize) -> Shared {
    Arc::new(Mutex::new(Ingested {
        limit,
        ..Default::default()
    }))
}

fn handle(
    state: &Shared,
    dcr: String,
    stream: String,
    query: BTreeMap<String, String>,
    auth: Option<String>,
    encoding: Option<String>,
    body: Bytes,
) -> warp::reply::Response {
    if query.get("api-version").map(String::as_str) != Some("2023-01-01") {
        return reply(400, "InvalidApiVersion");
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return reply(401, "InvalidToken");
    }
    let mut s = state.lock().unwrap();
    if dcr != DCR || (!s.streams.is_empty() && !s.streams.contains(&stream)) {
        return reply(404, "NotFound");
    }
    s.calls += 1;
    let s = &mut *s;
    if let Some(r) = super::fault(
        s.down,
        &mut s.script,
        &mut s.throttled,
        &mut s.server_errors,
    ) {
        return r;
    }
    if body.len() > s.limit.min(1_048_576) {
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
    s.rows.extend(rows.into_iter().map(|r| (stream.clone(), r)));
    empty(204)
}

/// Starts the server; returns its base URL (the DCE/DCR endpoint).
pub async fn start(state: Shared) -> String {
    let ingest = warp::post()
        .and(warp::path!(
            "dataCollectionRules" / String / "streams" / String
        ))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("content-encoding"))
        .and(warp::body::content_length_limit(8 * 1024 * 1024))
        .and(warp::body::bytes())
        .map(move |dcr, stream, query, auth, encoding, body| {
            handle(&state, dcr, stream, query, auth, encoding, body)
        });
    let token = warp::get().and(warp::path!("msi" / "token")).map(|| {
        warp::reply::json(&json!({
            "access_token": TOKEN,
            "expires_on": (chrono::Utc::now().timestamp() + 3600).to_string(),
            "token_type": "Bearer"
        }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(ingest.or(token)).incoming(listener).run());
    base
}

/// A token cache reading the server's managed-identity endpoint.
pub fn tokens(base: &str) -> Arc<shared::source::token::TokenCache> {
    Arc::new(shared::source::token::TokenCache::new(
        shared::source::token::TokenSource::ManagedIdentity {
            endpoint: format!("{base}/msi/token"),
            header: shared::config::Secret::new("h"),
            resource: "https://monitor.azure.com".into(),
            client_id: None,
        },
    ))
}
