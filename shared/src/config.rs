//! Typed configuration, read from `ENTRA_MONITOR_*` environment variables and an optional TOML
//! file, validated once at start.
//!
//! Every problem is collected and reported together, one line each, naming the setting and
//! what is expected, so a user fixes a broken deployment in one pass. Secret values live in
//! [`Secret`], whose `Debug` and `Display` never show them.

mod auth;
mod destinations;
mod detections;
mod http;
mod query;

pub use auth::{ApiKey, AuthSettings};
pub use destinations::{
    DestinationCredential, DestinationSettings, EventHubsSetting, LogAnalyticsSetting,
    SpoolSetting, StorageSetting,
};
pub use http::HttpLimits;
pub use query::QuerySettings;

use crate::model::{Category, Destination, TenantId, is_guid};
use crate::schedule::Schedule;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of every environment variable this program reads.
pub const ENV_PREFIX: &str = "ENTRA_MONITOR_";

/// A secret value. It can be used, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (a token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    /// Risk detection thresholds.
    pub detections: crate::detect::Thresholds,
    /// Where new detections are alerted, if anywhere.
    pub alerts: Option<crate::detect::alerts::AlertSettings>,
    /// Dismissals and confirmations made here are also sent to Graph's `riskyUsers/dismiss` /
    /// `confirmCompromised` (needs IdentityRiskyUser.ReadWrite.All).
    pub risk_write_back: bool,
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
    storage: destinations::FileStorage,
    #[serde(default)]
    log_analytics: destinations::FileLogAnalytics,
    #[serde(default)]
    event_hubs: destinations::FileEventHubs,
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
    detections: detections::FileDetections,
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

        let file = match &source.file {
            None => FileConfig::default(),
            Some(path) => match read_file(path) {
                Ok(f) => f,
                Err(message) => {
                    problem(&path.display().to_string(), message);
                    FileConfig::default()
                }
            },
        };

        // Unknown ENTRA_MONITOR_* variables are almost always typos of a real one.
        let schedule_vars: BTreeMap<String, &str> = timer_functions
            .iter()
            .map(|f| (schedule_env_var(f), *f))
            .collect();
        let route_vars: BTreeMap<String, Category> = Category::ALL
            .iter()
            .map(|c| (routes_env_var(*c), *c))
            .collect();
        for key in env.keys().filter(|k| k.starts_with(ENV_PREFIX)) {
            let overlap_var = Category::ALL.iter().any(|c| overlap_env_var(*c) == *key);
            if !KNOWN_ENV.contains(&key.as_str())
                && !destinations::ENV.contains(&key.as_str())
                && !auth::ENV.contains(&key.as_str())
                && !query::ENV.contains(&key.as_str())
                && !http::ENV.contains(&key.as_str())
                && !detections::ENV.contains(&key.as_str())
                && !schedule_vars.contains_key(key)
                && !route_vars.contains_key(key)
                && !overlap_var
            {
                let hint = if key.starts_with("ENTRA_MONITOR_SCHEDULE_") {
                    format!(
                        "no timer function of that name; expected one of {}",
                        schedule_vars.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                } else if key.starts_with("ENTRA_MONITOR_ROUTES_") {
                    format!(
                        "no category of that name; expected one of {}",
                        route_vars.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    "unknown setting; see docs/configuration.md for the settings".to_string()
                };
                problem(key, hint);
            }
        }

        let data_dir = env
            .get("ENTRA_MONITOR_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| default_data_dir(host, env));

        let listen_text = env
            .get("ENTRA_MONITOR_LISTEN")
            .map(|v| ("ENTRA_MONITOR_LISTEN", v.clone()))
            .or(file.listen.map(|v| ("listen", v)));
        let listen = match listen_text {
            None => SocketAddr::from(([127, 0, 0, 1], 7071)),
            Some((setting, text)) => text.trim().parse().unwrap_or_else(|_| {
                problem(
                    setting,
                    format!(
                        "\"{text}\" is not an address; expected IP:PORT such as 127.0.0.1:7071"
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 7071))
            }),
        };

        let format_text = env
            .get("ENTRA_MONITOR_LOG_FORMAT")
            .map(|v| ("ENTRA_MONITOR_LOG_FORMAT", v.clone()))
            .or(file.log_format.map(|v| ("log_format", v)));
        let log_format = match format_text {
            None if host == Host::Local => LogFormat::Text,
            None => LogFormat::Json,
            Some((setting, text)) => match text.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    problem(
                        setting,
                        format!("\"{text}\" is not a log format; expected text or json"),
                    );
                    LogFormat::Text
                }
            },
        };
        let log_filter = env
            .get("ENTRA_MONITOR_LOG")
            .cloned()
            .or(file.log_filter)
            .unwrap_or_else(|| "info".to_string());
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&log_filter) {
            problem(
                "ENTRA_MONITOR_LOG",
                format!(
                    "\"{log_filter}\" is not a log filter ({e}); expected e.g. info or info,shared=debug"
                ),
            );
        }

        let mut number = |var: &str,
                          from_file: Option<u64>,
                          default: u64,
                          range: std::ops::RangeInclusive<u64>,
                          unit: &str|
         -> u64 {
            let value = match env.get(var) {
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) => n,
                    Err(_) => {
                        problem(var, format!("\"{v}\" is not a whole number of {unit}"));
                        return default;
                    }
                },
                None => from_file.unwrap_or(default),
            };
            if !range.contains(&value) {
                problem(
                    var,
                    format!(
                        "{value} is out of range; expected {} to {} {unit}",
                        range.start(),
                        range.end()
                    ),
                );
                return default;
            }
            value
        };
        let shutdown_grace = Duration::from_secs(number(
            "ENTRA_MONITOR_SHUTDOWN_GRACE_SECONDS",
            file.shutdown_grace_seconds,
            30,
            0..=3600,
            "seconds",
        ));
        // At most the sign-in retention of a P1/P2 tenant (30 days).
        let backfill = chrono::Duration::hours(number(
            "ENTRA_MONITOR_BACKFILL_HOURS",
            file.backfill_hours,
            24,
            1..=720,
            "hours",
        ) as i64);
        let settle = chrono::Duration::minutes(number(
            "ENTRA_MONITOR_SETTLE_MINUTES",
            file.settle_minutes,
            2,
            0..=120,
            "minutes",
        ) as i64);
        let run_budget = Duration::from_secs(number(
            "ENTRA_MONITOR_RUN_BUDGET_SECONDS",
            file.run_budget_seconds,
            240,
            5..=86_400,
            "seconds",
        ));
        let simulated_seed = number(
            "ENTRA_MONITOR_SIMULATED_SEED",
            file.simulated_seed,
            1,
            0..=u64::MAX,
            "",
        );
        let simulated_users = number(
            "ENTRA_MONITOR_SIMULATED_USERS",
            file.simulated_users,
            300,
            1..=100_000,
            "users",
        ) as usize;
        let simulated_budget = number(
            "ENTRA_MONITOR_SIMULATED_BUDGET",
            file.simulated_budget,
            5,
            1..=100_000,
            "requests per 10 s",
        ) as usize;
        // Overlaps: up to the longest latency Entra documents (offline risk, 48 h) and beyond.
        let mut overlap_texts: Vec<(String, String, u64)> = file
            .overlap_minutes
            .iter()
            .map(|(c, m)| (format!("overlap_minutes.{c}"), c.clone(), *m))
            .collect();
        for c in Category::ALL {
            if let Some(v) = env.get(&overlap_env_var(c)) {
                match v.trim().parse::<u64>() {
                    Ok(m) => overlap_texts.push((overlap_env_var(c), c.name().to_string(), m)),
                    Err(_) => problem(
                        &overlap_env_var(c),
                        format!("\"{v}\" is not a whole number of minutes"),
                    ),
                }
            }
        }
        let mut overlaps = BTreeMap::new();
        for (setting, category, minutes) in overlap_texts {
            match category.parse::<Category>() {
                Err(e) => problem(&setting, e),
                Ok(_) if !(1..=7 * 24 * 60).contains(&minutes) => problem(
                    &setting,
                    format!("{minutes} is out of range; expected 1 to 10080 minutes"),
                ),
                Ok(c) => {
                    overlaps.insert(c, chrono::Duration::minutes(minutes as i64));
                }
            }
        }

        let mut host_setting = |var: &str, from_file: Option<String>, default: &str| -> String {
            let value = env
                .get(var)
                .cloned()
                .or(from_file)
                .unwrap_or_else(|| default.to_string());
            let v = value.trim().trim_end_matches('/').to_string();
            if !(v.starts_with("https://") || v.starts_with("http://"))
                || v.contains(char::is_whitespace)
            {
                problem(
                    var,
                    format!("\"{value}\" is not a URL; expected e.g. {default}"),
                );
            } else if v.starts_with("http://") && !is_loopback_url(&v) {
                // Tokens and client secrets travel to these hosts.
                problem(
                    var,
                    format!(
                        "\"{value}\" is plain http: credentials and tokens would cross the network unencrypted; use https:// (http:// only for a loopback address such as 127.0.0.1, for a local stand-in)"
                    ),
                );
            }
            v
        };
        let authority_host = host_setting(
            "ENTRA_MONITOR_AUTHORITY_HOST",
            file.authority_host,
            "https://login.microsoftonline.com",
        );
        let graph_host = host_setting(
            "ENTRA_MONITOR_GRAPH_HOST",
            file.graph_host,
            "https://graph.microsoft.com",
        );

        // Categories: everything unless narrowed, globally or per tenant.
        let categories = match env.get("ENTRA_MONITOR_CATEGORIES") {
            Some(list) => {
                let names: Vec<String> = list
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect();
                parse_categories("ENTRA_MONITOR_CATEGORIES", &names, &mut problem)
            }
            None => match &file.categories {
                Some(names) => parse_categories("categories", names, &mut problem),
                None => Category::ALL.to_vec(),
            },
        };

        // A multi-tenant app registration shared by the file's tenants that name no credential:
        // the file's client_id / client_secret_env, or the environment's when it names no tenant.
        let env_is_shared_app =
            !env.contains_key("ENTRA_MONITOR_TENANT_ID") && !file.tenants.is_empty();
        let shared_app = match (&file.client_id, env_is_shared_app) {
            (Some(id), _) => {
                let secret = match &file.client_secret_env {
                    Some(var) => match env.get(var) {
                        Some(v) => Some((var.clone(), v.clone())),
                        None => {
                            problem(
                                "client_secret_env",
                                format!("names the environment variable {var}, which is not set"),
                            );
                            None
                        }
                    },
                    None => None,
                };
                Some(SharedApp {
                    setting: "client_id".into(),
                    client_id: id.clone(),
                    secret,
                })
            }
            (None, true) => env.get("ENTRA_MONITOR_CLIENT_ID").map(|id| SharedApp {
                setting: "ENTRA_MONITOR_CLIENT_ID".into(),
                client_id: id.clone(),
                secret: env
                    .get("ENTRA_MONITOR_CLIENT_SECRET")
                    .map(|s| ("ENTRA_MONITOR_CLIENT_SECRET".to_string(), s.clone())),
            }),
            (None, false) => None,
        };

        // Tenants: the file's list, plus one from ENTRA_MONITOR_TENANT_ID.
        let mut tenants = Vec::new();
        for (i, t) in file.tenants.iter().enumerate() {
            if let Some(tenant) =
                tenant_from_file(i, t, env, shared_app.as_ref(), &categories, &mut problem)
            {
                tenants.push(tenant);
            }
        }
        if let Some(tenant) = tenant_from_env(env, env_is_shared_app, &categories, &mut problem) {
            tenants.push(tenant);
        }
        let mut seen = BTreeMap::new();
        for t in &tenants {
            if let Some(prev) = seen.insert(t.id.clone(), t.name.clone()) {
                problem(
                    "tenants",
                    format!(
                        "tenant {} is configured twice ({prev} and {})",
                        t.id, t.name
                    ),
                );
            }
        }

        // Schedules: file first, the environment wins.
        let mut schedule_texts: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, text) in file.schedules {
            schedule_texts.insert(name.clone(), (format!("schedules.{name}"), text));
        }
        for (var, name) in &schedule_vars {
            if let Some(text) = env.get(var) {
                schedule_texts.insert(name.to_string(), (var.clone(), text.clone()));
            }
        }
        let mut schedules = BTreeMap::new();
        for (name, (setting, text)) in schedule_texts {
            if !timer_functions.contains(&name.as_str()) {
                problem(
                    &setting,
                    format!(
                        "no timer function \"{name}\"; expected one of {}",
                        timer_functions.join(", ")
                    ),
                );
                continue;
            }
            match Schedule::parse(&text) {
                Ok(s) => {
                    schedules.insert(name, s);
                }
                Err(e) => problem(&setting, e.to_string()),
            }
        }

        // Routes: every category to the embedded store unless told otherwise.
        let mut routes: BTreeMap<Category, Vec<Destination>> = Category::ALL
            .iter()
            .map(|c| (*c, vec![Destination::Embedded]))
            .collect();
        let mut route_texts: Vec<(String, String, Vec<String>)> = file
            .routes
            .into_iter()
            .map(|(cat, dests)| (format!("routes.{cat}"), cat, dests))
            .collect();
        for (var, cat) in &route_vars {
            if let Some(text) = env.get(var) {
                let dests = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                route_texts.push((var.clone(), cat.name().to_string(), dests));
            }
        }
        for (setting, cat, dests) in route_texts {
            let category = match cat.parse::<Category>() {
                Ok(c) => c,
                Err(e) => {
                    problem(&setting, e);
                    continue;
                }
            };
            let mut parsed = Vec::new();
            for d in dests {
                match d.parse::<Destination>() {
                    Ok(d) if !parsed.contains(&d) => parsed.push(d),
                    Ok(_) => {}
                    Err(e) => problem(&setting, e),
                }
            }
            routes.insert(category, parsed);
        }
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
            &mut problem,
        );
        // A simulated tenant already serving elsewhere (`entra-monitor simulate`, or a
        // benchmark's page server), instead of starting one in this process.
        let simulated_graph_url = match env.get("ENTRA_MONITOR_SIMULATED_GRAPH_URL") {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                problem(
                    "ENTRA_MONITOR_SIMULATED_GRAPH_URL",
                    format!(
                        "\"{u}\" is not an http(s) address; expected e.g. http://127.0.0.1:7072"
                    ),
                );
                None
            }
            None => None,
        };
        let start_text = env
            .get("ENTRA_MONITOR_SIMULATED_START")
            .map(|v| ("ENTRA_MONITOR_SIMULATED_START", v.clone()))
            .or(file.simulated_start.map(|v| ("simulated_start", v)));
        let simulated_start = start_text.and_then(|(setting, text)| {
            if !tenants.is_empty() {
                problem(
                    setting,
                    "applies only to the simulated tenant, and a tenant is configured; remove it"
                        .to_string(),
                );
                return None;
            }
            match chrono::DateTime::parse_from_rfc3339(text.trim()) {
                Ok(t) => Some(t.to_utc()),
                Err(_) => {
                    problem(
                        setting,
                        format!("\"{text}\" is not a time; expected RFC 3339 such as 2026-11-25T12:00:00Z"),
                    );
                    None
                }
            }
        });
        let auth = auth::load(env, file.auth, file.api_keys, &mut problem);
        // A key limited to a tenant that is not configured reads nothing: a typo, said now.
        // (With no tenant configured — the simulated tenant, imported logs — tenants are named
        // by id, a GUID or a domain.)
        for k in &auth.api_keys {
            for t in &k.tenants {
                let known = if tenants.is_empty() {
                    TenantId::parse(t).is_ok() || t == "simulated"
                } else {
                    tenants.iter().any(|c: &TenantConfig| {
                        c.id.as_str().eq_ignore_ascii_case(t) || c.name == *t
                    })
                };
                if !known {
                    problem(
                        "api keys",
                        format!(
                            "the key {} names the tenant \"{t}\", which is not a configured tenant's id or name",
                            k.name
                        ),
                    );
                }
            }
        }
        let query = query::load(env, file.query, &mut problem);
        let http = http::load(env, file.http, &mut problem);
        let alerts = detections::load_alerts(env, &file.detections, &mut problem);
        let risk_write_back = flag(env, "ENTRA_MONITOR_RISK_WRITE_BACK", &mut problem)
            .or(file.detections.risk_write_back)
            .unwrap_or(false);
        let detections = detections::load(env, file.detections, &mut problem);

        if problems.is_empty() {
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
                detections,
                alerts,
                risk_write_back,
                shutdown_grace,
                backfill,
                settle,
                overlaps,
                run_budget,
                simulated_seed,
                simulated_start,
                simulated_users,
                simulated_budget,
                simulated_graph_url,
                authority_host,
                graph_host,
            })
        } else {
            Err(ConfigErrors(problems))
        }
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

