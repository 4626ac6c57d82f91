//! `detect-risks`: runs our risk detections over what each tenant's embedded store holds since
//! the last run (with a look-back for late records), stores new detections (one per incident)
//! and the learned history.

use crate::app::{App, TenantSource};
use crate::functions::TimerResult;
use crate::invocation::FunctionError;
use crate::invocation::{BoxFuture, Invocation, TimerInfo};
use shared::destinations::router::RouteError;
use shared::detect::publish::{Published, publish};
use shared::detect::run::run_detections;
use shared::detect::{Detection, risky};
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "detect-risks",
    description: "Runs our risk detections over newly collected sign-ins and audits.",
    trigger: Trigger::Timer {
        schedule: "0 */10 * * * *",
    },
};

pub fn run(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let mut lines = Vec::new();
        for t in app.sources().await? {
            lines.push(detect_tenant(&app, &inv, t).await?);
        }
        Ok(lines.join("; "))
    })
}

/// One detection run for a tenant (after the `detect-risks` timer, and after each collection
/// of sign-ins or audits): new detections stored, routed and alerted; returns what it did.
pub async fn detect_tenant(
    app: &App,
    inv: &Invocation,
    t: &TenantSource,
) -> Result<String, FunctionError> {
    // One run at a time in this process: two would learn the same sign-ins twice.
    static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = RUNNING.lock().await;
    let store = app.state()?;
    let now = app.now();
    let tenant = t.reports.tenant.clone();
    let thresholds = app.detection_thresholds();
    // SQLite work off the async threads.
    let report =
        tokio::task::spawn_blocking(move || run_detections(&store, &tenant, now, &thresholds))
            .await
            .map_err(|e| FunctionError::Failed(e.to_string()))??;
    let published = publish_risk(app, &t.reports.tenant, &report.new_detections).await?;
    let mut alerted = String::new();
    if let Some(settings) = &app.config().alerts
        && !report.new_detections.is_empty()
    {
        let alerter = shared::detect::alerts::Alerter::new(settings.clone());
        let store = app.state()?;
        let a = alerter
            .send(&store, &t.reports.tenant, &report.new_detections, app.now())
            .await?;
        alerted = format!(
            "; alerts: {} sent, {} suppressed by the hourly limit, {} failed",
            a.sent, a.suppressed, a.failed
        );
    }
    let line = if report.waiting {
        format!(
            "tenant {}: waiting for collection to catch up before the first detection run",
            t.name
        )
    } else {
        format!(
            "tenant {}: {} sign-ins and {} audit events read, {} new detections{}; {} detections ({} about apps, also as their service principals' risk) and {} risky users routed{alerted}",
            t.name,
            report.sign_ins,
            report.audits,
            report.new,
            if report.learning_days > 0 {
                format!(" ({} days only learned from)", report.learning_days)
            } else {
                String::new()
            },
            published.detections,
            published.service_principal_detections,
            published.risky_users
        )
    };
    inv.log(&line);
    Ok(line)
}

/// Routes a tenant's new detections, and its risky users whose state changed, as rows of
/// `AADUserRiskEvents` / `AADRiskyUsers`, like the collected categories; then delivers them.
pub async fn publish_risk(
    app: &App,
    tenant: &str,
    detections: &[Detection],
) -> Result<Published, FunctionError> {
    let store = app.state()?;
    let router = app.router().await?;
    let retention = chrono::Duration::days(app.config().destinations.retention_days as i64);
    let now = app.now();
    let users = risky::current(&store, tenant, now, retention)?;
    let published = publish(&store, router, tenant, detections, &users, now)?;
    if published.batches > 0 {
        match router.deliver(&store, now).await {
            Ok(_) => {}
            Err(RouteError::State(e)) => return Err(e.into()),
            Err(e) => tracing::error!(tenant, "risk rows: {e}"),
        }
    }
    Ok(published)
}
