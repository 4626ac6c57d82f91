//! A local server enforcing the Logs Ingestion API contract (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>, <https://learn.microsoft.com/en-us/azure/azure-monitor/service-limits#logs-ingestion-api>): the
//! path `/dataCollectionRules/{dcr}/streams/{stream}` with a stream the committed DCR
//! (`infra/log-analytics/tables-and-dcr.json`) declares, `api-version=2023-01-01`, the bearer
//! token, `Content-Type: application/json`, gzip, the 1 MB limit on the call compressed and
//! uncompressed (413 `ContentLengthLimitExceeded`), a JSON array of objects each with a real
//! `TimeGenerated` date-time and only the stream's declared columns, each of its declared type
//! (stricter than the service, which drops undeclared columns silently: here a lost column is a
//! failed test); 204 on success. It also serves a managed-identity token endpoint (`/msi/token`)
//! handing out the token it expects, for the `https://monitor.azure.com` resource only.

use super::{Script, empty, reply};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use warp::{Filter, Reply};

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
    /// Of the declared streams, those that exist (all when empty).
    pub streams: Vec<String>,
    /// The DCR's stream declarations: stream → column → type.
    pub declared: BTreeMap<String, BTreeMap<String, String>>,
    /// Why calls were refused with 400, for a test to show.
    pub refusals: Vec<String>,
}

/// The committed DCR's stream declarations: stream → column → type.
pub fn declarations() -> BTreeMap<String, BTreeMap<String, String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra/log-analytics/tables-and-dcr.json");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let dcr = template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Microsoft.Insights/dataCollectionRules")
        .expect("the template has a DCR");
    dcr["properties"]["streamDeclarations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(stream, d)| {
            let columns = d["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["type"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (stream.clone(), columns)
        })
        .collect()
}

/// Whether a JSON value is of a DCR column type.
pub fn fits(ty: &str, value: &Value) -> bool {
    match ty {
        _ if value.is_null() => true,
        "string" => value.is_string(),
        "datetime" => value
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "boolean" => value.is_boolean(),
        "long" | "int" => value.is_i64(),
        "real" => value.is_number(),
        "dynamic" => true,
        _ => false,
    }
}

/// Why a row does not fit its stream, if it does not.
fn misfit(columns: &BTreeMap<String, String>, row: &Value) -> Option<String> {
    let Some(obj) = row.as_object() else {
        return Some(format!("an element is not an object: {row}"));
    };
    match obj.get("TimeGenerated") {
        Some(Value::String(t)) if chrono::DateTime::parse_from_rfc3339(t).is_ok() => {}
        other => return Some(format!("TimeGenerated is not a date-time: {other:?}")),
    }
    for (name, value) in obj {
        match columns.get(name) {
            None => return Some(format!("column {name} is not declared in the stream")),
            Some(ty) if !fits(ty, value) => {
                return Some(format!("column {name} = {value} is not a {ty}"));
            }
            Some(_) => {}
        }
    }
    None
}

pub type Shared = Arc<Mutex<Ingested>>;

pub fn state(limit: usize) -> Shared {
    Arc::new(Mutex::new(Ingested {
        limit,
        declared: declarations(),
        ..Default::default()
    }))
}

/// The request headers the API reads.
struct Headers {
    auth: Option<String>,
    content_type: Option<String>,
    encoding: Option<String>,
}

fn handle(
    state: &Shared,
    dcr: String,
    stream: String,
    query: BTreeMap<String, String>,
    headers: Headers,
    body: Bytes,
) -> warp::reply::Response {
    let Headers {
        auth,
        content_type,
        encoding,
    } = headers;
    if query.get("api-version").map(String::as_str) != Some("2023-01-01") {
        return reply(400, "InvalidApiVersion");
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return reply(401, "InvalidToken");
    }
    let mut s = state.lock().unwrap();
    let exists =
        s.declared.contains_key(&stream) && (s.streams.is_empty() || s.streams.contains(&stream));
    if dcr != DCR || !exists {
        return reply(404, "NotFound");
    }
    if !content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return reply(415, "UnsupportedMediaType");
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
    // Never more than the limit decompressed: a small gzip of a large body is too large too.
    let limit = s.limit.min(1_048_576);
    if flate2::read::GzDecoder::new(&body[..])
        .take(limit as u64 + 1)
        .read_to_string(&mut text)
        .is_err()
    {
        return reply(400, "InvalidGzip");
    }
    if text.len() > limit {
        s.too_large += 1;
        return reply(413, "ContentLengthLimitExceeded");
    }
    let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(&text) else {
        return reply(400, "InvalidPayload");
    };
    let columns = &s.declared[&stream];
    if let Some(why) = rows.iter().find_map(|r| misfit(columns, r)) {
        s.refusals.push(format!("{stream}: {why}"));
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
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("content-encoding"))
        .and(warp::body::content_length_limit(8 * 1024 * 1024))
        .and(warp::body::bytes())
        .map(
            move |dcr, stream, query, auth, content_type, encoding, body| {
                let headers = Headers {
                    auth,
                    content_type,
                    encoding,
                };
                handle(&state, dcr, stream, query, headers, body)
            },
        );
    // The App Service managed-identity endpoint: the resource, api-version and the identity
    // header are required; a token for another resource is not this API's.
    let token = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("x-identity-header"))
        .map(|query: BTreeMap<String, String>, header: Option<String>| {
            if header.is_none() || !query.contains_key("api-version") {
                return reply(400, "BadRequest");
            }
            if query.get("resource").map(|r| r.trim_end_matches('/'))
                != Some("https://monitor.azure.com")
            {
                return reply(400, "InvalidResource");
            }
            warp::reply::json(&json!({
                "access_token": TOKEN,
                "expires_on": (chrono::Utc::now().timestamp() + 3600).to_string(),
                "token_type": "Bearer"
            }))
            .into_response()
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

/// A router sending `category` to the embedded store and to the stand-in at `base`, spooling
/// into `spool`.
pub fn router(
    base: &str,
    category: shared::model::Category,
    spool: std::path::PathBuf,
) -> shared::destinations::router::Router {
    use shared::destinations::Sink;
    use shared::destinations::log_analytics::{LogAnalyticsSink, LogAnalyticsTarget};
    use shared::model::Destination;
    let routes = [(
        category,
        vec![Destination::Embedded, Destination::LogAnalytics],
    )]
    .into_iter()
    .collect();
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(LogAnalyticsSink::new(
        LogAnalyticsTarget {
            endpoint: base.to_string(),
            dcr_immutable_id: DCR.into(),
        },
        Some(tokens(base)),
    ))];
    shared::destinations::router::Router::new(
        routes,
        sinks,
        shared::destinations::spool::Spool::Folder(spool),
    )
}
