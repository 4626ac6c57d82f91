//! `collect-signins`: Collects the four kinds of sign-ins (interactive, non-interactive, service principal, managed identity).

use crate::app::App;
use crate::functions::{TimerResult, collect};
use crate::invocation::{BoxFuture, Invocation, TimerInfo};
use shared::model::Category;
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "collect-signins",
    description: "Collects the four kinds of sign-ins (interactive, non-interactive, service principal, managed identity).",
    trigger: Trigger::Timer {
        schedule: "0 */5 * * * *",
    },
};

pub const CATEGORIES: &[Category] = &[
    Category::SignInLogs,
    Category::NonInteractiveUserSignInLogs,
    Category::ServicePrincipalSignInLogs,
    Category::ManagedIdentitySignInLogs,
];

pub fn run(app: Arc<App>, inv: Invocation, timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move { collect::run(&app, &inv, &timer, CATEGORIES).await })
}
