//! The destinations as the binary sets them up from its settings (`functions/src/routing.rs`):
//! `entra-monitor run collect-audit` routing audit events to the embedded store, Log Analytics
//! and Event Hubs, both authenticated with the host's managed identity (`IDENTITY_ENDPOINT`),
//! against the local stand-ins that enforce the services' contracts. Each receives every
//! collected record once.

mod common;
#[path = "support/mod.rs"]
mod support;

use common::{TempDir, run_ok};
use serde_json::json;
use shared::model::Category;
use shared::state::SqliteState;
use std::collections::BTreeMap;
use support::{event_hubs, ingestion};
use warp::Filter;

/// A managed-identity endpoint (App Service's protocol) handing out, for each resource, its
/// token, and nothing for another resource or without the identity header.
async fn identity_endpoint(tokens: &'static [(&'static str, &'static str)]) -> String {
    let token = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("x-identity-header"))
        .map(move |q: BTreeMap<String, String>, header: Option<String>| {
            let resource = q.get("resource").map(|r| r.trim_end_matches('/'));
            let token = tokens.iter().find(|(r, _)| Some(*r) == resource);
            match token {
                Some((_, token)) if header.as_deref() == Some("identity-header") => {
                    warp::reply::Response::new(
                        json!({
                            "access_token": token,
                            "expires_on": (chrono::Utc::now().timestamp() + 3600).to_string(),
                            "token_type": "Bearer"
                        })
                        .to_string()
                        .into(),
                    )
                }
                _ => support::reply(400, "BadRequest"),
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(token).incoming(listener).run());
    format!("{base}/msi/token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_routes_to_log_analytics_and_event_hubs_with_its_managed_identity() {
    let la = ingestion::state(1_048_576);
    let la_base = ingestion::start(la.clone()).await;
    let eh = event_hubs::state(1_048_576);
    let eh_base = event_hubs::start(eh.clone()).await;
    let identity = identity_endpoint(&[
        ("https://monitor.azure.com", ingestion::TOKEN),
        ("https://eventhubs.azure.net", event_hubs::TOKEN),
    ])
    .await;
    let dir = TempDir::new("destinations-binary");
    let env = [
        (
            "ENTRA_MONITOR_ROUTES_AUDITLOGS",
            "embedded,log-analytics,event-hubs",
        ),
        ("ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT", la_base.as_str()),
        ("ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID", ingestion::DCR),
        ("ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL", eh_base.as_str()),
        ("IDENTITY_ENDPOINT", identity.as_str()),
        ("IDENTITY_HEADER", "identity-header"),
        ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
    ];
    let out = run_ok(dir.path(), &["run", "collect-audit"], &env);
    let said = String::from_utf8_lossy(&out.stderr).to_string();

    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    let tenant = store
        .record_counts_all()
        .unwrap()
        .keys()
        .find(|(_, c)| c == "AuditLogs")
        .map(|(t, _)| t.clone())
        .expect("audit events collected");
    let stored = store.embedded_count(&tenant, Category::AuditLogs).unwrap() as usize;
    assert!(stored > 0, "{said}");
    let la = la.lock().unwrap();
    assert!(la.refusals.is_empty(), "{:?}", la.refusals);
    let rows: Vec<_> = la
        .rows
        .iter()
        .filter(|(stream, _)| stream == "Custom-AuditLogs_CL")
        .collect();
    assert_eq!(rows.len(), stored, "Log Analytics rows\n{said}");
    let eh = eh.lock().unwrap();
    assert_eq!(eh.unauthorised, 0);
    let events: Vec<_> = eh
        .records
        .iter()
        .filter(|(hub, key, _)| hub == "insights-logs-auditlogs" && *key == tenant)
        .collect();
    assert_eq!(events.len(), stored, "Event Hubs records\n{said}");
    // The identity header and the tokens never reach the logs.
    for secret in ["identity-header", ingestion::TOKEN, event_hubs::TOKEN] {
        assert!(!said.contains(secret), "{secret} in the logs:\n{said}");
    }
}

/// `ENTRA_MONITOR_QUERY_BACKEND=log-analytics` through the binary (`serve`): a question is
/// sent to the Log Analytics query API stand-in as the KQL `explain=true` shows, for the
/// configured workspace, with a token the host's managed identity gave for
/// `https://api.loganalytics.io`; the stand-in's typed table comes back as the answer's rows;
/// no token appears in the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_questions_from_log_analytics_with_its_managed_identity() {
    use std::sync::{Arc, Mutex};
    const WORKSPACE: &str = "5f2a2b6e-0000-4000-8000-0000000000cc";
    const TOKEN: &str = "token-for-log-analytics-queries";
    let asked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen = asked.clone();
    let query = warp::post()
        .and(warp::path!("v1" / "workspaces" / String / "query"))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .map(
            move |ws: String, auth: Option<String>, body: serde_json::Value| {
                if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
                    return support::reply(401, "AuthorizationRequiredError");
                }
                if ws != WORKSPACE {
                    return support::reply(404, "WorkspaceNotFoundError");
                }
                let (Some(kql), Some(span)) = (body["query"].as_str(), body["timespan"].as_str())
                else {
                    return support::reply(400, "BadArgumentError");
                };
                seen.lock()
                    .unwrap()
                    .push((kql.to_string(), span.to_string()));
                warp::reply::Response::new(
                    json!({ "tables": [{
                    "name": "PrimaryResult",
                    "columns": [
                        { "name": "day", "type": "string" },
                        { "name": "users", "type": "long" },
                        { "name": "sign_ins", "type": "long" }
                    ],
                    "rows": [["2026-11-19", 41, 230], ["2026-11-20", 38, 201], ["all", 57, 431]]
                }] })
                    .to_string()
                    .into(),
                )
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(query).incoming(listener).run());
    let msi = identity_endpoint(&[("https://api.loganalytics.io", TOKEN)]).await;

    let dir = TempDir::new("la-backend-binary");
    let listen = format!("127.0.0.1:{}", common::free_port());
    let process = common::Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", listen.as_str()),
            ("ENTRA_MONITOR_QUERY_BACKEND", "log-analytics"),
            ("ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID", WORKSPACE),
            ("ENTRA_MONITOR_LOG_ANALYTICS_QUERY_ENDPOINT", base.as_str()),
            ("IDENTITY_ENDPOINT", msi.as_str()),
            ("IDENTITY_HEADER", "identity-header"),
        ],
    );
    let api = format!("http://{listen}");
    common::wait_until_up(&format!("{api}/api/health"), &process).await;
    let range = "from=2026-11-19T00:00:00Z&to=2026-11-21T00:00:00Z";
    let get = |query: String| {
        let url = format!("{api}/api/signins/users?{query}");
        async move {
            let r = reqwest::get(&url).await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, answer) = get(range.to_string()).await;
    assert_eq!(status, 200, "{answer}\n{}", process.logs());
    let rows: Vec<(String, i64, i64)> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap().to_string(),
                r["users"].as_i64().unwrap(),
                r["sign_ins"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2026-11-19".to_string(), 41, 230),
            ("2026-11-20".to_string(), 38, 201)
        ],
        "{answer}"
    );
    assert_eq!(answer["summary"]["distinct_users"], 57, "{answer}");
    // What was sent is what `explain=true` shows, for the range asked.
    let (_, explained) = get(format!("{range}&explain=true")).await;
    let sent = asked.lock().unwrap().clone();
    assert!(!sent.is_empty());
    assert_eq!(
        Some(sent[0].0.as_str()),
        explained["kql"].as_str(),
        "{sent:?}"
    );
    assert!(
        sent[0].0.contains("datetime(2026-11-19T00:00:00.000Z)"),
        "{sent:?}"
    );
    assert!(!process.logs().contains(TOKEN), "{}", process.logs());
}

