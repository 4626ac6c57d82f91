//! The collection pipeline: plan the window → fetch pages → normalise → dedupe → store →
//! move the checkpoint.
//!
//! Per tenant and category a watermark says up to when records are stored. Each run reads
//! `[watermark − overlap, now − settle]` (the first run `[now − backfill, now − settle]`)
//! oldest first through `@odata.nextLink`. Each page is stored in one transaction with the
//! watermark moved to the page's newest record, so a run stopped at any point — time budget,
//! shutdown, crash — loses nothing and the next run continues there. Rows are upserted by id,
//! so the overlap that catches late records never duplicates one.

pub mod collect;
pub mod inventory;

pub use collect::{CategoryReport, CollectSettings, Source, collect_category};
