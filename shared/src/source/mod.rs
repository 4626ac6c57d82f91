//! Where records come from: Microsoft Graph (or the simulated tenant, which speaks the same
//! HTTP API). [`graph`] fetches pages with retries; [`budget`] shares the throttling budget.

pub mod budget;
pub mod graph;
pub mod token;
