//! Typed configuration, read from `ENTRA_MONITOR_*` environment variables and an optional TOML
//! file, validated once at start.
//!
//! Every problem is collected and reported together, one line each, naming the setting and
//! what is expected, so a user fixes a broken deployment in one pass. Secret values live in
//! [`Secret`], whose `Debug` and `Display` never show them.

mod auth;
mod destinations;
mod detections;
pub(crate) mod given;
mod http;
mod query;
pub mod recommendations;

pub use crate::secret::Secret;
pub use auth::{ApiKey, AuthSettings};
pub use destinations::{
    DestinationCredential, DestinationSettings, EventHubsSetting, LogAnalyticsSetting,
    SpoolSetting, StorageSetting,
};
pub use http::HttpLimits;
pub use query::QuerySettings;
pub use recommendations::RecommendationSettings;

use crate::model::{Category, Destination, TenantId};
use crate::schedule::Schedule;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the state lives on Azure when `$HOME` is a network share: the instance's local disk.
pub const AZURE_LOCAL_DATA_DIR: &str = "/tmp/entra-monitor";

/// Prefix of every environment variable this program reads.
pub const ENV_PREFIX: &str = "ENTRA_MONITOR_";

/// Which host the process runs under; it decides defaults such as where state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `entra-monitor serve` / `run` on a laptop or server.
    Local,
    /// Azure Functions custom handler.
    Azure,
    /// AWS Lambda.
    Lambda,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for Application Insights and CloudWatch.
    Json,
}

/// How the program authenticates to a tenant's Microsoft Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// App registration with a client secret.
    ClientSecret { client_id: String, secret: Secret },
    /// App registration with a certificate (PEM file holding key and certificate).
    Certificate { client_id: String, path: PathBuf },
    /// The host's managed identity (system-assigned, or user-assigned when `client_id` is set).
    ManagedIdentity { client_id: Option<String> },
    /// The built-in simulated tenant: no credentials, no network.
    Simulated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    pub id: TenantId,
    /// A short name for logs and reports; defaults to the tenant id.
    pub name: String,
    pub credential: Credential,
    /// The categories collected for this tenant (all by default).
    pub categories: Vec<Category>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info` or `info,shared=debug`.
    pub log_filter: String,
    /// Configured tenants; when empty, the simulated tenant is the source.
    pub tenants: Vec<TenantConfig>,
    /// The categories collected where a tenant does not say (all by default); also the
    /// simulated tenant's.
    pub categories: Vec<Category>,
    /// Schedule overrides by function name.
    pub schedules: BTreeMap<String, Schedule>,
    /// Destinations per category; every category has an entry.
    pub routes: BTreeMap<Category, Vec<Destination>>,
    /// The destinations' own settings, the spool and retention.
    pub destinations: DestinationSettings,
    /// Who may call the question endpoints.
    pub auth: AuthSettings,
    /// Where the question endpoints read.
    pub query: QuerySettings,
    /// Limits of the HTTP listener.
    pub http: HttpLimits,
    /// State shared by the instances (the collection leases), if any.
    pub state: crate::state::settings::StateSettings,
    /// Risk detection thresholds.
    pub detections: crate::detect::Thresholds,
    /// Where new detections are alerted, if anywhere.
    pub alerts: Option<crate::detect::alerts::AlertSettings>,
    /// Dismissals and confirmations made here are also sent to Graph's `riskyUsers/dismiss` /
    /// `confirmCompromised` (needs IdentityRiskyUser.ReadWrite.All).
    pub risk_write_back: bool,
    /// Recommendation thresholds, alerting and write-back.
    pub recommendations: RecommendationSettings,
    /// How long a shutdown waits for running functions to reach a safe point.
    pub shutdown_grace: Duration,
    /// How much history the first collection run reads.
    pub backfill: chrono::Duration,
    /// How long after the fact a record is first read.
    pub settle: chrono::Duration,
    /// Overlap overrides by category: how far back each run re-reads for late records.
    pub overlaps: BTreeMap<Category, chrono::Duration>,
    /// How long one collection run may take before it stops at a safe point (the next run
    /// continues); well inside the Consumption plan's 5-minute default timeout.
    pub run_budget: Duration,
    /// Seed of the simulated tenant (when no tenant is configured).
    pub simulated_seed: u64,
    /// Where the simulated tenant's clock starts (it then runs in real time): a day replayed
    /// the same way on every run. Only with the simulated tenant.
    pub simulated_start: Option<chrono::DateTime<chrono::Utc>>,
    /// Number of users of the simulated tenant.
    pub simulated_users: usize,
    /// The identity platform (`https://login.microsoftonline.com`; sovereign clouds differ).
    pub authority_host: String,
    /// Microsoft Graph (`https://graph.microsoft.com`; sovereign clouds differ).
    pub graph_host: String,
    /// Reports-API requests per 10 s the simulated tenant's collectors allow themselves
    /// (Graph's own limit, 5, by default; tests raise it).
    pub simulated_budget: usize,
    /// Read a simulated tenant already serving at this address instead of starting one.
    pub simulated_graph_url: Option<String>,
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The setting, as the user wrote it (`ENTRA_MONITOR_LISTEN`, `tenants[0].id`, ...).
    pub setting: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// Every problem found, in the order they were found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration error: {p}")?;
        }
        Ok(())
    }
}