/// A true/false setting from the environment (`true`/`false`/`1`/`0`), None when unset.
pub(crate) fn flag(
    env: &BTreeMap<String, String>,
    var: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<bool> {
    match env.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => None,
        Some(v) if v == "true" || v == "1" => Some(true),
        Some(v) if v == "false" || v == "0" => Some(false),
        Some(v) => {
            problem(var, format!("\"{v}\" is not true or false"));
            None
        }
    }
}

fn default_data_dir(host: Host, env: &BTreeMap<String, String>) -> PathBuf {
    match host {
        Host::Local => PathBuf::from("data"),
        // Only /tmp is writable on Lambda.
        Host::Lambda => PathBuf::from("/tmp/entra-monitor"),
        // The app root may be a read-only package; $HOME/data persists on App Service plans.
        Host::Azure => env
            .get("HOME")
            .map(|h| Path::new(h).join("data").join("entra-monitor"))
            .unwrap_or_else(|| PathBuf::from("data")),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file ({e}); check the path given to --config or ENTRA_MONITOR_CONFIG"))?;
    toml::from_str(&text).map_err(|e| {
        let msg = e.message().to_string();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {msg}")
            }
            None => msg,
        }
    })
}

/// The multi-tenant app registration tenants fall back to.
struct SharedApp {
    setting: String,
    client_id: String,
    secret: Option<(String, String)>,
}

