//! What the collect-* timer functions share: for every tenant and each of the function's
//! categories, run the collection pipeline (window → pages → rows → store → checkpoint) and
//! report what it did. A run stops at a safe point when its time budget is spent or the process
//! shuts down; the next run continues from the stored checkpoint.

use crate::app::App;
use crate::app::TenantSource;
use crate::functions::TimerResult;
use crate::invocation::{FunctionError, Invocation, TimerInfo};
use shared::model::Category;
use shared::pipeline::{CategoryReport, CollectSettings, collect_category};
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
    let sources = app.sources().await?;
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
            let Some(report) = collect_one(app, inv, tenant, *category, &keep_going)
                .await
                .map_err(|e| failures.push(format!("{} {category}: {e}", tenant.name)))
                .ok()
                .flatten()
            else {
                continue;
            };
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

/// Collects one tenant's category. When the instances share state, under the category's
/// lease (None: another instance holds it) and from its durable bookkeeping, written back
/// after.
async fn collect_one(
    app: &App,
    inv: &Invocation,
    tenant: &TenantSource,
    category: Category,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<Option<CategoryReport>, String> {
    let store = app.state().map_err(|e| e.to_string())?;
    let router = app.router().await.map_err(|e| e.to_string())?;
    let shared = app.shared_state().await.map_err(|e| e.to_string())?;
    let settings = CollectSettings {
        backfill: app.config().backfill,
        settle: app.config().settle,
        overlaps: app.config().overlaps.clone(),
        ..Default::default()
    };
    let source = tenant.for_category(category);
    let Some(shared) = shared else {
        let report = collect_category(
            &store,
            router,
            source,
            category,
            app.now(),
            &settings,
            keep_going,
        )
        .await;
        return report.map(Some).map_err(|e| e.to_string());
    };
    // One writer per tenant and category.
    let held = match shared.leases.try_acquire(&source.tenant, category).await {
        Ok(Some(held)) => held,
        Ok(None) => {
            inv.log(format!(
                "tenant {}: {category}: another instance is collecting it (it holds the lease); skipped",
                tenant.name
            ));
            return Ok(None);
        }
        Err(e) => return Err(format!("the collection lease could not be taken: {e}")),
    };
    let outcome = async {
        let restored = shared
            .durable
            .restore(&store, &source.tenant, category)
            .await
            .map_err(|e| e.to_string())?;
        if restored.replaced {
            inv.log(format!(
                "tenant {}: {category}: bookkeeping restored from the shared state (another instance, or an earlier life of this one, collected it last)",
                tenant.name
            ));
        }
        // A lease lost (it lapsed and another instance took it): stop at the next page.
        let keep = || keep_going() && !held.lost();
        let report = collect_category(&store, router, source, category, app.now(), &settings, &keep)
            .await
            .map_err(|e| e.to_string())?;
        shared
            .durable
            .save(
                &store,
                &source.tenant,
                category,
                settings.overlap(category),
                restored.etag.as_deref(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(report))
    }
    .await;
    if let Err(e) = held.release().await {
        inv.log(format!(
            "the collection lease was not released (it lapses on its own): {e}"
        ));
    }
    outcome
}

/// One line saying what a category's run did.
fn summary(app: &App, tenant: &str, category: Category, report: &CategoryReport) -> String {
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
        assert_eq!(collected, Category::COLLECTED.to_vec());
    }
}
