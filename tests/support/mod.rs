//! Stand-ins the shared crate's integration tests run against: a real Azurite (installed by
//! `bash tests/run` from npm), and local servers enforcing the documented contracts of the two
//! services that have no local emulator — the Logs Ingestion API and the Event Hubs HTTPS send
//! API (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>, <https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>).
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod azurite;
pub mod event_hubs;
pub mod ingestion;
pub mod moto;
pub mod webhook;

/// A scripted answer for the next calls of a protocol server: `Some(status)` answers that
/// status (429 with `Retry-After: 1`), `None` processes the call.
pub type Script = std::collections::VecDeque<Option<u16>>;

/// An error reply as the Azure data planes send them.
pub fn reply(status: u16, code: &str) -> warp::reply::Response {
    let mut r = warp::reply::Response::new(
        serde_json::json!({ "error": { "code": code, "message": code } })
            .to_string()
            .into(),
    );
    *r.status_mut() = warp::http::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("x-ms-error-code", code.parse().unwrap());
    if status == 429 {
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
    }
    r
}

pub fn empty(status: u16) -> warp::reply::Response {
    let mut r = warp::reply::Response::new(Default::default());
    *r.status_mut() = warp::http::StatusCode::from_u16(status).unwrap();
    r
}

/// What a server that is down or scripted answers instead of processing the call, counting
/// it as throttled or as a server error.
pub fn fault(
    down: bool,
    script: &mut Script,
    throttled: &mut usize,
    server_errors: &mut usize,
) -> Option<warp::reply::Response> {
    if down {
        *server_errors += 1;
        return Some(reply(503, "ServerBusy"));
    }
    if let Some(Some(status)) = script.pop_front() {
        if status == 429 {
            *throttled += 1;
        } else {
            *server_errors += 1;
        }
        return Some(reply(status, "Scripted"));
    }
    None
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
