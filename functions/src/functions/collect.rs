//! What the collect-* timer functions share: for every tenant and each of the function's
//! categories, run the collection pipeline (window → pages → rows → store → checkpoint) and
//! report what it did. A run stops at a safe point when its time budget is spent or the process
//! shuts down; the next run continues from the stored checkpoint.

use crate::app::App;
use crate::functions::TimerResult;
use crate::invocation::{FunctionError, Invocation, TimerInfo};
use shared::model::Category;
use shared::pipeline::{CollectSettings, collect_category};
use std::time::Instant;

pub async fn run(
    app: &App,
    inv: &Invocation,
    timer: &TimerInfo,
    categories: &[Category],
) -> TimerResult {
    if timer.past_due {
        inv.log("the trigger fired later than scheduled (past due); running now");
    }
    let store = app.state()?;
    let sources = app.sources().await?;
    let router = app.router().await?;
    let leases = app.leases().await?;
    let settings = CollectSettings {
        backfill: app.config().backfill,
        settle: app.config().settle,
        overlaps: app.config().overlaps.clone(),
        ..Default::default()
    };
    let started = Instant::now();
    let budget = app.config().run_budget;
    let keep_going = || !inv.shutting_down() && started.elapsed() < budget;
    let (mut records, mut new, mut failures) = (0, 0, Vec::new());
    for tenant in sources {
        for category in categories.iter().filter(|c| tenant.categories.contains(c)) {
            if !keep_going() {
                inv.log("stopping at a safe point (time budget spent or shutting down); the next run continues");
                break;
            }
            // One writer per tenant and category when instances share state.
            let held = match leases {
                None => None,
                Some(l) => match l.try_acquire(&tenant.reports.tenant, *category).await {
                    Ok(Some(held)) => Some(held),
                    Ok(None) => {
                        inv.log(format!(
                            "tenant {}: {category}: another instance is collecting it (it holds the lease); skipped",
                            tenant.name
                        ));
                        continue;
                    }
                    Err(e) => {
                        failures.push(format!(
                            "{} {category}: the collection lease could not be taken: {e}",
                            tenant.name
                        ));
                        continue;
                    }
                },
            };
            // A lease lost (it lapsed and another instance took it): stop at the next page.
            let keep = || keep_going() && !held.as_ref().is_some_and(|h| h.lost());
            let report = collect_category(
                &store,
                router,
                tenant.for_category(*category),
                *category,
                app.now(),
                &settings,
                &keep,
            )
            .await;
            if let Some(held) = held
                && let Err(e) = held.release().await
            {
                inv.log(format!(
                    "the collection lease was not released (it lapses on its own): {e}"
                ));
            }
            let report = report?;
            inv.log(summary(app, &tenant.name, *category, &report));
            records += report.records;
            new += report.new;
            if let Some(e) = report.error.filter(|_| !report.paused) {
                failures.push(format!("{} {category}: {e}", tenant.name));
            }
        }
    }
    // Detections follow each collection of what they read.
    if categories
        .iter()
        .any(|c| matches!(c, Category::SignInLogs | Category::AuditLogs))
    {
        for tenant in sources.iter().filter(|t| {
            t.categories.contains(&Category::SignInLogs)
                || t.categories.contains(&Category::AuditLogs)
        }) {
            if !keep_going() {
                break;
            }
            if let Err(e) = crate::functions::detect_risks::detect_tenant(app, inv, tenant).await {
                inv.log(format!(
                    "tenant {}: detections after collection failed: {e}",
                    tenant.name
                ));
            }
        }
    }
    if failures.is_empty() {
        Ok(format!(
            "{records} records read, {new} new, from {} tenant(s)",
            sources.len()
        ))
    } else {
        Err(FunctionError::Failed(failures.join("; ")))
    }
}

/// One line saying what a category's run did.
fn summary(
    app: &App,
    tenant: &str,
    category: Category,
    report: &shared::pipeline::CategoryReport,
) -> String {
    let routes: Vec<&str> = app.config().routes[&category]
        .iter()
        .map(|d| d.name())
        .collect();
    let state = if report.paused {
        "paused"
    } else if report.completed {
        "complete"
    } else {
        "partial"
    };
    format!(
        "tenant {tenant}: {category}: {} records ({} new, {} updated, {} rejected), {} requests, {} throttled, {state}; routed to {} ({} batches delivered, {} spooled){}",
        report.records,
        report.new,
        report.updated,
        report.rejected,
        report.requests,
        report.throttled,
        routes.join(", "),
        report.batches_delivered,
        report.batches_spooled,
        report
            .error
            .as_ref()
            .map(|e| format!("; {e}"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use crate::functions::{collect_audit, collect_provisioning, collect_risk, collect_signins};
    use shared::model::Category;

    #[test]
    fn every_category_is_collected_by_exactly_one_timer_function() {
        let mut collected = [
            collect_signins::CATEGORIES,
            collect_audit::CATEGORIES,
            collect_provisioning::CATEGORIES,
            collect_risk::CATEGORIES,
        ]
        .concat();
        collected.sort();
        assert_eq!(collected, Category::ALL.to_vec());
    }
}