/// Where configuration comes from: an optional file and a set of environment variables
/// (passed in, so tests never touch the process environment).
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

impl ConfigSource {
    /// The process environment, and the file named by `--config` or `ENTRA_MONITOR_CONFIG`.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let file = file.or_else(|| env.get("ENTRA_MONITOR_CONFIG").map(PathBuf::from));
        Self { file, env }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    log_format: Option<String>,
    log_filter: Option<String>,
    shutdown_grace_seconds: Option<u64>,
    backfill_hours: Option<u64>,
    settle_minutes: Option<u64>,
    #[serde(default)]
    overlap_minutes: BTreeMap<String, u64>,
    run_budget_seconds: Option<u64>,
    simulated_seed: Option<u64>,
    simulated_start: Option<String>,
    simulated_users: Option<u64>,
    simulated_budget: Option<u64>,
    authority_host: Option<String>,
    graph_host: Option<String>,
    /// A multi-tenant app registration used by every tenant that names no credential.
    client_id: Option<String>,
    client_secret_env: Option<String>,
    categories: Option<Vec<String>>,
    #[serde(default)]
    tenants: Vec<FileTenant>,
    #[serde(default)]
    schedules: BTreeMap<String, String>,
    #[serde(default)]
    routes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    storage: crate::destinations::storage::config::FileStorage,
    #[serde(default)]
    log_analytics: crate::destinations::log_analytics::config::FileLogAnalytics,
    #[serde(default)]
    event_hubs: crate::destinations::event_hubs::config::FileEventHubs,
    #[serde(default)]
    spool: destinations::FileSpool,
    retention_days: Option<u64>,
    destination_credential: Option<String>,
    #[serde(default)]
    auth: auth::FileAuth,
    #[serde(default)]
    api_keys: Vec<auth::FileApiKey>,
    #[serde(default)]
    query: query::FileQuery,
    #[serde(default)]
    http: http::FileHttp,
    #[serde(default)]
    state: crate::state::settings::FileState,
    #[serde(default)]
    detections: detections::FileDetections,
    #[serde(default)]
    recommendations: recommendations::FileRecommendations,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTenant {
    id: Option<String>,
    name: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_env: Option<String>,
    certificate_path: Option<PathBuf>,
    #[serde(default)]
    managed_identity: bool,
    #[serde(default)]
    simulated: bool,
    categories: Option<Vec<String>>,
}

/// Environment variables this program knows, besides the per-function and per-category ones.
const KNOWN_ENV: &[&str] = &[
    "ENTRA_MONITOR_CONFIG",
    "ENTRA_MONITOR_DATA_DIR",
    "ENTRA_MONITOR_LISTEN",
    "ENTRA_MONITOR_LOG_FORMAT",
    "ENTRA_MONITOR_LOG",
    "ENTRA_MONITOR_SHUTDOWN_GRACE_SECONDS",
    "ENTRA_MONITOR_TENANT_ID",
    "ENTRA_MONITOR_TENANT_NAME",
    "ENTRA_MONITOR_CLIENT_ID",
    "ENTRA_MONITOR_CLIENT_SECRET",
    "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH",
    "ENTRA_MONITOR_MANAGED_IDENTITY",
    "ENTRA_MONITOR_LAMBDA_FUNCTION",
    "ENTRA_MONITOR_BACKFILL_HOURS",
    "ENTRA_MONITOR_RUN_BUDGET_SECONDS",
    "ENTRA_MONITOR_SIMULATED_SEED",
    "ENTRA_MONITOR_SIMULATED_START",
    "ENTRA_MONITOR_SIMULATED_USERS",
    "ENTRA_MONITOR_SIMULATED_GRAPH_URL",
    "ENTRA_MONITOR_SIMULATED_BUDGET",
    "ENTRA_MONITOR_AUTHORITY_HOST",
    "ENTRA_MONITOR_GRAPH_HOST",
    "ENTRA_MONITOR_CATEGORIES",
    "ENTRA_MONITOR_SETTLE_MINUTES",
];

/// Whether an `http(s)://host[:port]/...` URL names this machine (`localhost`, a loopback
/// address).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or(authority, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `collect-signins` → `ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS`.
pub fn schedule_env_var(function: &str) -> String {
    format!(
        "{ENV_PREFIX}SCHEDULE_{}",
        function.to_ascii_uppercase().replace('-', "_")
    )
}

/// `SignInLogs` → `ENTRA_MONITOR_OVERLAP_MINUTES_SIGNINLOGS`.
pub fn overlap_env_var(category: Category) -> String {
    format!(
        "{ENV_PREFIX}OVERLAP_MINUTES_{}",
        category.name().to_ascii_uppercase()
    )
}

/// `SignInLogs` → `ENTRA_MONITOR_ROUTES_SIGNINLOGS`.
pub fn routes_env_var(category: Category) -> String {
    format!(
        "{ENV_PREFIX}ROUTES_{}",
        category.name().to_ascii_uppercase()
    )
}

impl Config {
    /// Reads and validates the configuration for `host`. `timer_functions` are the names
    /// whose schedules may be overridden.
    pub fn load(
        source: &ConfigSource,
        host: Host,
        timer_functions: &[&str],
    ) -> Result<Config, ConfigErrors> {
        let mut problems = Vec::new();
        let mut problem = |setting: &str, message: String| {
            problems.push(ConfigProblem {
                setting: setting.to_string(),
                message,
            });
        };
        let env = &source.env;
        let p = &mut problem;
        let file = match &source.file {
            None => FileConfig::default(),
            Some(path) => read::read_file(path).unwrap_or_else(|message| {
                p(&path.display().to_string(), message);
                FileConfig::default()
            }),
        };
        read::unknown_variables(env, timer_functions, p);
        let data_dir = read::data_dir(env, file.data_dir.clone(), host);
        let listen = read::listen(env, file.listen.clone(), p);
        let log_format = read::log_format(env, file.log_format.clone(), host, p);
        let log_filter = read::log_filter(env, file.log_filter.clone(), p);
        let timing = collection::timing(env, &file, p);
        let overlaps = collection::overlaps(env, &file.overlap_minutes, p);
        let authority_host = read::host_setting(
            env,
            "ENTRA_MONITOR_AUTHORITY_HOST",
            file.authority_host.clone(),
            "https://login.microsoftonline.com",
            p,
        );
        let graph_host = read::host_setting(
            env,
            "ENTRA_MONITOR_GRAPH_HOST",
            file.graph_host.clone(),
            "https://graph.microsoft.com",
            p,
        );
        let categories = tenants::categories(env, file.categories.as_ref(), p);
        let tenants = tenants::load(env, &file, &categories, p);
        let simulated = collection::simulated(env, &file, !tenants.is_empty(), p);
        let schedules = collection::schedules(env, file.schedules, timer_functions, p);
        let routes = collection::routes(env, file.routes, p);
        let destinations = destinations::load(
            env,
            destinations::FileDestinations {
                storage: file.storage,
                log_analytics: file.log_analytics,
                event_hubs: file.event_hubs,
                spool: file.spool,
            },
            file.retention_days,
            file.destination_credential,
            &data_dir,
            &routes,
            &tenants,
            p,
        );
        let auth = auth::load(env, file.auth, file.api_keys, p);
        tenants::check_key_tenants(&auth, &tenants, p);
        let query = query::load(env, file.query, host, p);
        let http = http::load(env, file.http, p);
        let state = crate::state::settings::read(env, file.state, p);
        let alerts = detections::load_alerts(env, &file.detections, p);
        let risk_write_back = read::flag(env, "ENTRA_MONITOR_RISK_WRITE_BACK", p)
            .or(file.detections.risk_write_back)
            .unwrap_or(false);
        let detections = detections::load(env, file.detections, p);
        let recommendation_write_back =
            read::flag(env, "ENTRA_MONITOR_RECOMMENDATION_WRITE_BACK", p)
                .or(file.recommendations.write_back)
                .unwrap_or(false);
        let mut recommendations = recommendations::load(env, file.recommendations, p);
        recommendations.write_back = recommendation_write_back;
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        Ok(Config {
            data_dir,
            listen,
            log_format,
            log_filter,
            tenants,
            categories,
            schedules,
            routes,
            destinations,
            auth,
            query,
            http,
            state,
            detections,
            alerts,
            risk_write_back,
            recommendations,
            shutdown_grace: timing.shutdown_grace,
            backfill: timing.backfill,
            settle: timing.settle,
            overlaps,
            run_budget: timing.run_budget,
            simulated_seed: simulated.seed,
            simulated_start: simulated.start,
            simulated_users: simulated.users,
            simulated_budget: simulated.budget,
            simulated_graph_url: simulated.graph_url,
            authority_host,
            graph_host,
        })
    }

    /// The configuration a test or a first run without any settings gets.
    pub fn defaults(host: Host) -> Config {
        Config::load(&ConfigSource::default(), host, &[]).expect("the defaults are valid")
    }

    /// Whether the built-in simulated tenant is the source (no tenant configured).
    pub fn uses_simulated_tenant(&self) -> bool {
        self.tenants.is_empty()
    }
}

mod collection;
mod read;
mod tenants;
#[cfg(test)]
mod tests;
