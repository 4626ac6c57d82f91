//! Generated records for the benchmarks: a working day of the simulated tenant's records of a
//! category, cycled as templates, each copy with its own id and a time spread evenly over the
//! span — as many as asked, in order, one Graph page at a time, without holding them all.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Category;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;
use shared::state::StoredRow;

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
        let (id, time) = self.id_and_time(i);
        r["id"] = json!(id);
        r[time_field(self.category)] = json!(time);
        r
    }

    fn id_and_time(&self, i: u64) -> (String, String) {
        (
            format!("{:08x}-b0b0-4000-8000-{:012x}", self.category as u32, i),
            self.time_of(i).to_rfc3339_opts(SecondsFormat::Millis, true),
        )
    }

    /// Table rows of these records for `tenant`: each template normalised once, each copy
    /// given its own id and time — what normalising the copy gives (checked on a sample), at a
    /// fraction of the cost, for filling a large store.
    pub fn rows(&self, tenant: &str) -> Rows<'_> {
        let templates = (0..self.templates.len() as u64)
            .map(|i| {
                let raw = self.record(i);
                normalise(self.category, tenant, &raw)
                    .ok()
                    .map(|row| StoredRow {
                        id: row.id,
                        time: row.time,
                        columns: row.columns,
                        raw,
                    })
            })
            .collect();
        Rows {
            generator: self,
            tenant: tenant.to_string(),
            templates,
        }
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

pub struct Rows<'a> {
    generator: &'a Generator,
    tenant: String,
    templates: Vec<Option<StoredRow>>,
}

impl Rows<'_> {
    /// The row of record `i` (none where its template does not normalise).
    pub fn row(&self, i: u64) -> Option<StoredRow> {
        let g = self.generator;
        let template = self.templates[(i % self.templates.len() as u64) as usize].as_ref()?;
        let (id, time) = g.id_and_time(i);
        let mut row = template.clone();
        row.raw["id"] = json!(id);
        row.raw[time_field(g.category)] = json!(time);
        for column in ["TimeGenerated", "CreatedDateTime", "ActivityDateTime"] {
            if let Some(v) = row.columns.get_mut(column) {
                *v = json!(time);
            }
        }
        row.columns.insert("Id".into(), json!(id));
        row.id = id;
        // The time as the record's text holds it (to the millisecond).
        row.time = DateTime::parse_from_rfc3339(&time)
            .expect("an RFC 3339 time")
            .with_timezone(&Utc);
        if i % 50_000 == 1 {
            let full = normalise(g.category, &self.tenant, &row.raw).expect("the copy normalises");
            assert!(
                full.columns == row.columns && full.id == row.id && full.time == row.time,
                "a copied row differs from normalising its record ({}): {:?}",
                row.id,
                full.columns
                    .iter()
                    .filter(|(k, v)| row.columns.get(*k) != Some(v))
                    .collect::<Vec<_>>()
            );
        }
        Some(row)
    }
}
