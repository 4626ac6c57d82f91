//! Routes, like diagnostic settings: per category, the destinations its records go to.
//!
//! The flow that loses nothing: a page's new and changed records are turned into one batch
//! per external destination and written to the outbox in the same transaction as the page and
//! its checkpoint ([`Router::batches`]). [`Router::deliver`] then sends outbox batches; a batch
//! its destination still refuses after its retries goes to the [`Spool`], and only then leaves
//! the outbox. [`Router::replay`] (the `replay-spool` timer function) sends spooled batches
//! again and removes each one accepted. A crash anywhere leaves the batch in the outbox or the
//! spool (or, for a moment, both: then it is sent twice — at least once).

use super::spool::Spool;
use super::{Batch, BatchItem, Sent, Sink, encode};
use crate::model::{Category, Destination};
use crate::state::Outbox;
use crate::state::{
    DestinationDelta, OutboxBatch, PageRouting, PageWrite, SqliteState, StateError, StoredRow,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The configured external destinations.
pub type Sinks = Vec<Box<dyn Sink>>;

pub struct Router {
    routes: BTreeMap<Category, Vec<Destination>>,
    sinks: BTreeMap<Destination, Box<dyn Sink>>,
    spool: Spool,
    /// Destinations that failed recently: their batches go straight to the spool until the
    /// cool-down passes or a replay succeeds, so collection is not held up by a dead endpoint.
    down: std::sync::Mutex<BTreeMap<Destination, (Instant, String)>>,
    cool_down: Duration,
    /// One delivery at a time, so two collectors do not send the same outbox batch at once.
    delivering: tokio::sync::Mutex<()>,
}

/// What a delivery or a replay did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    pub batches_delivered: usize,
    pub records_delivered: usize,
    pub batches_spooled: usize,
    pub batches_replayed: usize,
    pub dead_letters: usize,
    /// Batches still in the spool after a replay.
    pub spool_left: usize,
    pub errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the outbox holds an unreadable batch {0}: {1}")]
    Corrupt(String, String),
}

/// What [`Router::route_history`] wrote: rows new or changed, and outbox batches queued.
#[derive(Debug, Clone, Copy, Default)]
pub struct Published {
    pub rows: i64,
    pub batches: i64,
}

/// A record entra-monitor derived itself, shaped into `category`'s row, its `SourceSystem`
/// `source`; `None` if it does not fit the table (a bug: the records are built here).
pub fn derived(
    category: Category,
    tenant: &str,
    record: serde_json::Value,
    source: &str,
) -> Option<StoredRow> {
    let mut row = crate::model::rows::normalise(category, tenant, &record).ok()?;
    row.columns.insert(
        "SourceSystem".into(),
        serde_json::Value::String(source.into()),
    );
    Some(StoredRow {
        id: row.id,
        time: row.time,
        columns: row.columns,
        raw: record,
    })
}

impl Router {
    pub fn new(routes: BTreeMap<Category, Vec<Destination>>, sinks: Sinks, spool: Spool) -> Self {
        Self {
            routes,
            sinks: sinks.into_iter().map(|s| (s.destination(), s)).collect(),
            spool,
            down: Default::default(),
            cool_down: Duration::from_secs(60),
            delivering: Default::default(),
        }
    }

    /// Every category to the embedded store only (no external destination).
    pub fn embedded_only(spool_dir: std::path::PathBuf) -> Self {
        let routes = Category::ALL
            .iter()
            .map(|c| (*c, vec![Destination::Embedded]))
            .collect();
        Self::new(routes, Vec::new(), Spool::Folder(spool_dir))
    }

