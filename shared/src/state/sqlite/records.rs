//! The records: pages stored with their checkpoint in one transaction, imports, bulk loads, and reading the embedded tables.

use super::*;
use crate::clock::Timestamp;

impl SqliteState {
    /// Stores one page of rows and moves the watermark to `progress`, in one transaction: a
    /// crash leaves either all or nothing. Records are recognised by id: one read again
    /// unchanged (overlap, repeated page, retried run) changes nothing; a new or changed one
    /// goes into the category's embedded table (when routed there) and into the outbox batches
    /// `routing` builds for the external destinations.
    #[allow(clippy::too_many_arguments)]
    pub fn store_page(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        routing: &PageRouting<'_>,
        progress: Option<DateTime<Utc>>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let write = write_rows(&tx, tenant, category, category.name(), rows, routing, now)?;
        // Where collection began is known from the first page on, even if that run never ends.
        tx.execute(
            "INSERT INTO checkpoints (tenant, category, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant, category) DO UPDATE SET since = COALESCE(since, excluded.since)",
            params![tenant, category.name(), since.to_rfc3339()],
        )?;
        if let Some(progress) = progress {
            advance_watermark(&tx, tenant, category, progress)?;
        }
        tx.commit()?;
        Ok(write)
    }

    /// Stores rows imported from files: recognised like collected ones (the same ledger, so a
    /// record imported twice, or imported after it was collected, is a duplicate), into the
    /// embedded table only, without touching collection's checkpoints.
    pub fn store_imported(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let routing = PageRouting::embedded_only();
        let write = write_rows(&tx, tenant, category, category.name(), rows, &routing, now)?;
        tx.execute(
            "INSERT INTO imported_tenants (tenant, last_import) VALUES (?1, ?2)
             ON CONFLICT (tenant) DO UPDATE SET last_import = excluded.last_import",
            params![tenant, now.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(write)
    }

    /// Prepares a large load into a category's table. When the table is empty (history
    /// imported into a new store), its secondary indexes are dropped, to be built once by
    /// [`Self::build_indexes`] when the load is done: sorting the rows once costs far less
    /// than keeping six indexes in order row by row. Answers whether they were dropped. Should
    /// the load stop half way, opening the store builds them again.
    pub fn begin_bulk_load(&self, category: Category) -> Result<bool, StateError> {
        let conn = self.conn();
        let empty: bool = conn.query_row(
            &format!("SELECT NOT EXISTS (SELECT 1 FROM \"{}\")", category.table()),
            [],
            |r| r.get(0),
        )?;
        if empty {
            for (name, _) in embedded::indexes(category) {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS \"{name}\""))?;
            }
            // The hourly summaries are filled from the rows at the end, not row by row.
            for rollup in embedded::rollups()
                .iter()
                .filter(|r| r.category == category)
            {
                for trigger in rollup.triggers() {
                    conn.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{trigger}\""))?;
                }
            }
        }
        Ok(empty)
    }

    /// Builds the indexes and hourly summaries a bulk load dropped (see
    /// [`Self::begin_bulk_load`]).
    pub fn build_indexes(&self) -> Result<(), StateError> {
        let mut conn = self.conn();
        conn.execute_batch(&embedded::schema())?;
        ensure_rollups(&mut conn)?;
        Ok(())
    }

    /// Whether the hourly summaries are kept (their triggers exist): not while a bulk load
    /// into an empty table runs (see [`Self::begin_bulk_load`]).
    pub fn summaries_ready(&self) -> Result<bool, StateError> {
        let rollups = embedded::rollups();
        let names: Vec<String> = rollups.iter().flat_map(|r| r.triggers()).collect();
        let present: i64 = self.reader()?.query_row(
            &format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({})",
                vec!["?"; names.len()].join(", ")
            ),
            rusqlite::params_from_iter(&names),
            |r| r.get(0),
        )?;
        Ok(present as usize == names.len())
    }

    /// The tenants records were imported for.
    pub fn imported_tenants(&self) -> Result<Vec<String>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT tenant FROM imported_tenants ORDER BY tenant")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores rows entra-monitor produced itself in a category's table shape (our risk
    /// detections and risky users): routed like collected rows, each new or changed one once,
    /// but kept apart from what was collected (their own ledger; no checkpoint).
    pub fn store_derived(
        &self,
        tenant: &str,
        category: Category,
        rows: &[StoredRow],
        routing: &PageRouting<'_>,
        now: DateTime<Utc>,
    ) -> Result<PageWrite, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ledger = format!("{}:{}", crate::detect::SOURCE, category.name());
        let write = write_rows(&tx, tenant, category, &ledger, rows, routing, now)?;
        tx.commit()?;
        Ok(write)
    }

    /// A category's embedded rows of a tenant in `[from, to]`, as column → value maps.
    pub fn embedded_rows(
        &self,
        tenant: &str,
        category: Category,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StateError> {
        let mut out = Vec::new();
        self.each_embedded_row(tenant, category, (from, to), &mut |r| out.push(r))?;
        Ok(out)
    }

    /// Hands each of a tenant's rows of a category in `[from, to]` to `each`, in time order,
    /// one at a time (a day of a large tenant's sign-ins does not fit in memory as maps).
    pub fn each_embedded_row(
        &self,
        tenant: &str,
        category: Category,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        each: &mut dyn FnMut(serde_json::Map<String, serde_json::Value>),
    ) -> Result<(), StateError> {
        use rusqlite::types::ValueRef;
        let cols: Vec<&str> = crate::model::tables::columns(category)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let sql = format!(
            "SELECT {} FROM \"{}\" WHERE \"{}\" = ?1 AND \"TimeGenerated\" >= ?2 AND \"TimeGenerated\" <= ?3 ORDER BY \"TimeGenerated\"",
            cols.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            category.table(),
            embedded::tenant_column(category)
        );
        let t = |x: DateTime<Utc>| x.rfc3339_millis();
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![tenant, t(from), t(to)])?;
        while let Some(r) = rows.next()? {
            let mut row = serde_json::Map::new();
            for (i, c) in cols.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(v) => serde_json::json!(v),
                    ValueRef::Real(v) => serde_json::json!(v),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        serde_json::Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                };
                row.insert((*c).to_string(), v);
            }
            each(row);
        }
        Ok(())
    }

    /// The earliest event time stored for a tenant's category.
    pub fn earliest(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<DateTime<Utc>>, StateError> {
        let t: Option<String> = self.conn().query_row(
            &format!(
                "SELECT MIN(\"TimeGenerated\") FROM \"{}\" WHERE \"{}\" = ?1",
                category.table(),
                embedded::tenant_column(category)
            ),
            params![tenant],
            |r| r.get(0),
        )?;
        Ok(t.and_then(|t| parse_time(&t).ok()))
    }

    /// How many rows a category's embedded table holds for a tenant.
    pub fn embedded_count(&self, tenant: &str, category: Category) -> Result<i64, StateError> {
        Ok(self.conn().query_row(
            &format!(
                "SELECT COUNT(*) FROM \"{}\" WHERE \"{}\" = ?1",
                category.table(),
                embedded::tenant_column(category)
            ),
            params![tenant],
            |r| r.get(0),
        )?)
    }

    /// Runs a query of the query endpoints on the embedded store, values bound as parameters;
    /// answers rows of JSON values (integers, reals, text; null).
    pub fn query_rows(
        &self,
        sql: &str,
        params: &[rusqlite::types::Value],
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows_bounded(sql, params, usize::MAX)
    }

    /// [`Self::query_rows`], refusing (before more is built) an answer of more than
    /// `max_cells` values (rows × columns).
    pub fn query_rows_bounded(
        &self,
        sql: &str,
        params: &[rusqlite::types::Value],
        max_cells: usize,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use rusqlite::types::ValueRef;
        use serde_json::json;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let max_rows = max_cells / n.max(1);
        let mut count = 0usize;
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(v) => json!(v),
                        ValueRef::Real(v) => json!(v),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            json!(String::from_utf8_lossy(t))
                        }
                    })
                })
                .collect()
        })?;
        let mut out = Vec::new();
        for row in rows {
            count += 1;
            if count > max_rows {
                return Err(StateError::AnswerTooLarge(max_cells));
            }
            out.push(row?);
        }
        Ok(out)
    }

    /// The ids stored for a tenant and category.
    pub fn record_ids(&self, tenant: &str, category: Category) -> Result<Vec<String>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM seen WHERE tenant = ?1 AND category = ?2 ORDER BY id")?;
        let ids = stmt.query_map(params![tenant, category.name()], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// How many records are stored, per tenant and category.
    pub fn record_counts_all(&self) -> Result<BTreeMap<(String, String), i64>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT tenant, category, COUNT(*) FROM seen GROUP BY tenant, category")?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many records are stored, per category, for a tenant.
    pub fn record_counts(&self, tenant: &str) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT category, COUNT(*) FROM seen WHERE tenant = ?1 GROUP BY category")?;
        let rows = stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
