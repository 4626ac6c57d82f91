//! Storage, as Entra diagnostic settings write it (<https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/resource-logs-schema>): container
//! `insights-logs-<category>`, blob `tenantId=<id>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, one
//! export record per line. Writes to a local folder (same layout) or to a Blob account (Shared
//! Key; tested on Azurite). A batch written twice — a retry after an unknown outcome — adds
//! its lines once.

pub mod config;
pub mod service;
pub mod sink;
pub mod target;

pub use sink::{StorageSink, blob_path, container};
pub use target::StorageTarget;
