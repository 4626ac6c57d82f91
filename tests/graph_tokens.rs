//! The Graph client's tokens: one acquired and reused while it is good, a new one acquired
//! before it expires (within the refresh margin), and after Graph answers 401 the token is
//! renewed once — a Graph that refuses every token gets two, not a loop.

use serde_json::json;
use shared::config::Secret;
use shared::source::budget::Budget;
use shared::source::graph::{Counters, GraphClient, RetryPolicy};
use shared::source::token::{TokenCache, TokenSource};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use warp::Filter;

/// A token endpoint handing out `token-1`, `token-2`, ... each valid `lifetime` seconds, and a
/// Graph page that accepts only tokens in `accepted`; both count their requests.
struct Servers {
    base: String,
    issued: Arc<AtomicUsize>,
    pages: Arc<AtomicUsize>,
}

async fn servers(lifetime: u64, accepted: &'static [&'static str]) -> Servers {
    let issued = Arc::new(AtomicUsize::new(0));
    let pages = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let token = warp::post()
        .and(warp::path!("tenant" / "oauth2" / "v2.0" / "token"))
        .map(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            warp::reply::json(&json!({
                "token_type": "Bearer", "expires_in": lifetime,
                "access_token": format!("token-{n}")
            }))
        });
    let seen = pages.clone();
    let page = warp::get()
        .and(warp::path!("v1.0" / "auditLogs" / "directoryAudits"))
        .and(warp::header::<String>("authorization"))
        .map(move |auth: String| {
            seen.fetch_add(1, Ordering::SeqCst);
            let token = auth.trim_start_matches("Bearer ");
            if accepted.contains(&token) {
                warp::reply::with_status(
                    warp::reply::json(&json!({ "value": [] })),
                    warp::http::StatusCode::OK,
                )
            } else {
                warp::reply::with_status(
                    warp::reply::json(&json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid." } })),
                    warp::http::StatusCode::UNAUTHORIZED,
                )
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(token.or(page)).incoming(listener).run());
    Servers {
        base,
        issued,
        pages,
    }
}

fn client(base: &str) -> GraphClient {
    let tokens = Arc::new(TokenCache::new(TokenSource::ClientSecret {
        authority_host: base.to_string(),
        tenant: "tenant".into(),
        client_id: "client".into(),
        secret: Secret::new("secret"),
        scope: "https://graph.microsoft.com/.default".into(),
    }));
    GraphClient::new(
        Arc::new(Budget::new(1000, std::time::Duration::from_secs(1))),
        Arc::new(Budget::new(1000, std::time::Duration::from_secs(1))),
        RetryPolicy {
            max_attempts: 5,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
            request_timeout: std::time::Duration::from_secs(5),
        },
    )
    .with_tokens(tokens)
}

#[tokio::test]
async fn a_token_is_reused_while_good_and_renewed_before_it_expires() {
    // An hour's token: three pages, one token.
    let s = servers(3600, &["token-1", "token-2", "token-3"]).await;
    let graph = client(&s.base);
    let url = format!("{}/v1.0/auditLogs/directoryAudits", s.base);
    for _ in 0..3 {
        graph.page(&url, &mut Counters::default()).await.unwrap();
    }
    assert_eq!(s.issued.load(Ordering::SeqCst), 1);
    // A token with less than the refresh margin (5 minutes) left is replaced before use.
    let s = servers(120, &["token-1", "token-2", "token-3"]).await;
    let graph = client(&s.base);
    let url = format!("{}/v1.0/auditLogs/directoryAudits", s.base);
    for _ in 0..3 {
        graph.page(&url, &mut Counters::default()).await.unwrap();
    }
    assert_eq!(s.issued.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_401_renews_the_token_once() {
    // Graph revoked the first token early: one renewal, then the page.
    let s = servers(3600, &["token-2"]).await;
    let graph = client(&s.base);
    let url = format!("{}/v1.0/auditLogs/directoryAudits", s.base);
    graph.page(&url, &mut Counters::default()).await.unwrap();
    assert_eq!(
        (
            s.issued.load(Ordering::SeqCst),
            s.pages.load(Ordering::SeqCst)
        ),
        (2, 2)
    );
    // A Graph that refuses every token: renewed once, then the error, no loop.
    let s = servers(3600, &[]).await;
    let graph = client(&s.base);
    let url = format!("{}/v1.0/auditLogs/directoryAudits", s.base);
    let e = graph
        .page(&url, &mut Counters::default())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(s.issued.load(Ordering::SeqCst), 2, "{e}");
    assert_eq!(s.pages.load(Ordering::SeqCst), 2, "{e}");
    assert!(e.contains("access token was refused"), "{e}");
}
