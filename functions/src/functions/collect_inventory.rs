//! `collect-inventory`: lists the directory objects the usage reports and recommendations
//! read — application registrations (with credentials and owners), service principals, users
//! (with `signInActivity` where licensed), directory role definitions and assignments,
//! authentication-methods registration details and Conditional Access policies, and Microsoft's
//! usage reports where licensed — for every tenant, and keeps them as the tenant's inventory
//! with the history of changes.

use crate::app::App;
use crate::functions::TimerResult;
use crate::invocation::{BoxFuture, FunctionError, Invocation, TimerInfo};
use shared::pipeline::inventory::collect_inventory;
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;
use std::time::Instant;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "collect-inventory",
    description: "Lists app registrations, service principals, users, directory roles, registration details and Conditional Access policies into the directory inventory, with the history of changes.",
    trigger: Trigger::Timer {
        schedule: "0 5 * * * *",
    },
};

pub fn run(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let sources = app.sources().await?;
        let store = app.state()?;
        let started = Instant::now();
        let budget = app.config().run_budget;
        let keep_going = || !inv.shutting_down() && started.elapsed() < budget;
        let (mut listed, mut changed, mut failures) = (0, 0, Vec::new());
        for tenant in sources {
            let reports = collect_inventory(&store, &tenant.reports, app.now(), &keep_going).await;
            // Recommendations read the inventory: a tenant not evaluated for a day (a fresh
            // `serve`, a new instance) is evaluated as soon as it is listed.
            let key = &tenant.reports.tenant;
            let complete = reports.iter().all(|r| r.error.is_none());
            let due = store
                .last_recommendation_run(key)?
                .is_none_or(|at| app.now() - at >= super::recommendations::EVALUATE_AFTER);
            if complete && due {
                super::recommendations::evaluate_tenant(&app, &inv, key).await?;
            }
            for r in reports {
                match (&r.changes, &r.error) {
                    (Some(c), _) => {
                        inv.log(format!(
                            "tenant {}: {}: {} listed ({} added, {} changed, {} removed), {} requests, {} throttled{}",
                            tenant.name, r.kind, c.listed, c.added, c.changed, c.removed, r.requests, r.throttled,
                            r.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
                        ));
                        listed += c.listed;
                        changed += c.added + c.changed + c.removed;
                    }
                    (None, Some(e)) => failures.push(format!("{} {}: {e}", tenant.name, r.kind)),
                    (None, None) => {
                        if let Some(n) = &r.note {
                            inv.log(format!("tenant {}: {}: {n}", tenant.name, r.kind));
                        }
                    }
                }
            }
        }
        if failures.is_empty() {
            Ok(format!(
                "{listed} directory objects listed, {changed} changes, from {} tenant(s)",
                sources.len()
            ))
        } else {
            Err(FunctionError::Failed(failures.join("; ")))
        }
    })
}