    /// How long a failed destination is skipped (its batches spooled without a try).
    pub fn with_cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// The configured destination `d`.
    pub fn sink(&self, d: Destination) -> Option<&dyn Sink> {
        self.sinks.get(&d).map(|s| s.as_ref())
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    pub fn routes(&self, category: Category) -> &[Destination] {
        self.routes.get(&category).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The external destinations anything is routed to.
    pub fn external(&self) -> BTreeSet<Destination> {
        self.routes
            .values()
            .flatten()
            .copied()
            .filter(|d| *d != Destination::Embedded)
            .collect()
    }

    /// Stores rows entra-monitor derives itself (its detections, its recommendations' and health
    /// alerts' changes) like a collected page: in `category`'s embedded table if it is routed
    /// there, and queued for its other routes (delivered by the caller).
    pub fn store_derived(
        &self,
        store: &SqliteState,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let build = |changed: &[&StoredRow]| self.batches(tenant, category, changed);
        let routing = PageRouting {
            embedded: self.embedded(category),
            outbox: &build,
        };
        store.store_derived(tenant, category, rows, &routing, now)
    }

    /// Routes a history of entra-monitor's own changes (a recommendation's status, a health
    /// alert's state) as rows of `category`, in rounds of `ROUND`: `next(limit)` gives the changes
    /// not routed yet, oldest first, as (rowid, record); each round is stored and queued, then
    /// `done(last rowid)` notes it routed. A change routed twice (a crash between the two) has
    /// the same id and is stored once.
    pub fn route_history(
        &self,
        store: &SqliteState,
        (tenant, category, source): (&str, Category, &str),
        now: DateTime<Utc>,
        mut next: impl FnMut(i64) -> Result<Vec<(i64, serde_json::Value)>, StateError>,
        mut done: impl FnMut(i64) -> Result<(), StateError>,
    ) -> Result<Published, StateError> {
        const ROUND: i64 = 5000;
        let mut out = Published::default();
        loop {
            let changes = next(ROUND)?;
            let Some(last) = changes.last().map(|(rowid, _)| *rowid) else {
                return Ok(out);
            };
            let count = changes.len() as i64;
            let rows: Vec<StoredRow> = changes
                .into_iter()
                .filter_map(|(_, record)| derived(category, tenant, record, source))
                .collect();
            let write = self.store_derived(store, tenant, category, &rows, now)?;
            done(last)?;
            out.rows += write.new + write.updated;
            out.batches += write.batches;
            if count < ROUND {
                return Ok(out);
            }
        }
    }

    /// Whether `category` goes into the embedded store.
    pub fn embedded(&self, category: Category) -> bool {
        self.routes(category).contains(&Destination::Embedded)
    }

    /// One outbox batch per external destination of `category` for a page's new and changed
    /// rows, each in its destination's shape.
    pub fn batches(
        &self,
        tenant: &str,
        category: Category,
        rows: &[&StoredRow],
    ) -> Vec<OutboxBatch> {
        let mut out = Vec::new();
        for destination in self.routes(category) {
            if *destination == Destination::Embedded {
                continue;
            }
            let items: Vec<BatchItem> = rows
                .iter()
                .map(|r| BatchItem {
                    id: r.id.clone(),
                    time: r.time,
                    body: encode(*destination, category, tenant, r),
                })
                .collect();
            out.push(OutboxBatch {
                destination: *destination,
                records: items.len(),
                items: serde_json::to_string(&items).unwrap_or_default(),
            });
        }
        out
    }

    /// Sends one batch to its destination, with that destination's retries.
    async fn send(&self, batch: &Batch, now: DateTime<Utc>) -> Result<Sent, String> {
        let Some(sink) = self.sinks.get(&batch.destination) else {
            return Err(match batch.destination {
                Destination::Embedded => "the embedded store is written with the page".into(),
                d => format!("{} is routed to but not configured", d.name()),
            });
        };
        sink.send(batch, now).await.map_err(|e| e.to_string())
    }

    fn is_down(&self, d: Destination) -> Option<String> {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.get(&d)
            .filter(|(at, _)| at.elapsed() < self.cool_down)
            .map(|(_, why)| why.clone())
    }

    fn set_down(&self, d: Destination, why: Option<String>) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match why {
            Some(w) => {
                down.insert(d, (Instant::now(), w));
            }
            None => {
                down.remove(&d);
            }
        }
    }

    /// Records a sent batch's figures and sets its dead letters aside.
    async fn accepted(
        &self,
        store: &SqliteState,
        batch: &Batch,
        sent: &Sent,
        replayed: bool,
        report: &mut DeliveryReport,
        now: DateTime<Utc>,
    ) -> Result<(), RouteError> {
        for (n, (id, why)) in sent.dead_letter.iter().enumerate() {
            tracing::warn!(
                destination = batch.destination.name(),
                record = id.as_str(),
                "record set aside (dead letter): {why}"
            );
            if let Err(e) = self.spool.dead_letter(batch, n, id, why).await {
                tracing::error!("cannot keep the dead letter {id}: {e}");
            }
        }
        report.dead_letters += sent.dead_letter.len();
        report.records_delivered += sent.records;
        if replayed {
            report.batches_replayed += 1;
        } else {
            report.batches_delivered += 1;
        }
        store.note_destination(
            batch.destination,
            &DestinationDelta {
                batches_sent: 1,
                records_sent: sent.records as i64,
                bytes_sent: sent.bytes as i64,
                replayed: replayed as i64,
                dead_letters: sent.dead_letter.len() as i64,
                succeeded: true,
                ..Default::default()
            },
            now,
        )?;
        Ok(())
    }

    /// Sends every outbox batch; a batch its destination does not take goes to the spool.
    pub async fn deliver(
        &self,
        store: &SqliteState,
        now: DateTime<Utc>,
    ) -> Result<DeliveryReport, RouteError> {
        let _one = self.delivering.lock().await;
        let mut report = DeliveryReport::default();
        let mut after = 0;
        loop {
            let entries = store.outbox(after, 32)?;
            if entries.is_empty() {
                break;
            }
            for e in entries {
                after = e.seq;
                let items = serde_json::from_str(&e.items)
                    .map_err(|err| RouteError::Corrupt(e.batch_id.clone(), err.to_string()))?;
                let batch = Batch {
                    id: e.batch_id.clone(),
                    destination: e.destination,
                    tenant: e.tenant.clone(),
                    category: e.category,
                    created: e.created,
                    items,
                };
                let failure = match self.is_down(batch.destination) {
                    Some(why) => Some(why),
                    None => match self.send(&batch, now).await {
                        Ok(sent) => {
                            self.accepted(store, &batch, &sent, false, &mut report, now)
                                .await?;
                            self.set_down(batch.destination, None);
                            None
                        }
                        Err(why) => {
                            tracing::warn!(
                                destination = batch.destination.name(),
                                "batch not delivered, spooling it: {why}"
                            );
                            self.set_down(batch.destination, Some(why.clone()));
                            report.errors.push(why.clone());
                            Some(why)
                        }
                    },
                };
                if let Some(why) = failure {
                    match self.spool.put(&batch, &why, now).await {
                        Ok(()) => report.batches_spooled += 1,
                        Err(spool_err) => {
                            // Neither the destination nor the spool: the batch stays in the
                            // outbox for the next delivery.
                            let msg = format!("{why}; and the spool failed too: {spool_err}");
                            tracing::error!("{msg}");
                            report.errors.push(msg.clone());
                            store.note_destination(
                                batch.destination,
                                &DestinationDelta {
                                    error: Some(msg),
                                    ..Default::default()
                                },
                                now,
                            )?;
                            continue;
                        }
                    }
                    store.note_destination(
                        batch.destination,
                        &DestinationDelta {
                            spooled: 1,
                            error: Some(why),
                            ..Default::default()
                        },
                        now,
                    )?;
                }
                store.outbox_done(e.seq)?;
            }
        }
        Ok(report)
    }

    /// Sends spooled batches again, oldest first (a destination that fails is left for the
    /// next replay), then delivers what is left in the outbox (a crashed run's batches).
    pub async fn replay(
        &self,
        store: &SqliteState,
        now: DateTime<Utc>,
    ) -> Result<DeliveryReport, RouteError> {
        let mut failed: BTreeSet<Destination> = BTreeSet::new();
        // Replay ignores the cool-down: it is the probe that finds a destination back.
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let mut report = DeliveryReport::default();
        let names = match self.spool.list().await {
            Ok(n) => n,
            Err(e) => {
                report.errors.push(e.to_string());
                return Ok(report);
            }
        };
        for name in &names {
            let spooled = match self.spool.get(name).await {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    report.errors.push(e.to_string());
                    report.spool_left += 1;
                    continue;
                }
            };
            let batch = spooled.batch;
            if failed.contains(&batch.destination) {
                report.spool_left += 1;
                continue;
            }
            match self.send(&batch, now).await {
                Ok(sent) => {
                    self.accepted(store, &batch, &sent, true, &mut report, now)
                        .await?;
                    if let Err(e) = self.spool.delete(name).await {
                        report.errors.push(e.to_string());
                        report.spool_left += 1;
                    }
                }
                Err(why) => {
                    failed.insert(batch.destination);
                    report.spool_left += 1;
                    report.errors.push(why.clone());
                    self.set_down(batch.destination, Some(why.clone()));
                    store.note_destination(
                        batch.destination,
                        &DestinationDelta {
                            error: Some(why),
                            ..Default::default()
                        },
                        now,
                    )?;
                }
            }
        }
        let outbox = self.deliver(store, now).await?;
        report.batches_delivered += outbox.batches_delivered;
        report.records_delivered += outbox.records_delivered;
        report.batches_spooled += outbox.batches_spooled;
        report.dead_letters += outbox.dead_letters;
        report.spool_left += outbox.batches_spooled;
        report.errors.extend(outbox.errors);
        Ok(report)
    }
}
