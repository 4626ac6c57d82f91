//! Destination settings: Storage, Log Analytics, Event Hubs, the spool and retention, from
//! `ENTRA_MONITOR_*` variables or the file's `[storage]`, `[log_analytics]`, `[event_hubs]` and
//! `[spool]` tables (connection strings, which hold keys, only through environment variables:
//! the file names the variable). Checked against the routes: a route to an unconfigured
//! destination is an error.

use super::Secret;
use crate::destinations::event_hubs::EventHubsTarget;
use crate::destinations::storage::StorageTarget;
use crate::model::{Category, Destination};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the archive goes.
#[derive(Debug, Clone)]
pub enum StorageSetting {
    /// A folder on disk, in the same layout.
    Folder(PathBuf),
    /// A Blob account with its key (from a connection string).
    Account(StorageTarget),
    /// A Blob account reached with the destination credential (bearer token), e.g.
    /// `https://contosologs.blob.core.windows.net`.
    AccountWithIdentity { url: String },
}

#[derive(Debug, Clone)]
pub struct LogAnalyticsSetting {
    pub endpoint: String,
    pub dcr_immutable_id: String,
}

#[derive(Debug, Clone)]
pub struct EventHubsSetting {
    pub endpoint: String,
    pub hub: Option<String>,
    /// From a connection string; None: the destination credential's bearer token.
    pub sas: Option<(String, Secret)>,
    pub max_request_bytes: usize,
}

#[derive(Debug, Clone)]
pub enum SpoolSetting {
    Folder(PathBuf),
    Container {
        account: StorageTarget,
        container: String,
    },
}

/// Who the bearer-token destinations (Log Analytics always; Event Hubs and Storage without
/// keys) authenticate as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationCredential {
    /// The host's managed identity.
    ManagedIdentity,
    /// The app registration of the configured tenant with this id or name.
    Tenant(String),
}

#[derive(Debug, Clone)]
pub struct DestinationSettings {
    pub storage: Option<StorageSetting>,
    pub log_analytics: Option<LogAnalyticsSetting>,
    pub event_hubs: Option<EventHubsSetting>,
    pub spool: SpoolSetting,
    /// Days the embedded store keeps rows.
    pub retention_days: u32,
    pub credential: DestinationCredential,
}

