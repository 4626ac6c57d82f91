//! A local server enforcing the Event Hubs HTTPS send contract (<https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>): `POST
//! /{hub}/messages` with `api-version=2014-01`, a SAS token whose signature, resource, expiry and
//! policy are verified, the batch content type, a JSON array of elements with a string `Body`,
//! the publication limit (1 MB; 413 above it); a hub that exists (404 `MessagingEntityNotFound`
//! for any other name); 201 on success, 503 "server busy" when down.
//! Every event body must be `{"records":[...]}`, as diagnostic settings send them.

use super::{Script, empty, reply};
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use warp::Filter;

pub const KEY_NAME: &str = "send";
pub const KEY: &str = "c2VuZC1rZXktZm9yLXRlc3Rz";
/// The Entra token the server accepts as `Bearer` (what its managed-identity endpoint hands
/// out for the resource `https://eventhubs.azure.net`).
pub const TOKEN: &str = "token-for-event-hubs";

#[derive(Default)]
pub struct Received {
    pub calls: usize,
    pub too_large: usize,
    pub throttled: usize,
    pub server_errors: usize,
    pub unauthorised: usize,
    /// Records received: (hub, partition key, record).
    pub records: Vec<(String, String, Value)>,
    pub events: usize,
    pub largest_request: usize,
    pub down: bool,
    pub script: Script,
    pub limit: usize,
    /// The hubs of the namespace: the diagnostic-settings hubs (`insights-logs-<category>`)
    /// unless a test names others.
    pub hubs: Vec<String>,
}

pub type Shared = Arc<Mutex<Received>>;

pub fn state(limit: usize) -> Shared {
    Arc::new(Mutex::new(Received {
        limit,
        hubs: shared::model::Category::ALL
            .into_iter()
            .map(shared::destinations::storage::container)
            .collect(),
        ..Default::default()
    }))
}

fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Checks `SharedAccessSignature sr=..&sig=..&se=..&skn=..` for `resource`, or the bearer token.
fn authorised(header: Option<&str>, resource: &str) -> bool {
    if header == Some(&format!("Bearer {TOKEN}")) {
        return true;
    }
    let Some(token) = header.and_then(|h| h.strip_prefix("SharedAccessSignature ")) else {
        return false;
    };
    let fields: BTreeMap<&str, &str> = token
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let (Some(sr), Some(sig), Some(se), Some(skn)) = (
        fields.get("sr"),
        fields.get("sig"),
        fields.get("se"),
        fields.get("skn"),
    ) else {
        return false;
    };
    if decode(skn) != KEY_NAME || !decode(sr).eq_ignore_ascii_case(resource) {
        return false;
    }
    if se
        .parse::<i64>()
        .map_or(true, |t| t < chrono::Utc::now().timestamp())
    {
        return false;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{sr}\n{se}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    decode(sig) == expected
}

fn handle(
    state: &Shared,
    base: &str,
    hub: String,
    query: BTreeMap<String, String>,
    auth: Option<String>,
    content_type: Option<String>,
    body: Bytes,
) -> warp::reply::Response {
    let mut s = state.lock().unwrap();
    s.calls += 1;
    if !authorised(auth.as_deref(), &format!("{base}/{hub}")) {
        s.unauthorised += 1;
        return reply(401, "Unauthorized");
    }
    if query.get("api-version").map(String::as_str) != Some("2014-01") {
        return reply(400, "InvalidApiVersion");
    }
    if !s.hubs.contains(&hub) {
        return reply(404, "MessagingEntityNotFound");
    }
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
        return reply(413, "MessageSizeExceeded");
    }
    if content_type.as_deref() != Some("application/vnd.microsoft.servicebus.json") {
        return reply(415, "UnsupportedMediaType");
    }
    let Ok(Value::Array(events)) = serde_json::from_slice::<Value>(&body) else {
        return reply(400, "InvalidBatch");
    };
    let mut records = Vec::new();
    for e in &events {
        let Some(text) = e["Body"].as_str() else {
            return reply(400, "InvalidBatch");
        };
        let Ok(inner) = serde_json::from_str::<Value>(text) else {
            return reply(400, "InvalidBody");
        };
        let Some(rs) = inner["records"].as_array() else {
            return reply(400, "InvalidBody");
        };
        let key = e["BrokerProperties"]["PartitionKey"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        records.extend(rs.iter().map(|r| (hub.clone(), key.clone(), r.clone())));
    }
    s.events += events.len();
    s.largest_request = s.largest_request.max(body.len());
    s.records.extend(records);
    empty(201)
}

/// Starts the server; returns its base URL (the namespace endpoint).
pub async fn start(state: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let send = warp::post()
        .and(warp::path!(String / "messages"))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(8 * 1024 * 1024))
        .and(warp::body::bytes())
        .map(move |hub, query, auth, ct, body| handle(&state, &b, hub, query, auth, ct, body));
    // A managed-identity endpoint: a token only for the Event Hubs resource.
    let token = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::query::<BTreeMap<String, String>>())
        .map(|q: BTreeMap<String, String>| {
            if q.get("resource").map(String::as_str) != Some("https://eventhubs.azure.net") {
                return reply(400, "WrongResource");
            }
            warp::reply::Response::new(
                serde_json::json!({
                    "access_token": TOKEN,
                    "expires_on": (chrono::Utc::now().timestamp() + 3600).to_string(),
                    "token_type": "Bearer"
                })
                .to_string()
                .into(),
            )
        });
    tokio::spawn(warp::serve(send.or(token)).incoming(listener).run());
    base
}

/// The connection string for the server.
pub fn connection_string(base: &str, hub: Option<&str>) -> String {
    let mut s = format!("Endpoint={base}/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY}");
    if let Some(h) = hub {
        s.push_str(&format!(";EntityPath={h}"));
    }
    s
}
