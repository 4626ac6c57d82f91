//! What every function receives and returns, whatever host called it.
//!
//! Hosts translate their triggers (the Azure envelope, a Lambda event, the local scheduler, a
//! plain HTTP request) into these types, and the answers back.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A boxed future, so the registry can hold plain function pointers.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which host runs the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    Local,
    Azure,
    Lambda,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Local => "local",
            HostKind::Azure => "azure",
            HostKind::Lambda => "lambda",
        }
    }
}

/// One invocation of one function: its identity, its log lines (returned to the Azure host in
/// `Logs`) and the shutdown signal a long run checks at its safe points.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub function: &'static str,
    pub id: String,
    pub host: HostKind,
    logs: Arc<Mutex<Vec<String>>>,
    shutdown: watch::Receiver<bool>,
}

impl Invocation {
    pub fn new(
        function: &'static str,
        id: String,
        host: HostKind,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            function,
            id,
            host,
            logs: Arc::default(),
            shutdown,
        }
    }

    /// Logs a line through `tracing` (inside the invocation's span) and keeps it for the host.
    pub fn log(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// The lines logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// True once the process is shutting down: stop at the next safe point.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// What a timer trigger says about the occurrence (Azure's `TimerInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerInfo {
    /// The occurrence fired later than scheduled (e.g. after a restart).
    pub past_due: bool,
    /// The previous occurrence, when the host's schedule monitor knows it.
    pub last: Option<String>,
    /// The next occurrence, when known.
    pub next: Option<String>,
}

/// An HTTP request, independent of the host that received it.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The path below `/api/`, e.g. `health`.
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Header names in lower case; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// Route parameters (`{kind}` in `reports/{kind}`).
    pub params: BTreeMap<String, String>,
    pub body: Bytes,
    /// Who is calling, once authenticated (set by the app, not by hosts).
    pub caller: Option<shared::auth::Caller>,
}

/// An HTTP response, independent of the host that sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
}

impl HttpResponse {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Self {
        let mut headers = BTreeMap::new();
        headers.insert(
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        );
        Self {
            status,
            headers,
            body: Bytes::from(value.to_string()),
        }
    }

    /// A JSON error: `{"error": {"code": ..., "message": ...}}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "error": { "code": code, "message": message.into() } }),
        )
    }

    /// The body as text (lossy for binary bodies).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a function failed. The message is logged and, for timers, recorded in the run history;
/// it never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error(transparent)]
    State(#[from] shared::state::StateError),
    #[error("{0}")]
    Failed(String),
}