/// A JWT as Entra would issue to a managed identity for Storage (Azurite's basic OAuth mode
/// checks audience, issuer and lifetime, not the signature).
fn storage_token() -> &'static str {
    use base64::Engine;
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = chrono::Utc::now().timestamp();
        format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(json!({ "alg": "RS256", "typ": "JWT" })),
            b64(json!({
                "aud": "https://storage.azure.com",
                "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
                "oid": "5f2a2b6e-0000-4000-8000-0000000000dd"
            }))
        )
    })
}

/// `ENTRA_MONITOR_STORAGE_ACCOUNT_URL` with the host's managed identity, through the binary:
/// Azurite over HTTPS checking bearer tokens receives every audit event of the run once, in
/// its hour's blob under the tenant's folder, as diagnostic settings write them; the token
/// never shows in the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_archives_to_blob_storage_with_its_managed_identity() {
    let azurite = support::azurite::start_https_with_oauth();
    let identity = identity_endpoint(Box::leak(Box::new([(
        "https://storage.azure.com",
        storage_token(),
    )])))
    .await;
    let ca = common::repo_root().join("tests/fixtures/tls/ca.pem");
    let dir = TempDir::new("blob-identity-binary");
    let ca_text = ca.display().to_string();
    let env = [
        ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "embedded,storage"),
        (
            "ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
            azurite.endpoint.as_str(),
        ),
        ("IDENTITY_ENDPOINT", identity.as_str()),
        ("IDENTITY_HEADER", "identity-header"),
        ("SSL_CERT_FILE", ca_text.as_str()),
        ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
    ];
    let out = run_ok(dir.path(), &["run", "collect-audit"], &env);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!said.contains(storage_token()), "{said}");

    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    let (tenant, collected) = store
        .record_counts_all()
        .unwrap()
        .into_iter()
        .find(|((_, c), _)| c == "AuditLogs")
        .map(|((t, _), n)| (t, n))
        .unwrap();
    assert!(collected > 0, "{collected} audit events");
    // Read back as another client of the same account would: over HTTPS, with a bearer token.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(&url)
                .bearer_auth(storage_token())
                .header("x-ms-version", "2021-08-06")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let container = format!("{}/insights-logs-auditlogs", azurite.endpoint);
    let (status, listing) = get(format!("{container}?restype=container&comp=list")).await;
    assert_eq!(status, 200, "{listing}\n{said}");
    let names: Vec<&str> = listing
        .split("<Name>")
        .skip(1)
        .filter_map(|s| s.split("</Name>").next())
        .collect();
    assert!(!names.is_empty(), "{listing}");
    let mut lines = 0;
    for name in &names {
        assert!(name.starts_with(&format!("tenantId={tenant}/y=")), "{name}");
        let (status, text) = get(format!("{container}/{name}")).await;
        assert_eq!(status, 200, "{text}");
        for line in text.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(r["category"], "AuditLogs");
            lines += 1;
        }
    }
    assert_eq!(lines as i64, collected, "every audit event once");
    // The same account without a token is refused: Azurite does check.
    let anonymous = http
        .get(format!("{container}?restype=container&comp=list"))
        .header("x-ms-version", "2021-08-06")
        .send()
        .await
        .unwrap();
    assert!(anonymous.status().as_u16() >= 400);
}

