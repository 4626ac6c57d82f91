//! The application every host drives: configuration, state, the clock, and the two ways in —
//! a timer occurrence or an HTTP request. Hosts stay thin: they translate their trigger and
//! call [`App::invoke_timer`] or [`App::handle_http`].

use crate::admission::{self, LocalAdminKey, Refusals};
use crate::invocation::{
    BoxFuture, FunctionError, HostKind, HttpRequest, HttpResponse, Invocation, TimerInfo,
};
use shared::auth::{Authenticator, Caller, KnownTenant, Unauthenticated};
use shared::clock::Clock;
use shared::config::Config;
use shared::config::{Credential, DestinationCredential};
use shared::destinations::router::Router;
use shared::model::Category;
use shared::pipeline::Source;
use shared::query::log_analytics::LogAnalyticsQuery;
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger, match_route};
use shared::schedule::Schedule;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::source::budget::Budget;
use shared::source::graph::{GraphClient, RetryPolicy};
use shared::source::token::{TokenCache, TokenSource};
use shared::state::{Outcome, RunRecord, Runs, SqliteState, StateError};
use std::collections::BTreeSet;
#[cfg(test)]
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tracing::Instrument;

/// What a timer function returns: a one-line summary of what the run did.
pub type TimerResult = Result<String, FunctionError>;

/// What an HTTP function returns.
pub type HttpResult = Result<HttpResponse, FunctionError>;

/// How a function is run.
#[derive(Clone, Copy)]
pub enum Handler {
    Timer(fn(Arc<App>, Invocation, TimerInfo) -> BoxFuture<TimerResult>),
    Http(fn(Arc<App>, Invocation, HttpRequest) -> BoxFuture<HttpResult>),
}

/// A registered function: its declaration and its code.
#[derive(Clone, Copy)]
pub struct Function {
    pub spec: &'static FunctionSpec,
    pub handler: Handler,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function").field("spec", self.spec).finish()
    }
}

pub struct App {
    /// The function set (`crate::functions::REGISTRY`), given by whoever builds the app.
    registry: &'static [Function],
    tenants: std::sync::OnceLock<Vec<KnownTenant>>,
    sources: tokio::sync::OnceCell<Vec<TenantSource>>,
    authenticator: tokio::sync::OnceCell<Authenticator>,
    log_analytics_query: tokio::sync::OnceCell<LogAnalyticsQuery>,
    router: tokio::sync::OnceCell<Router>,
    shared_state: tokio::sync::OnceCell<Option<shared::state::settings::Shared>>,
    config: Config,
    host: HostKind,
    clock: Arc<dyn Clock>,
    state: Mutex<Option<Arc<SqliteState>>>,
    local_admin: std::sync::OnceLock<Option<LocalAdminKey>>,
    cursor_key: std::sync::OnceLock<shared::query::params::CursorKey>,
    refusals: Refusals,
    running: Mutex<BTreeSet<&'static str>>,
    /// Runs the state store could not record (a full disk, say), newest per function: health
    /// shows them instead of an older stored run.
    unrecorded: Mutex<std::collections::BTreeMap<String, RunRecord>>,
    shutdown: watch::Sender<bool>,
}

/// What a timer invocation produced.
#[derive(Debug, Clone)]
pub struct TimerReport {
    pub outcome: Outcome,
    pub detail: String,
    pub duration_ms: i64,
    pub logs: Vec<String>,
}

/// Why a timer invocation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("no function named \"{0}\"; `entra-monitor functions` lists them")]
    UnknownFunction(String),
    #[error("\"{0}\" is not a timer function")]
    NotATimer(String),
    #[error("\"{0}\" is not an HTTP function")]
    NotHttp(String),
    #[error("{function} failed: {error}")]
    Failed {
        function: &'static str,
        error: FunctionError,
        logs: Vec<String>,
    },
}

impl InvokeError {
    /// The invocation's log lines, including the failure.
    pub fn logs(&self) -> Vec<String> {
        match self {
            InvokeError::Failed { logs, .. } => logs.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Marks a function as running for as long as it lives.
struct RunningGuard<'a> {
    app: &'a App,
    name: &'static str,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.app
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.name);
    }
}

