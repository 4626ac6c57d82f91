//! `replay-spool`: sends spooled batches again — those a destination refused after its retries
//! — oldest first, and removes each one its destination takes; then delivers anything a crashed
//! run left in the outbox. A destination still failing keeps its batches for the next run.

use crate::app::App;
use crate::functions::TimerResult;
use crate::invocation::{BoxFuture, FunctionError, Invocation, TimerInfo};
use shared::registry::{FunctionSpec, Trigger};
use std::sync::Arc;

pub static SPEC: FunctionSpec = FunctionSpec {
    name: "replay-spool",
    description: "Sends spooled batches to their destinations again.",
    trigger: Trigger::Timer {
        schedule: "0 */5 * * * *",
    },
};

pub fn run(app: Arc<App>, inv: Invocation, _timer: TimerInfo) -> BoxFuture<TimerResult> {
    Box::pin(async move {
        let store = app.state()?;
        let router = app.router().await?;
        let r = router
            .replay(&store, app.now())
            .await
            .map_err(|e| FunctionError::Failed(e.to_string()))?;
        let summary = format!(
            "{} spooled batches replayed, {} outbox batches delivered, {} records, {} dead letters; {} batches left in the spool ({})",
            r.batches_replayed,
            r.batches_delivered,
            r.records_delivered,
            r.dead_letters,
            r.spool_left,
            router.spool().describe()
        );
        if r.errors.is_empty() {
            Ok(summary)
        } else {
            inv.log(&summary);
            Err(FunctionError::Failed(format!(
                "{summary}; still failing: {}",
                r.errors.join("; ")
            )))
        }
    })
}
