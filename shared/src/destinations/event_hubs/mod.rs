//! Event Hubs, as Entra diagnostic settings send to it (<https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/resource-logs-schema>, <https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>): each event's
//! body is `{"records":[...]}` holding export records, so SIEM connectors that read Entra's own
//! stream read ours unchanged. Sent with the HTTPS batch API, authorised by a SAS token (from a
//! connection string) or a bearer token (managed identity); each request at most the tier's
//! limit (1 MB; 256 KB on Basic), halved on 413, `Retry-After` honoured on 429/503, 5xx retried.
//! At least once: consumers dedupe on `properties.id`.

pub mod config;
pub mod service;
pub mod sink;
pub mod target;

pub use sink::{EventHubsError, EventHubsSink};
pub use target::{EventHubsAuth, EventHubsTarget};
