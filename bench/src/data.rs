//! Generated records for the benchmarks: a working day of the simulated tenant's records of a
//! category, cycled as templates, each copy with its own id and a time spread evenly over the
//! span — as many as asked, in order, one Graph page at a time, without holding them all.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Category;
use shared::simulated::SimulatedTenant;

pub struct Generator {
    category: Category,
    templates: Vec<Value>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub total: u64,
}

/// The property holding a record's time, by category.
fn time_field(category: Category) -> &'static str {
    match category {
        Category::AuditLogs | Category::ProvisioningLogs => "activityDateTime",
        _ => "createdDateTime",
    }
}

impl Generator {
    /// `total` records of `category` from `tenant`, spread over `[start, end]`.
    pub fn new(
        tenant: &SimulatedTenant,
        category: Category,
        total: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Self {
        // A Wednesday's records: every kind of activity the tenant has.
        let day = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let templates: Vec<Value> = tenant
            .records(category, day, day + Duration::days(1), None)
            .into_iter()
            .map(|r| r.json)
            .collect();
        assert!(
            !templates.is_empty(),
            "the simulated tenant has no {category}"
        );
        Self {
            category,
            templates,
            start,
            end,
            total,
        }
    }

    /// The time of record `i` (ascending with `i`).
    pub fn time_of(&self, i: u64) -> DateTime<Utc> {
        let span = (self.end - self.start).num_milliseconds().max(1) as i128;
        let offset = span * i as i128 / self.total.max(1) as i128;
        self.start + Duration::milliseconds(offset as i64)
    }

    /// The first index whose time is at or after `t`.
    pub fn index_at(&self, t: DateTime<Utc>) -> u64 {
        let span = (self.end - self.start).num_milliseconds().max(1) as i128;
        let since = (t - self.start).num_milliseconds().max(0) as i128;
        let i = (since * self.total as i128 + span - 1) / span;
        (i.max(0) as u64).min(self.total)
    }

    /// Record `i`: a template with its own id and time.
    pub fn record(&self, i: u64) -> Value {
        let mut r = self.templates[(i % self.templates.len() as u64) as usize].clone();
        r["id"] = json!(format!(
            "{:08x}-b0b0-4000-8000-{:012x}",
            self.category as u32, i
        ));
        r[time_field(self.category)] =
            json!(self.time_of(i).to_rfc3339_opts(SecondsFormat::Millis, true));
        r
    }

    /// Records `[from, to)` as a Graph list page, with `next` as its `@odata.nextLink`.
    pub fn page(&self, from: u64, to: u64, next: Option<String>) -> Vec<u8> {
        let value: Vec<Value> = (from..to.min(self.total)).map(|i| self.record(i)).collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
            "value": value,
        });
        if let Some(next) = next {
            body["@odata.nextLink"] = json!(next);
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}
