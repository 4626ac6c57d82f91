//! Destination settings: Storage, Log Analytics, Event Hubs, the spool and retention, from
//! `ENTRA_MONITOR_*` variables or the file's `[storage]`, `[log_analytics]`, `[event_hubs]` and
//! `[spool]` tables (connection strings, which hold keys, only through environment variables:
//! the file names the variable). Checked against the routes: a route to an unconfigured
//! destination is an error.

use super::given::{pick, secret};
use crate::destinations::Sink;
use crate::destinations::event_hubs::config::{self as event_hubs, FileEventHubs};
use crate::destinations::log_analytics::config::{self as log_analytics, FileLogAnalytics};
use crate::destinations::storage::StorageTarget;
use crate::destinations::storage::config::{self as storage, FileStorage};
use crate::model::{Category, Destination};
use crate::source::token::TokenCache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::destinations::event_hubs::config::EventHubsSetting;
pub use crate::destinations::storage::config::StorageSetting;
/// Log Analytics' settings are its target: the ingestion endpoint and the DCR.
pub type LogAnalyticsSetting = crate::destinations::log_analytics::LogAnalyticsTarget;

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

impl DestinationSettings {
    /// The sinks of the configured destinations; `tokens` gives the destination credential's
    /// tokens for an audience, for those reached with it.
    pub fn sinks(
        &self,
        tokens: &dyn Fn(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<Vec<Box<dyn Sink>>, String> {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        let named = |what: &str, e: String| format!("{what}: {e}");
        if let Some(s) = &self.storage {
            sinks.push(Box::new(s.sink(tokens).map_err(|e| named("storage", e))?));
        }
        if let Some(s) = &self.log_analytics {
            sinks.push(Box::new(
                s.sink(tokens).map_err(|e| named("log analytics", e))?,
            ));
        }
        if let Some(s) = &self.event_hubs {
            sinks.push(Box::new(
                s.sink(tokens).map_err(|e| named("event hubs", e))?,
            ));
        }
        Ok(sinks)
    }
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
pub(super) struct FileSpool {
    folder: Option<PathBuf>,
    connection_string_env: Option<String>,
    container: Option<String>,
}

/// The environment variables read here; each destination's own are in its `config.rs`.
pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_SPOOL_FOLDER",
    "ENTRA_MONITOR_SPOOL_CONNECTION_STRING",
    "ENTRA_MONITOR_SPOOL_CONTAINER",
    "ENTRA_MONITOR_RETENTION_DAYS",
    "ENTRA_MONITOR_DESTINATION_CREDENTIAL",
];

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
        storage: storage::read(env, file.storage, problem),
        log_analytics: log_analytics::read(env, file.log_analytics, problem),
        event_hubs: event_hubs::read(env, file.event_hubs, problem),
        spool: spool(env, file.spool, data_dir, problem),
        retention_days: retention_days(env, file_retention, problem),
        credential: credential(env, file_credential, tenants, problem),
    };
    check_routes(routes, &settings, problem);
    settings
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
