//! Tenant health: the scenario signals (computed from the sign-ins by the `health-signals`
//! question, `shared/src/query/questions/health_signals.rs`) and the anomalies found in them
//! against the tenant's own history ([`anomaly`]).

pub mod anomaly;
