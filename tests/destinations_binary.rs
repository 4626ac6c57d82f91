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

/// A managed-identity endpoint (App Service's protocol) handing out the token each stand-in
/// expects for its resource, and nothing for another.
async fn identity_endpoint() -> String {
    let token = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(warp::header::optional::<String>("x-identity-header"))
        .map(|q: BTreeMap<String, String>, header: Option<String>| {
            let token = match q.get("resource").map(|r| r.trim_end_matches('/')) {
                Some("https://monitor.azure.com") => ingestion::TOKEN,
                Some("https://eventhubs.azure.net") => event_hubs::TOKEN,
                _ => "",
            };
            if token.is_empty() || header.as_deref() != Some("identity-header") {
                return support::reply(400, "BadRequest");
            }
            warp::reply::Response::new(
                json!({
                    "access_token": token,
                    "expires_on": (chrono::Utc::now().timestamp() + 3600).to_string(),
                    "token_type": "Bearer"
                })
                .to_string()
                .into(),
            )
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
    let identity = identity_endpoint().await;
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
