//! `collect-risk`: Collects Identity Protection risk detections and risky users, and the same
//! for service principals where the tenant has Workload ID Premium (else those two categories
//! are paused with the reason, the others go on).

use crate::app::App;
use crate::functions::{TimerResult, collect};
use crate::invocation::{BoxFuture, Invocation, TimerInfo};
use shared::model::Category;
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "collect-risk",
    description: "Collects Identity Protection risk detections and risky users, and service principals' (Workload ID Premium).",
    trigger: Trigger::Timer {
        schedule: "0 */30 * * * *",
    },
};

pub const CATEGORIES: &[Category] = &[
    Category::UserRiskEvents,
    Category::RiskyUsers,
    Category::ServicePrincipalRiskEvents,
    Category::RiskyServicePrincipals,
];

pub fn run(app: Arc<App>, inv: Invocation, timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move { collect::run(&app, &inv, &timer, CATEGORIES).await })
}
