//! Section 1, collect pipeline throughput: each generated Graph page of sign-ins is, on the same bytes,
//! (a) merely parsed into `serde_json::Value`, and (b) taken through what a collector does with
//! a page — parse, normalise to the `SigninLogs` row, recognise by id and digest, write the
//! embedded table and the Storage-encoded outbox batch, in one transaction. Page generation is
//! not timed.

use crate::data::Generator;
use chrono::{Duration, Utc};
use shared::destinations::router::Router;
use shared::destinations::spool::Spool;
use shared::destinations::storage::sink::{Place, StorageSink};
use shared::model::rows::normalise;
use shared::model::{Category, Destination};
use shared::simulated::SimulatedTenant;
use shared::source::graph::parse_page;
use shared::state::{PageRouting, SqliteState, StoredRow};
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

pub struct Throughput {
    pub records: u64,
    pub bytes: u64,
    pub parse: StdDuration,
    pub pipeline: StdDuration,
}

impl Throughput {
    pub fn rate(&self, d: StdDuration) -> (f64, f64) {
        let s = d.as_secs_f64().max(1e-9);
        (self.records as f64 / s, self.bytes as f64 / s / 1e6)
    }
}

pub fn run(work: &Path, records: u64, tenant: &SimulatedTenant) -> Throughput {
    let dir = work.join("pipeline");
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).expect("the pipeline store opens");
    let routes = [(
        Category::SignInLogs,
        vec![Destination::Embedded, Destination::Storage],
    )]
    .into_iter()
    .collect();
    let router = Router::new(
        routes,
        vec![Box::new(StorageSink::at(Place::Folder(
            dir.join("archive"),
        )))],
        Spool::Folder(dir.join("spool")),
    );
    let now = Utc::now();
    let generator = Generator::new(
        tenant,
        Category::SignInLogs,
        records,
        now - Duration::days(1),
        now,
    );
    let key = tenant.directory.tenant_id.clone();
    let mut out = Throughput {
        records,
        bytes: 0,
        parse: StdDuration::ZERO,
        pipeline: StdDuration::ZERO,
    };
    // Pages are generated on another thread, ahead of the one measured.
    let (pages, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        let generator = &generator;
        scope.spawn(move || {
            let mut from = 0;
            while from < records {
                let to = (from + 1000).min(records);
                if pages.send(generator.page(from, to, None)).is_err() {
                    break;
                }
                from = to;
            }
        });
        for bytes in receive {
            out.bytes += bytes.len() as u64;

            let t = Instant::now();
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
            out.parse += t.elapsed();
            drop(parsed);

            let t = Instant::now();
            let text = std::str::from_utf8(&bytes).expect("UTF-8");
            let page = parse_page(text).expect("a Graph page");
            let rows: Vec<StoredRow> = page
                .value
                .into_iter()
                .filter_map(|r| {
                    let row = normalise(Category::SignInLogs, &key, &r).ok()?;
                    Some(StoredRow {
                        id: row.id,
                        time: row.time,
                        columns: row.columns,
                        raw: r,
                    })
                })
                .collect();
            let newest = rows.iter().map(|r| r.time).max();
            let build =
                |changed: &[&StoredRow]| router.batches(&key, Category::SignInLogs, changed);
            let routing = PageRouting {
                embedded: true,
                outbox: &build,
            };
            store
                .store_page(
                    &key,
                    Category::SignInLogs,
                    &rows,
                    &routing,
                    newest,
                    generator.start,
                    now,
                )
                .expect("the page is stored");
            out.pipeline += t.elapsed();
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    out
}
