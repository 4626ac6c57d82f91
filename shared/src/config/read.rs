//! Reading settings: the file, unknown variables, numbers and URLs with their ranges, and the
//! process's own settings (where it keeps its data, where it listens, how it logs).

use super::{
    ENV_PREFIX, FileConfig, Host, KNOWN_ENV, LogFormat, auth, destinations, detections, http,
    overlap_env_var, query, recommendations, routes_env_var, schedule_env_var,
};
use crate::model::Category;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Unknown `ENTRA_MONITOR_*` variables: almost always typos of a real one.
pub(super) fn unknown_variables(
    env: &BTreeMap<String, String>,
    timer_functions: &[&str],
    problem: &mut impl FnMut(&str, String),
) {
    let schedule_vars: Vec<String> = timer_functions
        .iter()
        .map(|f| schedule_env_var(f))
        .collect();
    let route_vars: Vec<String> = Category::ALL.iter().map(|c| routes_env_var(*c)).collect();
    for key in env.keys().filter(|k| k.starts_with(ENV_PREFIX)) {
        let overlap_var = Category::ALL.iter().any(|c| overlap_env_var(*c) == *key);
        let known = [
            KNOWN_ENV,
            destinations::ENV,
            crate::destinations::storage::config::ENV,
            crate::destinations::log_analytics::config::ENV,
            crate::destinations::event_hubs::config::ENV,
            crate::state::settings::ENV,
            auth::ENV,
            query::ENV,
            http::ENV,
            detections::ENV,
            recommendations::ENV,
        ]
        .iter()
        .any(|list| list.contains(&key.as_str()));
        if known || schedule_vars.contains(key) || route_vars.contains(key) || overlap_var {
            continue;
        }
        let hint = if key.starts_with("ENTRA_MONITOR_SCHEDULE_") {
            format!(
                "no timer function of that name; expected one of {}",
                sorted(&schedule_vars)
            )
        } else if key.starts_with("ENTRA_MONITOR_ROUTES_") {
            format!(
                "no category of that name; expected one of {}",
                sorted(&route_vars)
            )
        } else {
            "unknown setting; see docs/configuration.md for the settings".to_string()
        };
        problem(key, hint);
    }
}

fn sorted(names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    names.join(", ")
}

/// A whole number from the environment (winning) or the file, within `range`; the default
/// when unset or wrong (a wrong value is a problem).
pub(super) fn number(
    env: &BTreeMap<String, String>,
    var: &str,
    from_file: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
    problem: &mut impl FnMut(&str, String),
) -> u64 {
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
}

/// The base URL of a service credentials and tokens travel to: https, or http to loopback.
pub(super) fn host_setting(
    env: &BTreeMap<String, String>,
    var: &str,
    from_file: Option<String>,
    default: &str,
    problem: &mut impl FnMut(&str, String),
) -> String {
    let value = env
        .get(var)
        .cloned()
        .or(from_file)
        .unwrap_or_else(|| default.to_string());
    let v = value.trim().trim_end_matches('/').to_string();
    if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(char::is_whitespace) {
        problem(
            var,
            format!("\"{value}\" is not a URL; expected e.g. {default}"),
        );
    } else if v.starts_with("http://") && !super::is_loopback_url(&v) {
        // Tokens and client secrets travel to these hosts.
        problem(
            var,
            format!(
                "\"{value}\" is plain http: credentials and tokens would cross the network unencrypted; use https:// (http:// only for a loopback address such as 127.0.0.1, for a local stand-in)"
            ),
        );
    }
    v
}

/// The address `serve` listens on.
pub(super) fn listen(
    env: &BTreeMap<String, String>,
    from_file: Option<String>,
    problem: &mut impl FnMut(&str, String),
) -> SocketAddr {
    let default = SocketAddr::from(([127, 0, 0, 1], 7071));
    let text = env
        .get("ENTRA_MONITOR_LISTEN")
        .map(|v| ("ENTRA_MONITOR_LISTEN", v.clone()))
        .or(from_file.map(|v| ("listen", v)));
    match text {
        None => default,
        Some((setting, text)) => text.trim().parse().unwrap_or_else(|_| {
            problem(
                setting,
                format!("\"{text}\" is not an address; expected IP:PORT such as 127.0.0.1:7071"),
            );
            default
        }),
    }
}

/// Text logs locally, JSON on the cloud hosts, unless told.
pub(super) fn log_format(
    env: &BTreeMap<String, String>,
    from_file: Option<String>,
    host: Host,
    problem: &mut impl FnMut(&str, String),
) -> LogFormat {
    let text = env
        .get("ENTRA_MONITOR_LOG_FORMAT")
        .map(|v| ("ENTRA_MONITOR_LOG_FORMAT", v.clone()))
        .or(from_file.map(|v| ("log_format", v)));
    match text {
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
    }
}

/// Which log lines are written (a `tracing` filter).
pub(super) fn log_filter(
    env: &BTreeMap<String, String>,
    from_file: Option<String>,
    problem: &mut impl FnMut(&str, String),
) -> String {
    let filter = env
        .get("ENTRA_MONITOR_LOG")
        .cloned()
        .or(from_file)
        .unwrap_or_else(|| "info".to_string());
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&filter) {
        problem(
            "ENTRA_MONITOR_LOG",
            format!(
                "\"{filter}\" is not a log filter ({e}); expected e.g. info or info,shared=debug"
            ),
        );
    }
    filter
}

/// Where the state lives: given, or the host's writable place.
pub(super) fn data_dir(
    env: &BTreeMap<String, String>,
    from_file: Option<PathBuf>,
    host: Host,
) -> PathBuf {
    env.get("ENTRA_MONITOR_DATA_DIR")
        .map(PathBuf::from)
        .or(from_file)
        .unwrap_or_else(|| default_data_dir(host, env))
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

pub(super) fn default_data_dir(host: Host, env: &BTreeMap<String, String>) -> PathBuf {
    match host {
        Host::Local => PathBuf::from("data"),
        // Only /tmp is writable on Lambda.
        Host::Lambda => PathBuf::from("/tmp/entra-monitor"),
        // The app root may be a read-only package. $HOME/data persists where $HOME is local
        // disk; on the Consumption and Premium plans $HOME is an Azure Files share, where
        // SQLite must not run: there the instance's local /tmp (lost when the instance goes).
        Host::Azure => match env.get("HOME") {
            Some(home) => {
                let dir = Path::new(home).join("data").join("entra-monitor");
                if crate::state::filesystem::network_filesystem(&dir).is_some() {
                    PathBuf::from(super::AZURE_LOCAL_DATA_DIR)
                } else {
                    dir
                }
            }
            None => PathBuf::from("data"),
        },
    }
}

pub(super) fn read_file(path: &Path) -> Result<FileConfig, String> {
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
