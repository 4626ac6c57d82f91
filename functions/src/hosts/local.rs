//! The local runner: one process that runs every timer function on its schedule and serves the
//! HTTP functions at the same paths as Azure (`/api/...`).
//!
//! Each timer function also runs once at start (like Azure's `runOnStartup`, which suits a
//! local collector). The scheduler follows Azure's timer semantics: 6-field NCRONTAB in UTC, and a function's
//! next occurrence is computed after its current run ends, so runs of one function never
//! overlap (occurrences missed while it ran are skipped, not queued). Ctrl-C or SIGTERM stops
//! new runs, asks running ones to stop at their next safe point, and waits for them up to the
//! configured grace period.

use crate::app::App;
use crate::functions;
use crate::hosts::http;
use crate::invocation::TimerInfo;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Runs until Ctrl-C or SIGTERM.
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    let listener = http::bind(app.config().listen).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(http::serve(
        listener,
        warp::Filter::or(
            warp::Filter::or(http::root(), http::api(app.clone())),
            http::not_found(),
        ),
        app.config().http.clone(),
        app.shutdown_signal(),
    ));
    tracing::info!(
        "serving the HTTP functions on http://{addr}/api/ (health: http://{addr}/api/health; workbooks: http://{addr}/)"
    );
    if let Some(key) = app.local_admin_key() {
        tracing::info!(
            "state-changing requests (POST) need the local admin key: x-api-key: $(cat {})",
            key.path.display()
        );
    }

    let mut timers = JoinSet::new();
    for f in functions::REGISTRY.iter().filter(|f| f.spec.is_timer()) {
        let schedule = app.schedule_of(f.spec);
        let next = schedule
            .next_after(app.now())
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        tracing::info!(function = f.spec.name, schedule = %schedule, next = %next, "scheduled");
        timers.spawn(run_on_schedule(app.clone(), f.spec.name, schedule));
    }

    wait_for_signal().await;
    tracing::info!("shutting down: no new runs; waiting for running functions to stop");
    app.begin_shutdown();
    let grace = app.config().shutdown_grace;
    let drained =
        tokio::time::timeout(grace, async { while timers.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            grace_seconds = grace.as_secs(),
            "functions still running after the grace period; stopping them"
        );
        timers.abort_all();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs one timer function once at start (so a first `serve` collects at once instead of
/// waiting for the next slot), then at each occurrence of its schedule until shutdown.
async fn run_on_schedule(app: Arc<App>, name: &'static str, schedule: shared::schedule::Schedule) {
    let mut shutdown = app.shutdown_signal();
    let id = uuid::Uuid::new_v4().to_string();
    if let Err(e) = app.invoke_timer(name, TimerInfo::default(), id).await {
        tracing::debug!(function = name, error = %e, "start-up run failed");
    }
    loop {
        let now = app.now();
        let Some(next) = schedule.next_after(now) else {
            tracing::warn!(function = name, "the schedule has no further occurrence");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        // Azure marks an occurrence past due when it starts well after its slot.
        let late = (app.now() - next).num_seconds() > 15;
        let timer = TimerInfo {
            past_due: late,
            last: None,
            next: None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        if let Err(e) = app.invoke_timer(name, timer, id).await {
            // Already logged inside the invocation span; the next occurrence runs as usual.
            tracing::debug!(function = name, error = %e, "run failed");
        }
    }
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
