//! The hosts that run the function set. Each is a thin adapter from its trigger format to
//! [`crate::app::App`]:
//! - [`azure`]: the Azure Functions custom handler (the host's invocation envelope, and
//!   forwarded HTTP requests);
//! - [`lambda`]: AWS Lambda (EventBridge schedules and Function URL / API Gateway v2 events);
//! - [`local`]: one process with an embedded scheduler and the HTTP functions on 127.0.0.1:7071.

pub mod azure;
pub mod http;
pub mod lambda;
pub mod local;