/// The file's destination tables.
#[derive(Debug, Default)]
pub(super) struct FileDestinations {
    pub storage: FileStorage,
    pub log_analytics: FileLogAnalytics,
    pub event_hubs: FileEventHubs,
    pub spool: FileSpool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStorage {
    folder: Option<PathBuf>,
    connection_string_env: Option<String>,
    account_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLogAnalytics {
    endpoint: Option<String>,
    dcr_immutable_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEventHubs {
    connection_string_env: Option<String>,
    namespace_url: Option<String>,
    hub: Option<String>,
    max_request_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSpool {
    folder: Option<PathBuf>,
    connection_string_env: Option<String>,
    container: Option<String>,
}

/// The environment variables read here.
pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_STORAGE_FOLDER",
    "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
    "ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
    "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT",
    "ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID",
    "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
    "ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL",
    "ENTRA_MONITOR_EVENT_HUB",
    "ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES",
    "ENTRA_MONITOR_SPOOL_FOLDER",
    "ENTRA_MONITOR_SPOOL_CONNECTION_STRING",
    "ENTRA_MONITOR_SPOOL_CONTAINER",
    "ENTRA_MONITOR_RETENTION_DAYS",
    "ENTRA_MONITOR_DESTINATION_CREDENTIAL",
];

/// A setting from the environment (named by its variable) or the file (named by its key).
fn pick(
    env: &BTreeMap<String, String>,
    var: &str,
    file: Option<String>,
    key: &str,
) -> Option<(String, String)> {
    env.get(var)
        .map(|v| (var.to_string(), v.trim().to_string()))
        .or(file.map(|v| (key.to_string(), v.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
}

/// A secret read from the variable the file names (`..._env`), or the variable itself.
fn secret(
    env: &BTreeMap<String, String>,
    var: &str,
    file_env: Option<String>,
    key: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<(String, String)> {
    if let Some(v) = env.get(var) {
        return Some((var.to_string(), v.clone()));
    }
    let named = file_env?;
    match env.get(&named) {
        Some(v) => Some((named, v.clone())),
        None => {
            problem(
                key,
                format!("names the environment variable {named}, which is not set"),
            );
            None
        }
    }
}

fn url(setting: &str, text: &str, example: &str, problem: &mut impl FnMut(&str, String)) -> String {
    let v = text.trim_end_matches('/').to_string();
    if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(char::is_whitespace) {
        problem(
            setting,
            format!("\"{text}\" is not a URL; expected e.g. {example}"),
        );
    }
    v
}

#[allow(clippy::too_many_arguments)]
pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileDestinations,
    file_retention: Option<u64>,
    file_credential: Option<String>,
    data_dir: &Path,
    routes: &BTreeMap<Category, Vec<Destination>>,
    tenants: &[super::TenantConfig],
    problem: &mut impl FnMut(&str, String),
) -> DestinationSettings {
    let settings = DestinationSettings {
        storage: storage(env, file.storage, problem),
        log_analytics: log_analytics(env, file.log_analytics, problem),
        event_hubs: event_hubs(env, file.event_hubs, problem),
        spool: spool(env, file.spool, data_dir, problem),
        retention_days: retention_days(env, file_retention, problem),
        credential: credential(env, file_credential, tenants, problem),
    };
    check_routes(routes, &settings, problem);
    settings
}

/// Storage: a folder, a connection string, or an account URL with the identity.
fn storage(
    env: &BTreeMap<String, String>,
    file: FileStorage,
    problem: &mut impl FnMut(&str, String),
) -> Option<StorageSetting> {
    let folder = pick(
        env,
        "ENTRA_MONITOR_STORAGE_FOLDER",
        file.folder.map(|p| p.display().to_string()),
        "storage.folder",
    );
    let conn = secret(
        env,
        "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
        file.connection_string_env,
        "storage.connection_string_env",
        problem,
    );
    let account_url = pick(
        env,
        "ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
        file.account_url,
        "storage.account_url",
    );
    let chosen = [&folder, &conn, &account_url]
        .iter()
        .filter(|o| o.is_some())
        .count();
    if chosen > 1 {
        problem(
            "ENTRA_MONITOR_STORAGE_FOLDER",
            "set only one of the storage folder, connection string and account URL".into(),
        );
    }
    if let Some((_, f)) = folder {
        Some(StorageSetting::Folder(PathBuf::from(f)))
    } else if let Some((setting, text)) = conn {
        match StorageTarget::from_connection_string(&text) {
            Ok(t) => Some(StorageSetting::Account(t)),
            Err(e) => {
                problem(&setting, format!("not a storage connection string: {e}"));
                None
            }
        }
    } else {
        account_url.map(|(setting, u)| StorageSetting::AccountWithIdentity {
            url: url(
                &setting,
                &u,
                "https://contosologs.blob.core.windows.net",
                problem,
            ),
        })
    }
}

/// Log Analytics: both the endpoint and the DCR.
fn log_analytics(
    env: &BTreeMap<String, String>,
    file: FileLogAnalytics,
    problem: &mut impl FnMut(&str, String),
) -> Option<LogAnalyticsSetting> {
    let endpoint = pick(
        env,
        "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT",
        file.endpoint,
        "log_analytics.endpoint",
    );
    let dcr = pick(
        env,
        "ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID",
        file.dcr_immutable_id,
        "log_analytics.dcr_immutable_id",
    );
    match (endpoint, dcr) {
        (None, None) => None,
        (Some((setting, e)), Some((dcr_setting, d))) => {
            if !d.starts_with("dcr-") {
                problem(
                    &dcr_setting,
                    format!(
                        "\"{d}\" is not a DCR immutable id; expected dcr-… (the DCR's JSON view, or the template output dcrImmutableId)"
                    ),
                );
            }
            Some(LogAnalyticsSetting {
                endpoint: url(
                    &setting,
                    &e,
                    "https://entra-monitor-abcd.westeurope-1.ingest.monitor.azure.com",
                    problem,
                ),
                dcr_immutable_id: d,
            })
        }
        (Some((setting, _)), None) => {
            problem(&setting, "is set but ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID is not; set both (the template outputs logsIngestionEndpoint and dcrImmutableId)".into());
            None
        }
        (None, Some((setting, _))) => {
            problem(&setting, "is set but ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT is not; set both (the template outputs logsIngestionEndpoint and dcrImmutableId)".into());
            None
        }
    }
}

/// Event Hubs: a connection string (SAS) or a namespace URL with the identity.
fn event_hubs(
    env: &BTreeMap<String, String>,
    file: FileEventHubs,
    problem: &mut impl FnMut(&str, String),
) -> Option<EventHubsSetting> {
    let eh_conn = secret(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
        file.connection_string_env,
        "event_hubs.connection_string_env",
        problem,
    );
    let namespace = pick(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL",
        file.namespace_url,
        "event_hubs.namespace_url",
    );
    let hub = pick(env, "ENTRA_MONITOR_EVENT_HUB", file.hub, "event_hubs.hub");
    let max_request_bytes = match pick(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES",
        file.max_request_bytes.map(|n| n.to_string()),
        "event_hubs.max_request_bytes",
    ) {
        None => 1_048_576,
        Some((setting, text)) => match text.parse::<usize>() {
            Ok(n) if (4096..=1_048_576).contains(&n) => n,
            _ => {
                problem(
                    &setting,
                    format!(
                        "\"{text}\" is out of range; expected 4096 to 1048576 bytes (1048576 on Standard and above, 262144 on Basic)"
                    ),
                );
                1_048_576
            }
        },
    };
    match (eh_conn, namespace) {
        (Some(_), Some((setting, _))) => {
            problem(
                &setting,
                "set either the Event Hubs connection string or the namespace URL, not both".into(),
            );
            None
        }
        (Some((setting, text)), None) => match EventHubsTarget::from_connection_string(&text) {
            Ok(t) => {
                let sas = match t.auth {
                    crate::destinations::event_hubs::EventHubsAuth::Sas { key_name, key } => {
                        Some((key_name, key))
                    }
                    _ => None,
                };
                Some(EventHubsSetting {
                    endpoint: t.endpoint,
                    hub: hub.map(|(_, h)| h).or(t.hub),
                    sas,
                    max_request_bytes,
                })
            }
            Err(e) => {
                problem(
                    &setting,
                    format!("not an Event Hubs connection string: {e}"),
                );
                None
            }
        },
        (None, Some((setting, u))) => Some(EventHubsSetting {
            endpoint: url(
                &setting,
                &u,
                "https://contoso-logs.servicebus.windows.net",
                problem,
            ),
            hub: hub.map(|(_, h)| h),
            sas: None,
            max_request_bytes,
        }),
        (None, None) => None,
    }
}

/// The spool: a folder (default: in the data directory) or a Blob container.
fn spool(
    env: &BTreeMap<String, String>,
    file: FileSpool,
    data_dir: &Path,
    problem: &mut impl FnMut(&str, String),
) -> SpoolSetting {
    let spool_folder = pick(
        env,
        "ENTRA_MONITOR_SPOOL_FOLDER",
        file.folder.map(|p| p.display().to_string()),
        "spool.folder",
    );
    let spool_conn = secret(
        env,
        "ENTRA_MONITOR_SPOOL_CONNECTION_STRING",
        file.connection_string_env,
        "spool.connection_string_env",
        problem,
    );
    let container = pick(
        env,
        "ENTRA_MONITOR_SPOOL_CONTAINER",
        file.container,
        "spool.container",
    )
    .map(|(_, c)| c)
    .unwrap_or_else(|| "entra-monitor-spool".into());
    match (spool_folder, spool_conn) {
        (Some((setting, _)), Some(_)) => {
            problem(
                &setting,
                "set either the spool folder or the spool connection string, not both".into(),
            );
            SpoolSetting::Folder(data_dir.join("spool"))
        }
        (Some((_, f)), None) => SpoolSetting::Folder(PathBuf::from(f)),
        (None, Some((setting, text))) => match StorageTarget::from_connection_string(&text) {
            Ok(account) => SpoolSetting::Container { account, container },
            Err(e) => {
                problem(&setting, format!("not a storage connection string: {e}"));
                SpoolSetting::Folder(data_dir.join("spool"))
            }
        },
        (None, None) => SpoolSetting::Folder(data_dir.join("spool")),
    }
}

/// How long the embedded store keeps rows.
fn retention_days(
    env: &BTreeMap<String, String>,
    from_file: Option<u64>,
    problem: &mut impl FnMut(&str, String),
) -> u32 {
    match pick(
        env,
        "ENTRA_MONITOR_RETENTION_DAYS",
        from_file.map(|n| n.to_string()),
        "retention_days",
    ) {
        None => 30,
        Some((setting, text)) => match text.parse::<u32>() {
            Ok(n) if (1..=3650).contains(&n) => n,
            _ => {
                problem(
                    &setting,
                    format!("\"{text}\" is out of range; expected 1 to 3650 days"),
                );
                30
            }
        },
    }
}

/// Who the bearer-token destinations authenticate as.
fn credential(
    env: &BTreeMap<String, String>,
    from_file: Option<String>,
    tenants: &[super::TenantConfig],
    problem: &mut impl FnMut(&str, String),
) -> DestinationCredential {
    match pick(
        env,
        "ENTRA_MONITOR_DESTINATION_CREDENTIAL",
        from_file,
        "destination_credential",
    ) {
        None => DestinationCredential::ManagedIdentity,
        Some((_, v)) if v.eq_ignore_ascii_case("managed-identity") => {
            DestinationCredential::ManagedIdentity
        }
        Some((setting, v)) => {
            if !tenants
                .iter()
                .any(|t| t.id.as_str() == v.to_ascii_lowercase() || t.name == v)
            {
                problem(
                    &setting,
                    format!(
                        "\"{v}\" is neither managed-identity nor a configured tenant's id or name"
                    ),
                );
            }
            DestinationCredential::Tenant(v)
        }
    }
}

/// Every routed destination must be configured.
fn check_routes(
    routes: &BTreeMap<Category, Vec<Destination>>,
    d: &DestinationSettings,
    problem: &mut impl FnMut(&str, String),
) {
    for (category, dests) in routes {
        for dest in dests {
            let (missing, how) = match dest {
                Destination::Storage => (
                    d.storage.is_none(),
                    "ENTRA_MONITOR_STORAGE_FOLDER, ENTRA_MONITOR_STORAGE_CONNECTION_STRING or ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
                ),
                Destination::LogAnalytics => (
                    d.log_analytics.is_none(),
                    "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT and ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID",
                ),
                Destination::EventHubs => (
                    d.event_hubs.is_none(),
                    "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING or ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL",
                ),
                Destination::Embedded => (false, ""),
            };
            if missing {
                problem(
                    &super::routes_env_var(*category),
                    format!("routes {category} to {dest}, which is not configured; set {how}"),
                );
            }
        }
    }
}
