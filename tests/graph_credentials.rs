//! Reading a configured tenant: the binary gets a token from the identity platform (client
//! secret) or the host's managed identity, and reads Graph with it. A local token endpoint
//! implements the documented requests and answers (protocols.md §3); the simulated tenant's
//! Graph server demands the token.

mod common;

use common::{TempDir, run};
use serde_json::{Value, json};
use shared::clock::SystemClock;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use warp::Filter;

const CLIENT_ID: &str = "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const SECRET: &str = "Qx7~correct-horse-battery-staple";
const MI_HEADER: &str = "mi-header-value-1234";

struct Identity {
    base: String,
    issued: Arc<AtomicUsize>,
}

/// The v2.0 token endpoint and a managed-identity endpoint.
async fn identity_platform(graph: String) -> Identity {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let expected_scope = format!("{graph}/.default");
    let token = warp::post()
        .and(warp::path!(String / "oauth2" / "v2.0" / "token"))
        .and(warp::header::exact_ignore_case("content-type", "application/x-www-form-urlencoded"))
        .and(warp::body::form::<BTreeMap<String, String>>())
        .map(move |_tenant: String, form: BTreeMap<String, String>| {
            let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("scope") == Some(&expected_scope);
            if !ok {
                return warp::reply::with_status(warp::reply::json(&json!({ "error": "invalid_request", "error_description": "AADSTS900144: The request body must contain the following parameter." })), warp::http::StatusCode::BAD_REQUEST);
            }
            if form.get("client_secret").map(String::as_str) != Some(SECRET) {
                return warp::reply::with_status(
                    warp::reply::json(&json!({
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0a1b\r\nCorrelation ID: 2c3d",
                        "error_codes": [7000215]
                    })),
                    warp::http::StatusCode::UNAUTHORIZED,
                );
            }
            counter.fetch_add(1, Ordering::SeqCst);
            warp::reply::with_status(warp::reply::json(&json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "token-from-secret" })), warp::http::StatusCode::OK)
        });
    let expected_resource = graph.clone();
    let managed = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::header::<String>("x-identity-header"))
        .and(warp::query::<BTreeMap<String, String>>())
        .map(move |header: String, query: BTreeMap<String, String>| {
            let ok = header == MI_HEADER && query.get("resource") == Some(&expected_resource) && query.get("api-version").map(String::as_str) == Some("2019-08-01");
            if !ok {
                return warp::reply::with_status(warp::reply::json(&json!({ "message": "bad request" })), warp::http::StatusCode::BAD_REQUEST);
            }
            let expires_on = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600).to_string();
            warp::reply::with_status(
                warp::reply::json(&json!({ "access_token": "token-from-identity", "expires_on": expires_on, "resource": expected_resource, "token_type": "Bearer" })),
                warp::http::StatusCode::OK,
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(token.or(managed)).incoming(listener).run());
    Identity { base, issued }
}

async fn graph_demanding(token: &str) -> String {
    let faults = Faults {
        required_token: Some(token.to_string()),
        ..Default::default()
    };
    let server = SimServer::new(SimulatedTenant::new(5, 30), Arc::new(SystemClock), faults);
    server.start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn collection_of(dir: &std::path::Path, env: &[(&str, &str)]) -> Vec<Value> {
    let out = run(dir, &["run", "health"], env);
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    health["collection"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_gets_a_token_and_a_wrong_one_is_named() {
    let graph = graph_demanding("token-from-secret").await;
    let identity = identity_platform(graph.clone()).await;
    let dir = TempDir::new("secret");
    let env = |secret: &'static str| {
        vec![
            ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
            ("ENTRA_MONITOR_CLIENT_ID", CLIENT_ID),
            ("ENTRA_MONITOR_CLIENT_SECRET", secret),
            ("ENTRA_MONITOR_AUTHORITY_HOST", identity.base.as_str()),
            ("ENTRA_MONITOR_GRAPH_HOST", graph.as_str()),
        ]
    };
    let ok = env(SECRET);
    let out = run(dir.path(), &["run", "collect-audit"], &ok);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));
    assert_eq!(identity.issued.load(Ordering::SeqCst), 1);
    let audit = collection_of(dir.path(), &ok)
        .into_iter()
        .find(|c| c["category"] == "AuditLogs")
        .unwrap();
    assert_eq!(audit["tenant"], "contoso.onmicrosoft.com");
    assert!(audit["stored_records"].as_i64().unwrap() > 0, "{audit}");
    assert!(!stderr.contains(SECRET) && !stderr.contains("token-from-secret"));

    let wrong = env("not-the-secret-value");
    let out = run(dir.path(), &["run", "collect-audit"], &wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AADSTS7000215") && stderr.contains("the client secret is wrong"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-secret-value") && !stderr.contains("Trace ID"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_gets_a_token_from_the_host() {
    let graph = graph_demanding("token-from-identity").await;
    let identity = identity_platform(graph.clone()).await;
    let endpoint = format!("{}/msi/token", identity.base);
    let dir = TempDir::new("mi");
    let env = [
        (
            "ENTRA_MONITOR_TENANT_ID",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        ),
        ("ENTRA_MONITOR_MANAGED_IDENTITY", "true"),
        ("ENTRA_MONITOR_GRAPH_HOST", graph.as_str()),
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", MI_HEADER),
    ];
    let out = run(dir.path(), &["run", "collect-provisioning"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(MI_HEADER) && !stderr.contains("token-from-identity"));

    // Without the host's identity endpoint the run fails and says why.
    let out = run(dir.path(), &["run", "collect-provisioning"], &env[..3]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("IDENTITY_ENDPOINT and IDENTITY_HEADER are not set")
    );
}
