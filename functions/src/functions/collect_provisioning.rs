//! `collect-provisioning`: Collects provisioning logs.

use crate::app::App;
use crate::functions::{TimerResult, collect};
use crate::invocation::{BoxFuture, Invocation, TimerInfo};
use shared::model::Category;
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "collect-provisioning",
    description: "Collects provisioning logs.",
    trigger: Trigger::Timer {
        schedule: "0 */15 * * * *",
    },
};

pub const CATEGORIES: &[Category] = &[Category::ProvisioningLogs];

pub fn run(app: Arc<App>, inv: Invocation, timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move { collect::run(&app, &inv, &timer, CATEGORIES).await })
}
