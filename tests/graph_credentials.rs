//! Reading a configured tenant: the binary gets a token from the identity platform (client
//! secret) or the host's managed identity, and reads Graph with it. A local token endpoint
//! implements the documented requests and answers (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>); the simulated tenant's
//! Graph server demands the token.

mod common;

use common::{CLIENT_ID, MI_HEADER, SECRET, TempDir, credential_fixture, identity_platform, run};
use serde_json::Value;
use shared::clock::SystemClock;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
            // A whole day, so the window holds audit events whatever the time of day (the
            // simulated tenant is quiet at night).
            ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_signs_a_client_assertion() {
    let graph = graph_demanding("token-from-certificate").await;
    let identity = identity_platform(graph.clone()).await;
    let dir = TempDir::new("certificate");
    let pem = credential_fixture("app-credential.pem");
    let public = credential_fixture("public-key.pem");
    let env = |path: &std::path::Path| -> Vec<(&'static str, String)> {
        vec![
            ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com".into()),
            ("ENTRA_MONITOR_CLIENT_ID", CLIENT_ID.into()),
            (
                "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH",
                path.display().to_string(),
            ),
            ("ENTRA_MONITOR_AUTHORITY_HOST", identity.base.clone()),
            ("ENTRA_MONITOR_GRAPH_HOST", graph.clone()),
        ]
    };
    let with_pem = env(&pem);
    let refs: Vec<(&str, &str)> = with_pem.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir.path(), &["run", "collect-audit"], &refs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(identity.issued.load(Ordering::SeqCst), 1);
    assert!(!stderr.contains("PRIVATE KEY"));

    // A file without the private key is named, with what it should hold.
    let with_public = env(&public);
    let refs: Vec<(&str, &str)> = with_public.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir.path(), &["run", "collect-audit"], &refs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("public-key.pem: no CERTIFICATE block")
            && stderr.contains("private key and its certificate"),
        "{stderr}"
    );
}
