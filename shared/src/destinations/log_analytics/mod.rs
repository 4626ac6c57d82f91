//! Log Analytics through the Logs Ingestion API (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>): rows posted as gzip'd JSON
//! arrays to a DCR stream, each call at most 1 MB, halved on 413, `Retry-After` honoured on 429,
//! 5xx retried, a record never split, a single record over the limit set aside with its reason.
//! At least once: the API does not dedupe, so rows keep their `RecordId` for query-time dedupe.
//!
//! The custom tables and the DCR are described by [`schema`], generated from the same column
//! definitions rows are shaped by (`infra/azure/log-analytics/`).

pub mod config;
pub mod schema;
pub mod service;
pub mod sink;
pub mod target;

pub use sink::{LogAnalyticsError, LogAnalyticsSink};
pub use target::LogAnalyticsTarget;
