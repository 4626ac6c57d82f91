//! A webhook receiver for the alert tests (detections, recommendations, health): it keeps the
//! JSON bodies it receives, and answers 503 while its switch is on.

use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use warp::Filter;

/// A webhook receiver: what it received, and a switch that makes it answer 503.
pub async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>, Arc<AtomicBool>) {
    let received: Arc<Mutex<Vec<Value>>> = Default::default();
    let failing = Arc::new(AtomicBool::new(false));
    let (r, f) = (received.clone(), failing.clone());
    let hook = warp::post()
        .and(warp::path!("hooks" / String))
        .and(warp::body::json())
        .map(move |_secret: String, body: Value| {
            if f.load(Ordering::SeqCst) {
                return warp::reply::with_status(
                    "busy",
                    warp::http::StatusCode::SERVICE_UNAVAILABLE,
                );
            }
            r.lock().unwrap().push(body);
            warp::reply::with_status("ok", warp::http::StatusCode::OK)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A webhook's path holds its secret, as Slack's and Teams' do.
    let url = format!(
        "http://{}/hooks/T000-secret-path",
        listener.local_addr().unwrap()
    );
    tokio::spawn(warp::serve(hook).incoming(listener).run());
    (url, received, failing)
}
