//! What the collect-* timer functions share until the Graph collectors land: for every source
//! tenant and category, state where its records would be routed. It takes no data yet, and says
//! so in its log and its run summary.

use crate::app::App;
use crate::functions::TimerResult;
use crate::invocation::{Invocation, TimerInfo};
use shared::model::Category;

pub async fn run(
    app: &App,
    inv: &Invocation,
    timer: &TimerInfo,
    categories: &[Category],
) -> TimerResult {
    if timer.past_due {
        inv.log("the trigger fired later than scheduled (past due); running now");
    }
    let tenants = app.source_tenants();
    let mut planned = 0;
    for tenant in &tenants {
        // A safe point: nothing half-done is left behind if we stop here.
        if inv.shutting_down() {
            inv.log("shutting down: stopping before the next tenant");
            break;
        }
        for category in categories {
            let routes: Vec<&str> = app.config().routes[category]
                .iter()
                .map(|d| d.name())
                .collect();
            inv.log(format!(
                "tenant {tenant}: {category} -> [{}]; Graph collection is not implemented yet, nothing fetched",
                routes.join(", ")
            ));
            planned += 1;
        }
    }
    Ok(format!(
        "{planned} tenant/category pairs planned across {} tenant(s); 0 records fetched (collection not implemented yet)",
        tenants.len()
    ))
}