/// With the instances sharing state (`ENTRA_MONITOR_STATE_CONNECTION_STRING`), a tenant's
/// category whose lease another instance holds is skipped and said so; released, the next run
/// collects it and gives the lease up when done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_leased_by_another_instance_is_skipped_until_the_lease_is_free() {
    use shared::state::lease::Leases;
    let azurite = support::azurite::start();
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={}",
        shared::destinations::storage::target::AZURITE_KEY,
        azurite.endpoint
    );
    let tenant = shared::simulated::SimulatedTenant::new(7, 25)
        .directory
        .tenant_id
        .clone();
    let env = [
        ("ENTRA_MONITOR_STATE_CONNECTION_STRING", connection.as_str()),
        ("ENTRA_MONITOR_SIMULATED_SEED", "7"),
        // A whole day: audit events whatever the time of day (two hours on a Sunday evening
        // may hold none).
        ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
    ];
    let other = Leases::new(
        std::sync::Arc::new(azurite.blob()),
        "entra-monitor-state",
        15,
    );
    let held = other
        .try_acquire(&tenant, Category::AuditLogs)
        .await
        .unwrap()
        .expect("the other instance takes the lease first");

    let dir = TempDir::new("lease-binary");
    let audit_rows = || {
        SqliteState::open(&dir.path().join("data"))
            .unwrap()
            .record_counts_all()
            .unwrap()
            .into_iter()
            .filter(|((_, c), _)| c == "AuditLogs")
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let out = run_ok(dir.path(), &["run", "collect-audit"], &env);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        said.contains("AuditLogs: another instance is collecting it"),
        "{said}"
    );
    assert_eq!(audit_rows(), 0, "collected while another instance held it");

    held.release().await.unwrap();
    let out = run_ok(dir.path(), &["run", "collect-audit"], &env);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!said.contains("another instance"), "{said}");
    assert!(audit_rows() > 0, "{said}");
    // The run gave the lease up: the other instance takes it at once.
    let again = other
        .try_acquire(&tenant, Category::AuditLogs)
        .await
        .unwrap();
    assert!(again.is_some(), "the run kept the lease");
    again.unwrap().release().await.unwrap();
}
