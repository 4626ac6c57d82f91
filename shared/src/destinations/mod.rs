//! Where records go besides the embedded store: one folder per destination, each split into
//! `config` (what the user sets), `service` (one exchange with the remote API) and `sink`
//! (batching and encoding).
//!
//! Built so far: [`storage`] (the diagnostic-settings archive layout, to a folder or a Blob
//! account) and [`log_analytics`] (the Logs Ingestion API). Not yet routed from the collection
//! pipeline.

pub mod log_analytics;
pub mod storage;