fn parse_categories(
    setting: &str,
    names: &[String],
    problem: &mut impl FnMut(&str, String),
) -> Vec<Category> {
    let mut out = Vec::new();
    for name in names {
        match name.parse::<Category>() {
            Ok(c) if !out.contains(&c) => out.push(c),
            Ok(_) => {}
            Err(e) => problem(setting, e),
        }
    }
    out
}

fn tenant_from_file(
    i: usize,
    t: &FileTenant,
    env: &BTreeMap<String, String>,
    shared_app: Option<&SharedApp>,
    default_categories: &[Category],
    problem: &mut impl FnMut(&str, String),
) -> Option<TenantConfig> {
    let at = |field: &str| format!("tenants[{i}].{field}");
    let Some(id_text) = &t.id else {
        problem(
            &at("id"),
            "missing; expected the tenant GUID or a domain such as contoso.onmicrosoft.com".into(),
        );
        return None;
    };
    let id = match TenantId::parse(id_text) {
        Ok(id) => Some(id),
        Err(e) => {
            problem(&at("id"), e);
            None
        }
    };
    let name = t.name.clone().unwrap_or_else(|| id_text.trim().to_string());
    let secret = match (&t.client_secret, &t.client_secret_env) {
        (Some(_), Some(_)) => {
            problem(
                &at("client_secret"),
                "set either client_secret or client_secret_env, not both".into(),
            );
            None
        }
        (Some(s), None) => Some((at("client_secret"), s.clone())),
        (None, Some(var)) => match env.get(var) {
            Some(s) => Some((var.clone(), s.clone())),
            None => {
                problem(
                    &at("client_secret_env"),
                    format!("names the environment variable {var}, which is not set"),
                );
                return None;
            }
        },
        (None, None) => None,
    };
    let categories = match &t.categories {
        Some(names) => parse_categories(&at("categories"), names, problem),
        None => default_categories.to_vec(),
    };
    // A tenant naming no credential of its own uses the shared multi-tenant app.
    let own = t.client_id.is_some()
        || secret.is_some()
        || t.certificate_path.is_some()
        || t.managed_identity
        || t.simulated;
    let (client_id, secret) = match shared_app.filter(|_| !own) {
        Some(app) => (
            Some((app.setting.clone(), app.client_id.as_str())),
            app.secret.clone(),
        ),
        None => (t.client_id.as_deref().map(|c| (at("client_id"), c)), secret),
    };
    let credential = credential(
        &format!("tenants[{i}] ({name})"),
        client_id,
        secret,
        t.certificate_path
            .clone()
            .map(|p| (at("certificate_path"), p)),
        t.managed_identity,
        t.simulated,
        problem,
    )?;
    Some(TenantConfig {
        id: id?,
        name,
        credential,
        categories,
    })
}

