//! The common core of entra-monitor, shared by every function and every host.
//!
//! Folder by folder this crate is the product's architecture:
//! - [`config`]: typed configuration from environment variables and an optional TOML file,
//!   validated at start with every problem reported at once;
//! - [`model`]: the domain vocabulary (tenants, log categories, destinations);
//! - [`registry`]: how a function is declared (name, trigger) and its `function.json` form;
//! - [`schedule`]: Azure's 6-field NCRONTAB timer schedules;
//! - [`state`]: durable state behind a small interface (SQLite locally);
//! - [`clock`]: injected time, so tests are deterministic;
//! - [`telemetry`]: logging, readable locally and JSON in the cloud.
//! - [`import`]: logs from files (Graph exports, diagnostic-settings archives, Log Analytics
//!   exports) into the embedded store;
//! - [`simulated`]: the simulated tenant, a Graph-compatible source for tests and first runs.

// The Graph-shaped json! literals of the simulated tenant nest deeply.
#![recursion_limit = "256"]

pub mod auth;
pub mod clock;
pub mod config;
pub mod destinations;
pub mod detect;
pub mod health;
pub mod import;
pub mod model;
pub mod pipeline;
pub mod query;
pub mod recommend;
pub mod registry;
pub mod schedule;
pub mod secret;
pub mod simulated;
pub mod source;
pub mod state;
pub mod telemetry;

#[cfg(test)]
mod layout;
