//! Where rows are ingested: the endpoint and DCR, read and checked here (both or neither), and
//! the sink they build.

use super::sink::LogAnalyticsSink;
use super::target::LogAnalyticsTarget;
use crate::config::given::{pick, url};
use crate::source::token::TokenCache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The token audience of the Logs Ingestion API (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>).
pub const AUDIENCE: &str = "https://monitor.azure.com";

/// The environment variables read here.
pub const ENV: &[&str] = &[
    "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT",
    "ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID",
];

/// The file's `[log_analytics]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLogAnalytics {
    endpoint: Option<String>,
    dcr_immutable_id: Option<String>,
}

/// Log Analytics: both the endpoint and the DCR.
pub fn read(
    env: &BTreeMap<String, String>,
    file: FileLogAnalytics,
    problem: &mut impl FnMut(&str, String),
) -> Option<LogAnalyticsTarget> {
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
            Some(LogAnalyticsTarget {
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

impl LogAnalyticsTarget {
    /// The sink for this target, authenticated with the destination credential's tokens.
    pub fn sink(
        &self,
        tokens: impl FnOnce(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<LogAnalyticsSink, String> {
        Ok(LogAnalyticsSink::new(self.clone(), Some(tokens(AUDIENCE)?)))
    }
}