fn tenant_from_env(
    env: &BTreeMap<String, String>,
    env_is_shared_app: bool,
    categories: &[Category],
    problem: &mut impl FnMut(&str, String),
) -> Option<TenantConfig> {
    let credential_vars = [
        "ENTRA_MONITOR_CLIENT_ID",
        "ENTRA_MONITOR_CLIENT_SECRET",
        "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH",
        "ENTRA_MONITOR_MANAGED_IDENTITY",
    ];
    let Some(id_text) = env.get("ENTRA_MONITOR_TENANT_ID") else {
        // With tenants in the file, the client id and secret are their shared app.
        let shared = ["ENTRA_MONITOR_CLIENT_ID", "ENTRA_MONITOR_CLIENT_SECRET"];
        for var in credential_vars
            .iter()
            .filter(|v| env.contains_key(**v) && !(env_is_shared_app && shared.contains(*v)))
        {
            problem(
                var,
                "is set but ENTRA_MONITOR_TENANT_ID is not; set the tenant it belongs to".into(),
            );
        }
        return None;
    };
    let id = match TenantId::parse(id_text) {
        Ok(id) => Some(id),
        Err(e) => {
            problem("ENTRA_MONITOR_TENANT_ID", e);
            None
        }
    };
    let name = env
        .get("ENTRA_MONITOR_TENANT_NAME")
        .cloned()
        .unwrap_or_else(|| id_text.trim().to_string());
    let managed_identity = flag(env, "ENTRA_MONITOR_MANAGED_IDENTITY", problem).unwrap_or(false);
    let credential = credential(
        &format!("tenant {name} (ENTRA_MONITOR_TENANT_ID)"),
        env.get("ENTRA_MONITOR_CLIENT_ID")
            .map(|c| ("ENTRA_MONITOR_CLIENT_ID".to_string(), c.as_str())),
        env.get("ENTRA_MONITOR_CLIENT_SECRET")
            .map(|s| ("ENTRA_MONITOR_CLIENT_SECRET".to_string(), s.clone())),
        env.get("ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH").map(|p| {
            (
                "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH".to_string(),
                PathBuf::from(p),
            )
        }),
        managed_identity,
        false,
        problem,
    )?;
    Some(TenantConfig {
        id: id?,
        name,
        credential,
        categories: categories.to_vec(),
    })
}