impl App {
    pub fn new(
        config: Config,
        host: HostKind,
        clock: Arc<dyn Clock>,
        registry: &'static [Function],
    ) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            registry,
            tenants: std::sync::OnceLock::new(),
            sources: tokio::sync::OnceCell::new(),
            authenticator: tokio::sync::OnceCell::new(),
            log_analytics_query: tokio::sync::OnceCell::new(),
            router: tokio::sync::OnceCell::new(),
            shared_state: tokio::sync::OnceCell::new(),
            config,
            host,
            clock,
            state: Mutex::new(None),
            local_admin: std::sync::OnceLock::new(),
            cursor_key: std::sync::OnceLock::new(),
            refusals: Refusals::default(),
            running: Mutex::default(),
            unrecorded: Mutex::default(),
            shutdown,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Function `name` of the set (any case, as Azure treats function names).
    pub fn find(&self, name: &str) -> Option<&'static Function> {
        self.registry
            .iter()
            .find(|f| f.spec.name.eq_ignore_ascii_case(name))
    }

    /// The detections' thresholds. With the simulated tenant as the source and no privileged
    /// groups or anonymising-address list configured, the simulated directory's privileged
    /// groups and its Tor exit ranges are used — what its administrator would configure — so
    /// the default path finds the members added to them and the sign-ins from them.
    pub fn detection_thresholds(&self) -> shared::detect::Thresholds {
        let mut t = self.config.detections.clone();
        if self.config.uses_simulated_tenant() && t.anonymous_ips.is_empty() {
            t.anonymous_ips = shared::simulated::attacks::ANONYMISING_PREFIXES
                .iter()
                .map(|p| p.to_string())
                .collect();
        }
        if self.config.uses_simulated_tenant() && t.privileged_groups.is_empty() {
            t.privileged_groups =
                SimulatedTenant::new(self.config.simulated_seed, self.config.simulated_users)
                    .directory
                    .groups
                    .iter()
                    .filter(|g| g.privileged)
                    .map(|g| g.display_name.clone())
                    .collect();
        }
        t
    }

    pub fn host(&self) -> HostKind {
        self.host
    }

    /// The runs the state store could not record, by function (see `unrecorded`).
    pub fn unrecorded_runs(&self) -> std::collections::BTreeMap<String, RunRecord> {
        self.unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The state store, opened on first use (so a host answers its first request fast, and a
    /// broken store fails the invocations that need it with the reason, instead of the start).
    pub fn state(&self) -> Result<Arc<SqliteState>, StateError> {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(SqliteState::open(&self.config.data_dir)?);
        *slot = Some(s.clone());
        Ok(s)
    }

    /// The schedule a timer function runs on: the configured override, or its default.
    pub fn schedule_of(&self, spec: &FunctionSpec) -> Schedule {
        if let Some(s) = self.config.schedules.get(spec.name) {
            return s.clone();
        }
        match spec.trigger {
            // Registry schedules are checked by a unit test.
            Trigger::Timer { schedule } => {
                Schedule::parse(schedule).expect("registry schedules are valid")
            }
            Trigger::Http { .. } => panic!("{} is not a timer function", spec.name),
        }
    }

    pub fn is_running(&self, name: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
    }

    /// A receiver that turns `true` when the process starts shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks running functions to stop at their next safe point and schedulers to stop.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    fn invocation(&self, function: &'static str, id: String) -> Invocation {
        Invocation::new(function, id, self.host, self.shutdown.subscribe())
    }

    /// Runs one occurrence of a timer function and records it in the run history. A second
    /// occurrence while the first still runs is skipped (and recorded as skipped), so runs of
    /// one function never overlap within a process.
    pub async fn invoke_timer(
        self: &Arc<Self>,
        name: &str,
        timer: TimerInfo,
        invocation_id: String,
    ) -> Result<TimerReport, InvokeError> {
        let function = self
            .find(name)
            .ok_or_else(|| InvokeError::UnknownFunction(name.to_string()))?;
        let Handler::Timer(handler) = function.handler else {
            return Err(InvokeError::NotATimer(function.spec.name.to_string()));
        };
        let name = function.spec.name;
        let span = tracing::info_span!("invocation", function = name, invocation_id = %invocation_id, host = self.host.as_str());
        let inv = self.invocation(name, invocation_id.clone());
        async {
            let started_at = self.now();
            let clock = std::time::Instant::now();
            let result = match self.state() {
                Err(e) => Err(FunctionError::State(e)),
                Ok(_) => match self.try_start(name) {
                    None => {
                        inv.log(format!(
                            "skipped: the previous run of {name} is still in progress"
                        ));
                        Ok((
                            Outcome::Skipped,
                            "previous run still in progress".to_string(),
                        ))
                    }
                    Some(_guard) => handler(self.clone(), inv.clone(), timer.clone())
                        .await
                        .map(|detail| (Outcome::Succeeded, detail)),
                },
            };
            let duration_ms = clock.elapsed().as_millis() as i64;
            let (outcome, detail) = match &result {
                Ok((outcome, detail)) => (*outcome, detail.clone()),
                Err(e) => (Outcome::Failed, e.to_string()),
            };
            match outcome {
                Outcome::Failed => {
                    tracing::error!(duration_ms, error = %detail, "{name} failed");
                    inv.log(format!("failed: {detail}"));
                }
                _ => inv.log(format!("{}: {detail} ({duration_ms} ms)", outcome.as_str())),
            }
            let record = RunRecord {
                function: name.to_string(),
                invocation_id: invocation_id.clone(),
                host: self.host.as_str().to_string(),
                started_at,
                finished_at: self.now(),
                duration_ms,
                outcome,
                detail: detail.clone(),
                past_due: timer.past_due,
            };
            let recorded = self.state().and_then(|state| state.record_run(&record));
            let mut unrecorded = self.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
            match recorded {
                Ok(()) => {
                    unrecorded.remove(name);
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record the run of {name}");
                    inv.log(format!("could not record the run: {e}"));
                    unrecorded.insert(name.to_string(), record);
                }
            }
            drop(unrecorded);
            match result {
                Ok(_) => Ok(TimerReport {
                    outcome,
                    detail,
                    duration_ms,
                    logs: inv.logs(),
                }),
                Err(error) => Err(InvokeError::Failed {
                    function: name,
                    error,
                    logs: inv.logs(),
                }),
            }
        }
        .instrument(span)
        .await
    }

    fn try_start(&self, name: &'static str) -> Option<RunningGuard<'_>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // `then`, not `then_some`: an eagerly built guard would be dropped on refusal, clearing
        // the mark of the run still going (and re-locking this mutex).
        running
            .insert(name)
            .then(|| RunningGuard { app: self, name })
    }
}

mod http;
mod sources;
#[cfg(test)]
mod tests;

pub use http::{Admitted, Answered, CURSOR_KEY_FILE};
pub use sources::TenantSource;
