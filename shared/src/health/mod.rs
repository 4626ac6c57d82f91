//! Tenant health: the scenario signals (computed from the sign-ins by the `health-signals`
//! question, `shared/src/query/questions/health_signals.rs`), the anomalies found in them
//! against the tenant's own history ([`anomaly`]), and the alerts the [`monitor`] keeps for
//! what it [`watched`]: one per incident, in Graph's shape ([`alert`]), each [`explain`]ed.

pub mod alert;
pub mod anomaly;
pub mod explain;
pub mod microsoft;
pub mod monitor;
pub mod notify;
pub mod pipeline;
pub mod publish;
pub mod watched;