/// Works out one tenant's credential from what was given, reporting what is missing or
/// contradictory. `who` names the tenant in messages; secret values are never included.
fn credential(
    who: &str,
    client_id: Option<(String, &str)>,
    secret: Option<(String, String)>,
    certificate: Option<(String, PathBuf)>,
    managed_identity: bool,
    simulated: bool,
    problem: &mut impl FnMut(&str, String),
) -> Option<Credential> {
    let client_id = match client_id {
        Some((setting, c)) if !is_guid(c.trim()) => {
            problem(
                &setting,
                format!(
                    "\"{}\" is not an application (client) id; expected a GUID",
                    c.trim()
                ),
            );
            return None;
        }
        Some((_, c)) => Some(c.trim().to_ascii_lowercase()),
        None => None,
    };
    if simulated {
        return Some(Credential::Simulated);
    }
    if managed_identity {
        if secret.is_some() || certificate.is_some() {
            problem(
                who,
                "managed identity is on, so no client secret or certificate may be set".into(),
            );
            return None;
        }
        return Some(Credential::ManagedIdentity { client_id });
    }
    let Some(client_id) = client_id else {
        problem(who, "no credential: set client_id with client_secret_env (or client_secret, or certificate_path), or managed_identity = true".into());
        return None;
    };
    match (secret, certificate) {
        (Some(_), Some((setting, _))) => {
            problem(
                &setting,
                format!("{who} has both a client secret and a certificate; keep one"),
            );
            None
        }
        (Some((setting, s)), None) if s.trim().is_empty() => {
            problem(&setting, format!("the client secret of {who} is empty"));
            None
        }
        (Some((_, s)), None) => Some(Credential::ClientSecret {
            client_id,
            secret: Secret::new(s),
        }),
        (None, Some((setting, path))) => {
            if !path.is_file() {
                problem(
                    &setting,
                    format!(
                        "{} is not a readable file; expected a PEM file with the key and certificate",
                        path.display()
                    ),
                );
                return None;
            }
            Some(Credential::Certificate { client_id, path })
        }
        (None, None) => {
            problem(
                who,
                format!(
                    "client id {client_id} has no secret: set its client secret (client_secret_env or ENTRA_MONITOR_CLIENT_SECRET) or a certificate_path"
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTIONS: &[&str] = &["collect-signins", "collect-audit"];

    fn env(pairs: &[(&str, &str)]) -> ConfigSource {
        ConfigSource {
            file: None,
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn problems(source: &ConfigSource) -> Vec<String> {
        Config::load(source, Host::Local, FUNCTIONS)
            .unwrap_err()
            .0
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn defaults_use_the_simulated_tenant_and_the_embedded_store() {
        let c = Config::load(&env(&[]), Host::Local, FUNCTIONS).unwrap();
        assert!(c.uses_simulated_tenant());
        assert_eq!(c.listen.to_string(), "127.0.0.1:7071");
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.routes.values().all(|d| d == &vec![Destination::Embedded]));
        assert_eq!(c.routes.len(), Category::ALL.len());
        assert_eq!(
            Config::defaults(Host::Lambda).data_dir,
            PathBuf::from("/tmp/entra-monitor")
        );
        assert_eq!(Config::defaults(Host::Azure).log_format, LogFormat::Json);
    }

    #[test]
    fn the_simulated_start_is_a_time_and_only_for_the_simulated_tenant() {
        let c = Config::load(
            &env(&[("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z")]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        assert_eq!(
            c.simulated_start.map(|t| t.to_rfc3339()),
            Some("2026-11-19T15:00:00+00:00".to_string())
        );
        let p = problems(&env(&[("ENTRA_MONITOR_SIMULATED_START", "yesterday")]));
        assert!(
            p.iter()
                .any(|p| p.contains("ENTRA_MONITOR_SIMULATED_START")
                    && p.contains("expected RFC 3339")),
            "{p:?}"
        );
        let p = problems(&env(&[
            ("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z"),
            ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "00000000-0000-0000-0000-000000000001",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", "s"),
        ]));
        assert!(
            p.iter()
                .any(|p| p.contains("applies only to the simulated tenant")),
            "{p:?}"
        );
    }

    #[test]
    fn detection_thresholds_are_read_and_checked() {
        let c = Config::load(
            &env(&[
                ("ENTRA_MONITOR_VPN_EGRESS", "203.0.113., 198.51.100.7"),
                ("ENTRA_MONITOR_DETECT_SPRAY_MIN_USERS", "20"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        assert_eq!(c.detections.vpn_egress, vec!["203.0.113.", "198.51.100.7"]);
        assert_eq!(c.detections.spray_min_users, 20);
        assert_eq!(c.detections.brute_min_failures, 6);
        let e = Config::load(
            &env(&[("ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH", "fast")]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH: \"fast\" is out of range"),
            "{e}"
        );
        let list = std::env::temp_dir().join(format!("entra-tor-{}.txt", std::process::id()));
        std::fs::write(
            &list,
            "# Tor exit nodes\n185.220.101.\n\n45.153.160.7 # one host\n",
        )
        .unwrap();
        let c = Config::load(
            &env(&[("ENTRA_MONITOR_ANONYMOUS_IP_FILE", list.to_str().unwrap())]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        assert_eq!(
            c.detections.anonymous_ips,
            vec!["185.220.101.", "45.153.160.7"]
        );
        std::fs::remove_file(&list).ok();
        let e = Config::load(
            &env(&[("ENTRA_MONITOR_ANONYMOUS_IP_FILE", "/nonexistent/tor.txt")]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ENTRA_MONITOR_ANONYMOUS_IP_FILE: cannot read /nonexistent/tor.txt"),
            "{e}"
        );
    }

    #[test]
    fn the_alert_webhook_is_read_and_its_secret_never_repeated() {
        let c = Config::load(
            &env(&[
                (
                    "ENTRA_MONITOR_ALERT_WEBHOOK",
                    "https://hooks.slack.com/services/T0/B0/s3cret",
                ),
                ("ENTRA_MONITOR_ALERT_FORMAT", "slack"),
                ("ENTRA_MONITOR_ALERT_MAX_PER_HOUR", "5"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        let a = c.alerts.unwrap();
        assert_eq!(
            (a.format, a.max_per_hour, a.min_level.as_str()),
            (crate::detect::alerts::AlertFormat::Slack, 5, "medium")
        );
        assert!(!format!("{a:?}").contains("s3cret"));
        let e = Config::load(
            &env(&[
                (
                    "ENTRA_MONITOR_ALERT_WEBHOOK",
                    "hooks.slack.com/services/T0/B0/s3cret",
                ),
                ("ENTRA_MONITOR_ALERT_FORMAT", "email"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ENTRA_MONITOR_ALERT_WEBHOOK: is not an http(s) URL"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn destinations_are_checked_against_the_routes() {
        let e = Config::load(
            &env(&[
                (
                    "ENTRA_MONITOR_ROUTES_SIGNINLOGS",
                    "log-analytics,event-hubs",
                ),
                ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "storage"),
                (
                    "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT",
                    "https://x.westeurope-1.ingest.monitor.azure.com",
                ),
                ("ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID", "my-dcr"),
                (
                    "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
                    "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send",
                ),
                ("ENTRA_MONITOR_RETENTION_DAYS", "0"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID: \"my-dcr\" is not a DCR immutable id",
            "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING: not an Event Hubs connection string: SharedAccessKey is missing",
            "ENTRA_MONITOR_ROUTES_SIGNINLOGS: routes SignInLogs to event-hubs, which is not configured",
            "ENTRA_MONITOR_ROUTES_AUDITLOGS: routes AuditLogs to storage, which is not configured; set ENTRA_MONITOR_STORAGE_FOLDER",
            "ENTRA_MONITOR_RETENTION_DAYS: \"0\" is out of range",
        ] {
            assert!(e.contains(expected), "{expected}\nnot in\n{e}");
        }
        // The key never appears in a message.
        let e = Config::load(
            &env(&[
                (
                    "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
                    "AccountName=a;AccountKey=c2VjcmV0a2V5;BlobEndpoint=not a url",
                ),
                ("ENTRA_MONITOR_STORAGE_FOLDER", "x"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("set only one of the storage folder"), "{e}");
        assert!(!e.contains("c2VjcmV0a2V5"), "{e}");
        let ok = Config::load(
            &env(&[
                ("ENTRA_MONITOR_ROUTES_RISKYUSERS", "event-hubs,embedded"),
                (
                    "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
                    "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k;EntityPath=entra",
                ),
                ("ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES", "262144"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        let eh = ok.destinations.event_hubs.unwrap();
        assert_eq!(
            (
                eh.endpoint.as_str(),
                eh.hub.as_deref(),
                eh.max_request_bytes
            ),
            ("https://x.servicebus.windows.net", Some("entra"), 262_144)
        );
        assert!(
            matches!(ok.destinations.spool, SpoolSetting::Folder(ref p) if p.ends_with("spool"))
        );
        assert_eq!(ok.destinations.retention_days, 30);
    }

    #[test]
    fn environment_settings_are_applied() {
        let c = Config::load(
            &env(&[
                ("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "0 0 * * * *"),
                ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "storage, embedded"),
                ("ENTRA_MONITOR_STORAGE_FOLDER", "archive"),
                ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
                (
                    "ENTRA_MONITOR_CLIENT_ID",
                    "00000000-0000-0000-0000-0000000000AB",
                ),
                ("ENTRA_MONITOR_CLIENT_SECRET", "s3cr3t"),
                ("ENTRA_MONITOR_LISTEN", "127.0.0.1:9999"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        assert_eq!(c.schedules["collect-audit"].as_str(), "0 0 * * * *");
        assert_eq!(
            c.routes[&Category::AuditLogs],
            vec![Destination::Storage, Destination::Embedded]
        );
        assert_eq!(c.tenants.len(), 1);
        assert_eq!(
            c.tenants[0].credential,
            Credential::ClientSecret {
                client_id: "00000000-0000-0000-0000-0000000000ab".into(),
                secret: Secret::new("s3cr3t")
            }
        );
        assert_eq!(c.listen.port(), 9999);
    }

    #[test]
    fn every_problem_is_reported_at_once_and_secrets_never_appear() {
        let p = problems(&env(&[
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "*/5 * * * *"),
            ("ENTRA_MONITOR_ROUTES_SIGNINLOGS", "embedded,splunk"),
            ("ENTRA_MONITOR_TENANT_ID", "not a tenant"),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "00000000-0000-0000-0000-000000000001",
            ),
            ("ENTRA_MONITOR_LISTEN", "localhost"),
            ("ENTRA_MONITOR_LOG_FORMAT", "xml"),
        ]));
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(
            p[0].starts_with("ENTRA_MONITOR_LISTEN: \"localhost\" is not an address"),
            "{p:#?}"
        );
        assert!(p.iter().any(|l| l.starts_with("ENTRA_MONITOR_LOG_FORMAT:")));
        assert!(p.iter().any(|l| {
            l.starts_with("ENTRA_MONITOR_TENANT_ID: \"not a tenant\" is neither a tenant GUID")
        }));
        assert!(p.iter().any(|l| {
            l.starts_with("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS: \"*/5 * * * *\" has 5 fields")
        }));
        assert!(p.iter().any(|l| {
            l.starts_with("ENTRA_MONITOR_ROUTES_SIGNINLOGS: unknown destination \"splunk\"")
        }));
        assert!(p.iter().any(|l| l.contains("client id 00000000-0000-0000-0000-000000000001 has no secret")));

        // A tenant with a client id and no secret is named; the secret of another is not shown.
        let p = problems(&env(&[
            ("ENTRA_MONITOR_TENANT_ID", "contoso.com"),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "00000000-0000-0000-0000-000000000001",
            ),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNIN", "0 * * * * *"),
        ]));
        assert!(p.iter().any(|l| l.contains("has no secret")), "{p:#?}");
        assert!(
            p.iter()
                .any(|l| l.starts_with("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNIN: no timer function"))
        );
    }

    #[test]
    fn file_tenants_are_validated_and_secret_values_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("entra-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            r#"
[[tenants]]
id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
name = "corp"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret_env = "CORP_SECRET"

[[tenants]]
id = "fabrikam"
client_id = "22222222-2222-2222-2222-222222222222"
client_secret = "very-secret-value"

[[tenants]]
id = "tailspin.com"
client_id = "33333333-3333-3333-3333-333333333333"

[schedules]
collect-everything = "0 * * * * *"

[routes]
AuditLogs = ["embedded", "kafka"]
"#,
        )
        .unwrap();
        let mut source = env(&[("CORP_SECRET", "corp-secret-value")]);
        source.file = Some(path.clone());
        let errors = Config::load(&source, Host::Local, FUNCTIONS).unwrap_err();
        let text = errors.to_string();
        assert!(
            text.contains("tenants[1].id: \"fabrikam\" is neither"),
            "{text}"
        );
        assert!(text.contains("tenants[2] (tailspin.com): client id 33333333-3333-3333-3333-333333333333 has no secret"), "{text}");
        assert!(
            text.contains("schedules.collect-everything: no timer function"),
            "{text}"
        );
        assert!(
            text.contains("routes.AuditLogs: unknown destination \"kafka\""),
            "{text}"
        );
        assert!(
            !text.contains("very-secret-value") && !text.contains("corp-secret-value"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");

        // With the problems fixed, the secret is held but never printed by Debug.
        std::fs::write(
            &path,
            "[[tenants]]\nid = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret_env = \"CORP_SECRET\"\n",
        )
        .unwrap();
        let c = Config::load(&source, Host::Local, FUNCTIONS).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("corp-secret-value"), "{debug}");
        assert!(debug.contains("Secret(<redacted>)"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn tenants_share_a_multi_tenant_app_and_narrow_their_categories() {
        let dir = std::env::temp_dir().join(format!("entra-config-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            r#"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret_env = "MSP_APP_SECRET"
categories = ["SignInLogs", "AuditLogs"]

[[tenants]]
id = "contoso.onmicrosoft.com"

[[tenants]]
id = "fabrikam.onmicrosoft.com"
categories = ["AuditLogs", "ProvisioningLogs"]

[[tenants]]
id = "tailspin.onmicrosoft.com"
managed_identity = true
"#,
        )
        .unwrap();
        let mut source = env(&[("MSP_APP_SECRET", "msp-secret")]);
        source.file = Some(path.clone());
        let c = Config::load(&source, Host::Local, FUNCTIONS).unwrap();
        let shared = Credential::ClientSecret {
            client_id: "11111111-1111-1111-1111-111111111111".into(),
            secret: Secret::new("msp-secret"),
        };
        assert_eq!(c.tenants[0].credential, shared);
        assert_eq!(c.tenants[1].credential, shared);
        assert_eq!(
            c.tenants[2].credential,
            Credential::ManagedIdentity { client_id: None }
        );
        assert_eq!(
            c.tenants[0].categories,
            vec![Category::SignInLogs, Category::AuditLogs]
        );
        assert_eq!(
            c.tenants[1].categories,
            vec![Category::AuditLogs, Category::ProvisioningLogs]
        );

        // The environment's client id and secret serve the file's tenants too.
        std::fs::write(
            &path,
            "[[tenants]]\nid = \"contoso.onmicrosoft.com\"\ncategories = [\"SignIns\"]\n",
        )
        .unwrap();
        let mut source = env(&[
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "22222222-2222-2222-2222-222222222222",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", "s"),
        ]);
        source.file = Some(path.clone());
        let p = problems(&source);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("tenants[0].categories: unknown category \"SignIns\""),
            "{p:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn overlap_and_settle_can_be_tuned_per_category() {
        let c = Config::load(
            &env(&[
                ("ENTRA_MONITOR_OVERLAP_MINUTES_SIGNINLOGS", "240"),
                ("ENTRA_MONITOR_SETTLE_MINUTES", "5"),
            ]),
            Host::Local,
            FUNCTIONS,
        )
        .unwrap();
        assert_eq!(
            c.overlaps[&Category::SignInLogs],
            chrono::Duration::hours(4)
        );
        assert!(!c.overlaps.contains_key(&Category::AuditLogs));
        assert_eq!(c.settle, chrono::Duration::minutes(5));
        let p = problems(&env(&[
            ("ENTRA_MONITOR_OVERLAP_MINUTES_AUDITLOGS", "0"),
            ("ENTRA_MONITOR_SETTLE_MINUTES", "soon"),
        ]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p.iter().any(
                |l| l.starts_with("ENTRA_MONITOR_OVERLAP_MINUTES_AUDITLOGS: 0 is out of range")
            )
        );
    }

    #[test]
    fn a_malformed_file_names_the_line() {
        let dir = std::env::temp_dir().join(format!("entra-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_typo = 3\n").unwrap();
        let source = ConfigSource {
            file: Some(path.clone()),
            env: BTreeMap::new(),
        };
        let p = problems(&source);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains("line 2") && p[0].contains("listen_typo"),
            "{p:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
