//! The application every host drives: configuration, state, the clock, and the two ways in —
//! a timer occurrence or an HTTP request. Hosts stay thin: they translate their trigger and
//! call [`App::invoke_timer`] or [`App::handle_http`].

use crate::admission::{self, LocalAdminKey, Refusals};
use crate::functions::{self, Function, Handler};
use crate::invocation::{
    FunctionError, HostKind, HttpRequest, HttpResponse, Invocation, TimerInfo,
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
use shared::state::{Outcome, RunRecord, SqliteState, StateError, StateStore};
use std::collections::BTreeSet;
#[cfg(test)]
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tracing::Instrument;

/// One tenant's Graph sources: the reports API and Identity Protection have separate budgets.
#[derive(Clone)]
pub struct TenantSource {
    pub name: String,
    /// The categories collected for this tenant.
    pub categories: Vec<Category>,
    pub reports: Source,
    pub identity_protection: Source,
}

impl TenantSource {
    pub fn for_category(&self, category: Category) -> &Source {
        match category {
            Category::UserRiskEvents | Category::RiskyUsers => &self.identity_protection,
            _ => &self.reports,
        }
    }
}

/// The file in the data folder holding the key cursors are signed with.
pub const CURSOR_KEY_FILE: &str = "cursor-key";

pub struct App {
    tenants: std::sync::OnceLock<Vec<KnownTenant>>,
    sources: tokio::sync::OnceCell<Vec<TenantSource>>,
    authenticator: tokio::sync::OnceCell<Authenticator>,
    log_analytics_query: tokio::sync::OnceCell<LogAnalyticsQuery>,
    router: tokio::sync::OnceCell<Router>,
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
    pub fn new(config: Config, host: HostKind, clock: Arc<dyn Clock>) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            tenants: std::sync::OnceLock::new(),
            sources: tokio::sync::OnceCell::new(),
            authenticator: tokio::sync::OnceCell::new(),
            log_analytics_query: tokio::sync::OnceCell::new(),
            router: tokio::sync::OnceCell::new(),
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

    /// Where tokens for `resource` (Graph, Log Analytics, Event Hubs, Storage) come from when
    /// authenticating as `tenant` with `credential`.
    fn token_source(
        &self,
        name: &str,
        tenant: &str,
        credential: &Credential,
        resource: &str,
    ) -> Result<TokenSource, FunctionError> {
        let scope = format!("{resource}/.default");
        Ok(match credential {
            Credential::ClientSecret { client_id, secret } => TokenSource::ClientSecret {
                authority_host: self.config.authority_host.clone(),
                tenant: tenant.to_string(),
                client_id: client_id.clone(),
                secret: secret.clone(),
                scope,
            },
            Credential::ManagedIdentity { client_id } => {
                let (Ok(endpoint), Ok(header)) = (
                    std::env::var("IDENTITY_ENDPOINT"),
                    std::env::var("IDENTITY_HEADER"),
                ) else {
                    return Err(FunctionError::Failed(format!(
                        "{name}: managed identity is configured but this host offers none (IDENTITY_ENDPOINT and IDENTITY_HEADER are not set); enable the app's identity or use a client secret"
                    )));
                };
                TokenSource::ManagedIdentity {
                    endpoint,
                    header: shared::config::Secret::new(header),
                    resource: resource.to_string(),
                    client_id: client_id.clone(),
                }
            }
            Credential::Certificate { client_id, path } => TokenSource::Certificate {
                authority_host: self.config.authority_host.clone(),
                tenant: tenant.to_string(),
                client_id: client_id.clone(),
                pem_path: path.clone(),
                scope,
            },
            Credential::Simulated => {
                return Err(FunctionError::Failed(format!(
                    "{name}: a simulated tenant is used when no tenant is configured; remove the tenant settings"
                )));
            }
        })
    }

    /// Tokens for a destination's `resource`, as the configured destination credential.
    pub fn destination_tokens(&self, resource: &str) -> Result<Arc<TokenCache>, FunctionError> {
        let source = match &self.config.destinations.credential {
            DestinationCredential::ManagedIdentity => self.token_source(
                "destinations",
                "",
                &Credential::ManagedIdentity { client_id: None },
                resource,
            )?,
            DestinationCredential::Tenant(which) => {
                let t = self
                    .config
                    .tenants
                    .iter()
                    .find(|t| t.id.as_str() == which.to_ascii_lowercase() || &t.name == which)
                    .ok_or_else(|| {
                        FunctionError::Failed(format!("destination credential: no tenant {which}"))
                    })?;
                self.token_source(&t.name, t.id.as_str(), &t.credential, resource)?
            }
        };
        Ok(Arc::new(TokenCache::new(source)))
    }

    /// The Log Analytics query backend, when a workspace is configured.
    pub async fn log_analytics_query(&self) -> Result<&LogAnalyticsQuery, FunctionError> {
        self.log_analytics_query
            .get_or_try_init(|| async {
                let q = &self.config.query;
                let workspace = q.workspace_id.as_deref().ok_or_else(|| {
                    FunctionError::Failed(
                        "backend: log-analytics is not configured; set ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID".into(),
                    )
                })?;
                let tokens = self.destination_tokens("https://api.loganalytics.io")?;
                Ok(LogAnalyticsQuery::new(&q.endpoint, workspace, tokens))
            })
            .await
    }

    /// The router of collected records, built on first use from the destination settings.
    pub async fn router(&self) -> Result<&Router, FunctionError> {
        self.router
            .get_or_try_init(|| async { crate::routing::build(self) })
            .await
    }

    /// Sources for the configured tenants: Microsoft Graph with each tenant's credential, one
    /// budget per tenant and one for the app across them.
    fn graph_sources(&self) -> Result<Vec<TenantSource>, FunctionError> {
        let app_budget = Arc::new(Budget::reports_per_app());
        let mut out = Vec::new();
        for t in &self.config.tenants {
            let token = self.token_source(
                &t.name,
                t.id.as_str(),
                &t.credential,
                &self.config.graph_host,
            )?;
            let tokens = Arc::new(TokenCache::new(token));
            let source = |budget: Budget| Source {
                tenant: t.id.to_string(),
                graph_base: self.config.graph_host.clone(),
                client: GraphClient::new(
                    Arc::new(budget),
                    app_budget.clone(),
                    RetryPolicy::default(),
                )
                .with_tokens(tokens.clone()),
            };
            out.push(TenantSource {
                name: t.name.clone(),
                categories: t.categories.clone(),
                reports: source(Budget::reports_per_tenant()),
                identity_protection: source(Budget::identity_protection_per_tenant()),
            });
        }
        Ok(out)
    }

    pub fn config(&self) -> &Config {
        &self.config
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

    /// The Graph sources of every tenant. With no tenant configured this starts the simulated
    /// tenant's Graph server on a loopback port, once, and reads it over real HTTP.
    pub async fn sources(&self) -> Result<&[TenantSource], FunctionError> {
        self.sources
            .get_or_try_init(|| async {
                if !self.config.uses_simulated_tenant() {
                    return self.graph_sources();
                }
                let tenant = SimulatedTenant::new(self.config.simulated_seed, self.config.simulated_users);
                let tenant_id = tenant.directory.tenant_id.clone();
                let base = match &self.config.simulated_graph_url {
                    Some(url) => url.clone(),
                    None => SimServer::new(tenant, self.clock.clone(), Faults::default())
                        .start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                        .await
                        .map_err(|e| FunctionError::Failed(format!("cannot start the simulated tenant: {e}")))?,
                };
                tracing::info!(tenant = %tenant_id, users = self.config.simulated_users, "simulated tenant serving Graph at {base}");
                let app_budget = Arc::new(Budget::reports_per_app());
                let source = |budget: Budget| Source {
                    tenant: tenant_id.clone(),
                    graph_base: base.clone(),
                    client: GraphClient::new(Arc::new(budget), app_budget.clone(), RetryPolicy::default()),
                };
                Ok(vec![TenantSource {
                    name: "simulated".into(),
                    categories: self.config.categories.clone(),
                    reports: source(Budget::new(self.config.simulated_budget, std::time::Duration::from_secs(10))),
                    identity_protection: source(Budget::identity_protection_per_tenant()),
                }])
            })
            .await
            .map(Vec::as_slice)
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
        let function =
            functions::find(name).ok_or_else(|| InvokeError::UnknownFunction(name.to_string()))?;
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

    /// Finds the HTTP function serving `method` on `path` (the part below `/api/`).
    pub fn route(
        &self,
        method: &str,
        path: &str,
    ) -> Result<
        (
            &'static Function,
            std::collections::BTreeMap<String, String>,
        ),
        HttpResponse,
    > {
        let mut allowed = Vec::new();
        for f in functions::REGISTRY.iter() {
            let Trigger::Http { route, methods, .. } = f.spec.trigger else {
                continue;
            };
            let Some(params) = match_route(route, path) else {
                continue;
            };
            if Method::parse(method).is_some_and(|m| methods.contains(&m)) {
                return Ok((f, params));
            }
            allowed.extend(methods.iter().map(|m| m.as_str()));
        }
        if allowed.is_empty() {
            Err(HttpResponse::error(
                404,
                "NotFound",
                format!(
                    "no endpoint at /api/{}; see /api/health for the list",
                    path.trim_matches('/')
                ),
            ))
        } else {
            let mut r = HttpResponse::error(
                405,
                "MethodNotAllowed",
                format!(
                    "/api/{} accepts {}",
                    path.trim_matches('/'),
                    allowed.join(", ")
                ),
            );
            r.headers.insert("allow".into(), allowed.join(", "));
            Err(r)
        }
    }

    /// Runs an HTTP function on a request already routed to it.
    pub async fn invoke_http(
        self: &Arc<Self>,
        function: &'static Function,
        req: HttpRequest,
        invocation_id: String,
    ) -> Result<(HttpResponse, Vec<String>), InvokeError> {
        let Handler::Http(handler) = function.handler else {
            return Err(InvokeError::NotHttp(function.spec.name.to_string()));
        };
        let name = function.spec.name;
        let span = tracing::info_span!("invocation", function = name, invocation_id = %invocation_id, host = self.host.as_str());
        let inv = self.invocation(name, invocation_id);
        async {
            // On a task of its own, so a panic (a bug) is a 500 with its invocation id, never a
            // connection dropped without an answer.
            let answered = tokio::spawn(handler(self.clone(), inv.clone(), req).in_current_span())
                .await
                .unwrap_or_else(|e| {
                    Err(FunctionError::Failed(if e.is_panic() {
                        "the function panicked (a bug: please report it with this invocation's log)"
                            .into()
                    } else {
                        format!("the function was stopped: {e}")
                    }))
                });
            match answered {
                Ok(resp) => {
                    tracing::debug!(status = resp.status, "answered");
                    Ok((resp, inv.logs()))
                }
                Err(error) => {
                    tracing::error!(error = %error, "{name} failed");
                    inv.log(format!("failed: {error}"));
                    Err(InvokeError::Failed {
                        function: name,
                        error,
                        logs: inv.logs(),
                    })
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The tenants collected from (configured, or the simulated one), known without starting
    /// anything: answering a question never starts the simulated Graph.
    pub fn tenants(&self) -> &[KnownTenant] {
        self.tenants.get_or_init(|| {
            if self.config.uses_simulated_tenant() {
                let tenant =
                    SimulatedTenant::new(self.config.simulated_seed, self.config.simulated_users);
                vec![KnownTenant {
                    id: tenant.directory.tenant_id.clone(),
                    name: "simulated".into(),
                }]
            } else {
                self.config
                    .tenants
                    .iter()
                    .map(|t| KnownTenant {
                        id: t.id.to_string(),
                        name: t.name.clone(),
                    })
                    .collect()
            }
        })
    }

    /// The authenticator, knowing the tenants (configured, or the simulated one).
    async fn authenticator(&self) -> Result<&Authenticator, FunctionError> {
        self.authenticator
            .get_or_try_init(|| async {
                Ok(Authenticator::new(
                    self.config.auth.clone(),
                    self.tenants().to_vec(),
                    &self.config.authority_host,
                ))
            })
            .await
    }

    /// What answers' cursors are signed with: a secret kept in the data folder (so that a
    /// cursor outlives a restart and is good on every instance sharing the folder), else one of
    /// this process when the folder cannot hold it.
    pub fn cursor_key(&self) -> &shared::query::params::CursorKey {
        self.cursor_key.get_or_init(|| {
            let path = self.config.data_dir.join(CURSOR_KEY_FILE);
            let secret = crate::admission::ensure_secret(&path)
                .ok()
                .filter(|s| s.trim().len() >= 32)
                .unwrap_or_else(|| {
                    tracing::warn!(
                        "cannot keep the cursor key in {}: cursors end with this process",
                        path.display()
                    );
                    crate::admission::new_secret()
                });
            shared::query::params::CursorKey::new(secret.trim().as_bytes())
        })
    }

    /// The local admin key (local host only), created in the data folder on first use.
    pub fn local_admin_key(&self) -> Option<&LocalAdminKey> {
        if self.host != HostKind::Local {
            return None;
        }
        self.local_admin
            .get_or_init(|| match LocalAdminKey::ensure(&self.config.data_dir) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::warn!(
                        "no local admin key ({e}); state-changing requests need an API key or a token"
                    );
                    None
                }
            })
            .as_ref()
    }

    /// Who is calling. Configured API keys and Entra audience apply on every host: with them,
    /// a request must carry one of those credentials (on Azure in addition to the function key
    /// the Functions host checked). With none configured, a local host on loopback trusts its
    /// caller to read (not to change state: that takes the local admin key), and on Azure a
    /// function-level request has passed the host's key check.
    async fn caller(&self, req: &HttpRequest, level: AuthLevel) -> Result<Caller, Unauthenticated> {
        if let (Some(key), Some(admin)) = (req.headers.get("x-api-key"), self.local_admin_key())
            && admin.matches(key)
        {
            return Ok(Caller::with_credential("local admin", None));
        }
        let auth = self
            .authenticator()
            .await
            .map_err(|e| Unauthenticated(format!("authentication is unavailable: {e}")))?;
        if auth.configured() {
            return auth.authenticate(&req.headers).await;
        }
        if self.host == HostKind::Local && self.config.listen.ip().is_loopback() {
            return Ok(Caller::local());
        }
        if self.host == HostKind::Azure && level == AuthLevel::Function {
            return Ok(Caller::with_credential("function key", None));
        }
        Err(Unauthenticated(
            "no credential is accepted here: configure ENTRA_MONITOR_API_KEYS or ENTRA_MONITOR_AUTH_AUDIENCE".into(),
        ))
    }

    /// Lets a request in, or answers why not, from its method, path and headers alone — before
    /// its body is read (see [`crate::admission`]).
    pub async fn admit(&self, req: &HttpRequest) -> Result<Admitted, HttpResponse> {
        if self.host == HostKind::Local && self.config.listen.ip().is_loopback() {
            admission::check_host(&req.headers)?;
        }
        admission::check_origin(&req.headers)?;
        // HEAD is answered as GET without the body.
        let method = if req.method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            req.method.as_str()
        };
        let (function, params) = self.route(method, &req.path)?;
        let level = match function.spec.trigger {
            Trigger::Http { auth, .. } => auth,
            Trigger::Timer { .. } => AuthLevel::Anonymous,
        };
        let unauthenticated = |message: String| {
            self.refusals.note(function.spec.name, &message);
            let mut r = HttpResponse::error(401, "Unauthenticated", message);
            r.headers.insert(
                "www-authenticate".into(),
                "Bearer realm=\"entra-monitor\"".into(),
            );
            r
        };
        let caller = match self.caller(req, level).await {
            Ok(c) => Some(c),
            Err(e) if level != AuthLevel::Anonymous => return Err(unauthenticated(e.to_string())),
            Err(_) => None,
        };
        let changes_state = method != "GET";
        if changes_state && !caller.as_ref().is_some_and(|c| c.credentialed) {
            let hint = match self.local_admin_key() {
                Some(k) => format!(
                    "state-changing requests need a credential even on loopback: send the local admin key (the contents of {}) in x-api-key",
                    k.path.display()
                ),
                None => "state-changing requests need a credential: an API key in x-api-key or an Entra access token".into(),
            };
            return Err(unauthenticated(hint));
        }
        admission::check_body(&req.method, &req.headers, None)?;
        Ok(Admitted {
            function,
            params,
            caller,
        })
    }

    /// Answers a request already let in by [`App::admit`], with its body read.
    pub async fn answer(
        self: &Arc<Self>,
        admitted: Admitted,
        mut req: HttpRequest,
        invocation_id: String,
    ) -> Answered {
        if let Err(r) = admission::check_body(&req.method, &req.headers, Some(req.body.len())) {
            return Answered::refused(r);
        }
        let head = req.method.eq_ignore_ascii_case("HEAD");
        if head {
            req.method = "GET".into();
        }
        req.params = admitted.params;
        req.caller = admitted.caller;
        let function = admitted.function;
        let (mut resp, logs, failed) =
            match self.invoke_http(function, req, invocation_id.clone()).await {
                Ok((resp, logs)) => (resp, logs, false),
                Err(e) => (
                    HttpResponse::error(
                        500,
                        "FunctionFailed",
                        format!(
                            "{} failed; the reason is logged under invocation id {invocation_id}",
                            function.spec.name
                        ),
                    ),
                    e.logs(),
                    true,
                ),
            };
        if head {
            resp.headers
                .insert("content-length".into(), resp.body.len().to_string());
            resp.body = bytes::Bytes::new();
        }
        Answered { resp, logs, failed }
    }

    /// Lets in and answers a request whose body is already read (Lambda, the Azure envelope,
    /// `entra-monitor run`), with the invocation's log lines.
    pub async fn handle_http_logged(
        self: &Arc<Self>,
        req: HttpRequest,
        invocation_id: String,
    ) -> Answered {
        match self.admit(&req).await {
            Ok(admitted) => self.answer(admitted, req, invocation_id).await,
            Err(r) => Answered::refused(r),
        }
    }

    /// Routes and answers an HTTP request. A failed function becomes a 500 whose body names
    /// the invocation to look up in the logs (the reason is logged, not sent).
    pub async fn handle_http(
        self: &Arc<Self>,
        req: HttpRequest,
        invocation_id: String,
    ) -> HttpResponse {
        self.handle_http_logged(req, invocation_id).await.resp
    }
}

/// An HTTP function's answer, its invocation's log lines, and whether the function failed
/// (rather than answered, perhaps with an error status of its own).
pub struct Answered {
    pub resp: HttpResponse,
    pub logs: Vec<String>,
    pub failed: bool,
}

impl Answered {
    fn refused(resp: HttpResponse) -> Self {
        Self {
            resp,
            logs: Vec::new(),
            failed: false,
        }
    }
}

/// A request let in: the function it goes to, its route parameters, who is calling.
pub struct Admitted {
    pub function: &'static Function,
    pub params: std::collections::BTreeMap<String, String>,
    pub caller: Option<Caller>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::clock::FixedClock;
    use shared::config::Host;

    fn app(data_dir: &std::path::Path) -> Arc<App> {
        let mut config = Config::defaults(Host::Local);
        config.data_dir = data_dir.to_path_buf();
        let clock = FixedClock::new(chrono::DateTime::from_timestamp(1_795_773_900, 0).unwrap());
        App::new(config, HostKind::Local, Arc::new(clock))
    }

    #[test]
    fn a_function_cannot_start_twice_at_once() {
        let app = app(Path::new("unused"));
        let first = app.try_start("collect-audit").expect("first start");
        assert!(app.is_running("collect-audit"));
        assert!(
            app.try_start("collect-audit").is_none(),
            "a second run overlapped the first"
        );
        // Other functions are independent.
        assert!(app.try_start("collect-signins").is_some());
        drop(first);
        assert!(!app.is_running("collect-audit"));
        assert!(app.try_start("collect-audit").is_some());
    }

    #[tokio::test]
    async fn an_occurrence_while_the_function_runs_is_skipped_and_recorded() {
        let dir = std::env::temp_dir().join(format!("entra-app-skip-{}", std::process::id()));
        let app = app(&dir);
        let guard = app.try_start("collect-audit").unwrap();
        let report = app
            .invoke_timer("collect-audit", TimerInfo::default(), "second".into())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Skipped);
        drop(guard);
        let last = app.state().unwrap().last_runs().unwrap();
        assert_eq!(last["collect-audit"].outcome, Outcome::Skipped);
        assert_eq!(last["collect-audit"].invocation_id, "second");
        // The fixed clock stamps the run.
        assert_eq!(last["collect-audit"].started_at, app.now());
        let report = app
            .invoke_timer("collect-audit", TimerInfo::default(), "third".into())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Succeeded);
        std::fs::remove_dir_all(&dir).ok();
    }
}
