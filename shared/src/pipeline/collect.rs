//! One category of one tenant, one run.

use crate::clock::Timestamp;
use crate::destinations::router::{RouteError, Router};
use crate::model::Category;
use crate::model::rows::{normalise, time_property};
use crate::source::graph::{Counters, GraphClient, GraphError, Page, same_origin};
use crate::state::Checkpoint;
use crate::state::Checkpoints;
use crate::state::{PageRouting, RunFigures, SqliteState, StateError, StoredRow};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How far back and how late to read.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// How much history the first run reads.
    pub backfill: Duration,
    /// How long after the fact a record is read at the earliest (most arrive within minutes).
    pub settle: Duration,
    /// Records per page (`$top`); Graph serves at most 1,000.
    pub page_size: usize,
    /// How long a refused category (licence, permission) waits before it is tried again.
    pub pause_after_refusal: Duration,
    /// Overlap overrides by category (the defaults are [`overlap`]).
    pub overlaps: std::collections::BTreeMap<Category, Duration>,
}

impl CollectSettings {
    /// How far back a run re-reads for `category`.
    pub fn overlap(&self, category: Category) -> Duration {
        self.overlaps
            .get(&category)
            .copied()
            .unwrap_or_else(|| overlap(category))
    }
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            backfill: Duration::days(1),
            settle: Duration::minutes(2),
            page_size: 1000,
            pause_after_refusal: Duration::hours(6),
            overlaps: Default::default(),
        }
    }
}

/// How far back each run re-reads, to catch records published late (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-latencies>):
/// sign-ins up to 30 min (MFA details up to ~2 h), offline risk detections up to 48 h.
pub fn overlap(category: Category) -> Duration {
    Duration::hours(category.definition().overlap_hours)
}

/// A tenant's Graph endpoint and client.
#[derive(Clone)]
pub struct Source {
    /// The tenant key rows and checkpoints are stored under.
    pub tenant: String,
    /// `https://graph.microsoft.com`, or the simulated tenant's address.
    pub graph_base: String,
    pub client: GraphClient,
}

/// What one run of one category did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CategoryReport {
    pub tenant: String,
    pub category: String,
    pub records: i64,
    pub new: i64,
    pub updated: i64,
    pub rejected: i64,
    pub drift: i64,
    pub requests: i64,
    pub throttled: i64,
    /// The whole window was read.
    pub completed: bool,
    /// Skipped: the category is paused after a refusal.
    pub paused: bool,
    /// Batches handed to external destinations, and of those, spooled (destination failing).
    pub batches_delivered: i64,
    pub batches_spooled: i64,
    pub error: Option<String>,
}

/// The URL of the first page for a window.
pub fn first_page_url(
    base: &str,
    category: Category,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    top: usize,
) -> String {
    let field = time_property(category);
    // The exported categories have no URL ([`collect_category`] refuses them first).
    let Some(graph) = &category.definition().graph else {
        return String::new();
    };
    let (version, path, event_type) = (graph.version, graph.path, graph.sign_in_event_type);
    let ts = |t: DateTime<Utc>| t.rfc3339_millis();
    let mut filter = format!("{field} ge {} and {field} le {}", ts(from), ts(to));
    if let Some(kind) = event_type {
        filter = format!("signInEventTypes/any(t: t eq '{kind}') and {filter}");
    }
    let query = serde_urlencoded::to_string([
        ("$filter", filter),
        ("$orderby", format!("{field} asc")),
        ("$top", top.to_string()),
    ])
    .unwrap_or_default();
    format!("{}/{version}/{path}?{query}", base.trim_end_matches('/'))
}

/// A page being fetched on its own task; dropped, the fetch is abandoned.
struct Prefetch(tokio::task::JoinHandle<(Result<Page, GraphError>, Counters)>);

impl Prefetch {
    fn start(client: &GraphClient, url: String) -> Self {
        let client = client.clone();
        Self(tokio::spawn(async move {
            let mut counters = Counters::default();
            let page = client.page(&url, &mut counters).await;
            (page, counters)
        }))
    }

