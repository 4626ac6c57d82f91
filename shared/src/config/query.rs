//! Where the question endpoints read: the embedded store or a Log Analytics workspace. Locally
//! the embedded store is the default. In the cloud (Azure, Lambda) an instance's store holds
//! only what that instance collected since it started — instances come and go, and the shared
//! state keeps the bookkeeping, not the rows — so there a configured workspace is the default.

use crate::query::params::{Backend, KqlTables};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySettings {
    pub backend: Backend,
    /// The workspace id (a GUID), for the Log Analytics backend.
    pub workspace_id: Option<String>,
    /// The query API (`https://api.loganalytics.io`; sovereign clouds differ).
    pub endpoint: String,
    pub tables: KqlTables,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileQuery {
    backend: Option<String>,
    workspace_id: Option<String>,
    endpoint: Option<String>,
    tables: Option<String>,
}

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_QUERY_BACKEND",
    "ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID",
    "ENTRA_MONITOR_LOG_ANALYTICS_QUERY_ENDPOINT",
    "ENTRA_MONITOR_LOG_ANALYTICS_TABLES",
];

pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileQuery,
    host: super::Host,
    problem: &mut impl FnMut(&str, String),
) -> QuerySettings {
    let get = |var: &str, from_file: Option<String>, key: &str| {
        env.get(var)
            .map(|v| (var.to_string(), v.trim().to_string()))
            .or(from_file.map(|v| (format!("query.{key}"), v.trim().to_string())))
    };
    let workspace_id = get(
        "ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID",
        file.workspace_id,
        "workspace_id",
    );
    let backend = match get("ENTRA_MONITOR_QUERY_BACKEND", file.backend, "backend") {
        None if host != super::Host::Local && workspace_id.is_some() => Backend::LogAnalytics,
        None => Backend::Embedded,
        Some((_, b)) if b == "embedded" => Backend::Embedded,
        Some((_, b)) if b == "log-analytics" => Backend::LogAnalytics,
        Some((setting, b)) => {
            problem(
                &setting,
                format!("\"{b}\" is not a query backend; expected embedded or log-analytics"),
            );
            Backend::Embedded
        }
    };
    if let Some((setting, w)) = &workspace_id
        && !crate::model::is_guid(w)
    {
        problem(
            setting,
            format!(
                "\"{w}\" is not a workspace id; expected the workspace's GUID (Workspace ID on its overview page)"
            ),
        );
    }
    if backend == Backend::LogAnalytics && workspace_id.is_none() {
        problem(
            "ENTRA_MONITOR_QUERY_BACKEND",
            "log-analytics needs ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID".into(),
        );
    }
    let endpoint = get(
        "ENTRA_MONITOR_LOG_ANALYTICS_QUERY_ENDPOINT",
        file.endpoint,
        "endpoint",
    )
    .map(|(_, e)| e.trim_end_matches('/').to_string())
    .unwrap_or_else(|| "https://api.loganalytics.io".into());
    let tables = match get("ENTRA_MONITOR_LOG_ANALYTICS_TABLES", file.tables, "tables") {
        None => KqlTables::Entra,
        Some((_, t)) if t == "entra" => KqlTables::Entra,
        Some((_, t)) if t == "custom" => KqlTables::Custom,
        Some((setting, t)) => {
            problem(
                &setting,
                format!(
                    "\"{t}\" is not a table set; expected entra (diagnostic settings) or custom (entra-monitor's _CL tables)"
                ),
            );
            KqlTables::Entra
        }
    };
    QuerySettings {
        backend,
        workspace_id: workspace_id.map(|(_, w)| w),
        endpoint,
        tables,
    }
}
