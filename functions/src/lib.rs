//! The entra-monitor function set and its hosts.
//!
//! - [`functions`]: one file per function, and the registry every host derives from;
//! - [`hosts`]: the Azure custom handler, the Lambda entry and the local runner;
//! - [`import`]: the `import` command (log files into the embedded store);
//! - [`app`]: what the hosts drive; [`invocation`]: what functions receive and return;
//! - [`request`]: the one request layer of the read endpoints (tenant, parameters, paging, format).

pub mod admission;
pub mod app;
pub mod aws_template;
pub mod azure_template;
pub mod functions;
pub mod hosts;
pub mod import;
pub mod invocation;
pub mod request;
pub mod routing;
