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
