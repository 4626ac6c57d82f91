//! `retention`: deletes embedded-store rows older than the retention (30 days by default,
//! `ENTRA_MONITOR_RETENTION_DAYS`), and entries of the ledger of seen records older than both
//! the retention and a week (the longest overlap a collector may re-read, so a re-read record
//! is still recognised).

use crate::app::App;
use crate::functions::TimerResult;
use crate::invocation::{BoxFuture, Invocation, TimerInfo};
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "retention",
    description: "Deletes embedded-store rows older than the retention.",
    trigger: Trigger::Timer {
        schedule: "0 30 3 * * *",
    },
};

pub fn run(app: Arc<App>, _inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let store = app.state()?;
        let days = app.config().destinations.retention_days;
        let now = app.now();
        let cutoff = now - chrono::Duration::days(days as i64);
        let ledger_cutoff = cutoff.min(now - chrono::Duration::days(7));
        let deleted = store.apply_retention(cutoff, ledger_cutoff)?;
        let rows: i64 = deleted
            .iter()
            .filter(|(t, _)| t.as_str() != "seen")
            .map(|(_, n)| n)
            .sum();
        let detail: Vec<String> = deleted
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        Ok(format!(
            "{rows} rows older than {days} days deleted (before {}){}",
            cutoff.format("%Y-%m-%d %H:%M UTC"),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {}", detail.join(", "))
            }
        ))
    })
}