    async fn finish(mut self) -> (Result<Page, GraphError>, Counters) {
        match (&mut self.0).await {
            Ok(done) => done,
            Err(e) => (
                Err(GraphError::Interrupted(e.to_string())),
                Counters::default(),
            ),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How many times in a row (without a page stored in between) one run reads again after
/// Graph refused a next-page link as expired.
const MAX_RESTARTS: u32 = 3;

/// Collects one category for one tenant: reads the window page by page, storing each page
/// with its checkpoint and its outbox batches, until the window is read or `keep_going` says
/// stop; each page's batches are delivered (or spooled) before the next page is read.
pub async fn collect_category(
    store: &SqliteState,
    router: &Router,
    source: &Source,
    category: Category,
    now: DateTime<Utc>,
    settings: &CollectSettings,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<CategoryReport, StateError> {
    let tenant = source.tenant.as_str();
    let mut report = CategoryReport {
        tenant: tenant.to_string(),
        category: category.name().to_string(),
        ..Default::default()
    };
    if let Some(why) = not_served(category) {
        report.error = Some(why);
        return Ok(report);
    }
    let checkpoint = store.checkpoint(tenant, category)?;
    if let Some(reason) = paused(checkpoint.as_ref(), now) {
        report.paused = true;
        report.error = reason;
        return Ok(report);
    }
    let (from, to) = window(checkpoint.as_ref(), category, now, settings);
    let mut figures = RunFigures {
        at: now,
        window_from: Some(from),
        window_to: Some(to),
        ..Default::default()
    };
    let mut counters = Counters::default();
    if from < to {
        let first = first_page_url(&source.graph_base, category, from, to, settings.page_size);
        // The watermark follows the pages only while they come oldest first, as asked, one
        // page behind: after page k it moves to the newest record of the pages before k, once
        // page k held nothing older (a page served out of order shows on the page after it).
        let mut ascending = true;
        let mut newest_before: Option<DateTime<Utc>> = None;
        // Where the next page link, if Graph refuses it as expired, reads again from.
        let mut restart_from = from;
        let mut restarts = 0;
        // The next page is fetched while this one is stored: the store's write blocks this
        // worker thread, the fetch goes on on another, so Graph's latency and the write overlap.
        let mut next = keep_going().then(|| Prefetch::start(&source.client, first));
        while let Some(fetch) = next.take() {
            let (fetched, fetch_counters) = fetch.finish().await;
            counters.requests += fetch_counters.requests;
            counters.throttled += fetch_counters.throttled;
            counters.retried += fetch_counters.retried;
            let page = match fetched {
                Ok(p) => p,
                Err(e) if e.is_expired_page_link() && restarts < MAX_RESTARTS && keep_going() => {
                    // Read the rest of the window again from where it got to (what is read
                    // twice is recognised by id). Only a read that keeps getting refused
                    // without storing a page in between gives up.
                    restarts += 1;
                    // A new read, oldest first from a point everything before which is stored.
                    ascending = true;
                    newest_before = None;
                    next = Some(read_again(source, category, (restart_from, to), settings));
                    continue;
                }
                Err(e) => {
                    // A refusal (no licence, no permission) pauses the category; without an
                    // add-on licence most tenants lack, the category is simply not for this
                    // tenant: paused, not a failure.
                    if let GraphError::Refused { code, .. } = &e {
                        figures.paused_until = Some(now + settings.pause_after_refusal);
                        report.paused = category.definition().add_on.is_some()
                            && code == crate::source::graph::NO_LICENCE;
                    }
                    tracing::warn!(
                        tenant,
                        category = category.name(),
                        "collection stopped: {e}"
                    );
                    report.error = Some(e.to_string());
                    break;
                }
            };
            next = follow(source, page.next_link.as_deref(), keep_going(), &mut report);
            let (rows, newest_here) = page_rows(
                store,
                tenant,
                category,
                page.value,
                now,
                (newest_before, &mut ascending),
                &mut report,
            )?;
            restarts = 0;
            let progress = if ascending { newest_before } else { None };
            if let Some(p) = progress {
                restart_from = restart_from.max(p);
            }
            newest_before = newest_before.max(newest_here);
            let build = |changed: &[&StoredRow]| router.batches(tenant, category, changed);
            let routing = PageRouting {
                embedded: router.embedded(category),
                outbox: &build,
            };
            let write = store.store_page(tenant, category, &rows, &routing, progress, from, now)?;
            report.records += rows.len() as i64;
            report.new += write.new;
            report.updated += write.updated;
            if write.batches > 0 {
                deliver(router, store, now, &mut report).await?;
            }
        }
    } else {
        report.completed = true;
    }
    report.requests = counters.requests as i64;
    report.throttled = counters.throttled as i64;
    record_run(store, category, to, &report, figures, &counters)?;
    Ok(report)
}

/// Why a category cannot be collected, if it cannot: no Graph API serves it.
fn not_served(category: Category) -> Option<String> {
    category.definition().graph.is_none().then(|| format!(
        "{category} is not served by any Graph API: it arrives only through diagnostic-settings export (to Storage or Event Hubs); import it with `entra-monitor import`"
    ))
}

/// Whether a refusal paused the category until after `now`, and why.
fn paused(checkpoint: Option<&Checkpoint>, now: DateTime<Utc>) -> Option<Option<String>> {
    let c = checkpoint?;
    let until = c.paused_until.filter(|u| *u > now)?;
    Some(
        c.last_error
            .as_ref()
            .map(|e| format!("paused until {until}: {e}")),
    )
}

/// The window a run reads: from the watermark less the overlap (never before collection
/// began), or the backfill on a first run, to now less the settle time.
fn window(
    checkpoint: Option<&Checkpoint>,
    category: Category,
    now: DateTime<Utc>,
    settings: &CollectSettings,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = now - settings.settle;
    let from = match checkpoint.and_then(|c| c.watermark) {
        // The overlap catches late records, but never reaches before collection began.
        Some(w) => (w - settings.overlap(category)).max(
            checkpoint
                .and_then(|c| c.since)
                .unwrap_or(w - settings.overlap(category)),
        ),
        None => now - settings.backfill,
    };
    (from, to)
}

/// The next page, fetched while this one is stored: none when the window is read (the report
/// says complete), when told to stop, or when the link leaves the configured Graph host (the
/// report says why).
fn follow(
    source: &Source,
    link: Option<&str>,
    keep_going: bool,
    report: &mut CategoryReport,
) -> Option<Prefetch> {
    match link {
        Some(link) if !same_origin(&source.graph_base, link) => {
            report.error = Some(format!(
                "Graph's next-page link is not on {}; not followed (the token is never sent elsewhere)",
                source.graph_base
            ));
            None
        }
        Some(link) if keep_going => Some(Prefetch::start(&source.client, link.to_string())),
        Some(_) => None,
        None => {
            report.completed = true;
            None
        }
    }
}

/// After Graph refused a next-page link as expired: the window's rest, read again from a
/// point everything before which is stored.
fn read_again(
    source: &Source,
    category: Category,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    settings: &CollectSettings,
) -> Prefetch {
    tracing::info!(
        tenant = source.tenant.as_str(),
        category = category.name(),
        "next-page link expired; reading again from {from}"
    );
    let again = first_page_url(&source.graph_base, category, from, to, settings.page_size);
    Prefetch::start(&source.client, again)
}

/// Records what the run did in the checkpoint: how far it read, its figures, its error.
fn record_run(
    store: &SqliteState,
    category: Category,
    to: DateTime<Utc>,
    report: &CategoryReport,
    mut figures: RunFigures,
    counters: &Counters,
) -> Result<(), StateError> {
    if report.completed {
        figures.completed_to = Some(to);
    }
    figures.records = report.records;
    figures.new = report.new;
    figures.requests = counters.requests as i64;
    figures.throttled = counters.throttled as i64;
    figures.rejected = report.rejected;
    figures.drift = report.drift;
    figures.error = report.error.clone();
    store.finish_run(&report.tenant, category, &figures)
}

/// A page's records as rows; a record that is not one is rejected and kept with its reason.
/// Counts schema drift, and notes when a record is older than one of the pages before
/// (`newest_before`) or of this page: the pages are then not in time order.
fn page_rows(
    store: &SqliteState,
    tenant: &str,
    category: Category,
    records: Vec<serde_json::Value>,
    now: DateTime<Utc>,
    (newest_before, ascending): (Option<DateTime<Utc>>, &mut bool),
    report: &mut CategoryReport,
) -> Result<(Vec<StoredRow>, Option<DateTime<Utc>>), StateError> {
    let mut rows = Vec::with_capacity(records.len());
    let mut newest_here: Option<DateTime<Utc>> = None;
    for record in records {
        match normalise(category, tenant, &record) {
            Ok(row) => {
                if !row.unknown_fields.is_empty() {
                    report.drift += 1;
                }
                if newest_before.max(newest_here).is_some_and(|n| row.time < n) {
                    *ascending = false;
                }
                newest_here = newest_here.max(Some(row.time));
                rows.push(StoredRow {
                    id: row.id,
                    time: row.time,
                    columns: row.columns,
                    raw: record,
                });
            }
            Err(e) => {
                report.rejected += 1;
                tracing::warn!(tenant, category = category.name(), "record rejected: {e}");
                store.reject(tenant, category, &e.to_string(), &record.to_string(), now)?;
            }
        }
    }
    Ok((rows, newest_here))
}

/// Sends the outbox's batches (a destination that refuses gets them spooled).
async fn deliver(
    router: &Router,
    store: &SqliteState,
    now: DateTime<Utc>,
    report: &mut CategoryReport,
) -> Result<(), StateError> {
    match router.deliver(store, now).await {
        Ok(d) => {
            report.batches_delivered += d.batches_delivered as i64;
            report.batches_spooled += d.batches_spooled as i64;
        }
        Err(RouteError::State(e)) => return Err(e),
        Err(e) => tracing::error!(
            tenant = report.tenant.as_str(),
            category = report.category.as_str(),
            "{e}"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn first_page_urls_filter_by_time_and_event_type() {
        let from = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let to = from + Duration::hours(1);
        let url = first_page_url(
            "http://127.0.0.1:1/",
            Category::ManagedIdentitySignInLogs,
            from,
            to,
            500,
        );
        assert!(
            url.starts_with("http://127.0.0.1:1/beta/auditLogs/signIns?"),
            "{url}"
        );
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
        assert_eq!(
            query[0].1,
            "signInEventTypes/any(t: t eq 'managedIdentity') and createdDateTime ge 2026-11-25T00:00:00.000Z and createdDateTime le 2026-11-25T01:00:00.000Z"
        );
        assert_eq!(query[1].1, "createdDateTime asc");
        assert_eq!(query[2].1, "500");
        let url = first_page_url(
            "https://graph.microsoft.com",
            Category::AuditLogs,
            from,
            to,
            1000,
        );
        assert!(url.starts_with("https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?"));
    }
}
