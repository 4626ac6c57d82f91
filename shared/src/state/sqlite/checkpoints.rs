//! Collection checkpoints: per tenant and category the watermark, the last run's figures, rejections and pauses.

use super::*;

impl Checkpoints for SqliteState {
    /// Where the category's collection stands for a tenant.
    fn checkpoint(
        &self,
        tenant: &str,
        category: Category,
    ) -> Result<Option<Checkpoint>, StateError> {
        Ok(self
            .checkpoints()?
            .into_iter()
            .find(|c| c.tenant == tenant && c.category == category.name()))
    }

    /// Every checkpoint, for the health report.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT tenant, category, watermark, last_run_at, window_from, window_to, records_last_run, new_last_run,
                    requests_last_run, throttled_last_run, rejected_total, drift_total, last_error, paused_until, since
             FROM checkpoints ORDER BY tenant, category",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Checkpoint {
                tenant: r.get(0)?,
                category: r.get(1)?,
                watermark: r
                    .get::<_, Option<String>>(2)?
                    .and_then(|t| parse_time(&t).ok()),
                last_run_at: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|t| parse_time(&t).ok()),
                window_from: r
                    .get::<_, Option<String>>(4)?
                    .and_then(|t| parse_time(&t).ok()),
                window_to: r
                    .get::<_, Option<String>>(5)?
                    .and_then(|t| parse_time(&t).ok()),
                records_last_run: r.get(6)?,
                new_last_run: r.get(7)?,
                requests_last_run: r.get(8)?,
                throttled_last_run: r.get(9)?,
                rejected_total: r.get(10)?,
                drift_total: r.get(11)?,
                last_error: r.get(12)?,
                paused_until: r
                    .get::<_, Option<String>>(13)?
                    .and_then(|t| parse_time(&t).ok()),
                since: r
                    .get::<_, Option<String>>(14)?
                    .and_then(|t| parse_time(&t).ok()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a record that could not be normalised, with the reason, so nothing is lost.
    fn reject(
        &self,
        tenant: &str,
        category: Category,
        reason: &str,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO rejected_records (tenant, category, seen_at, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tenant, category.name(), now.to_rfc3339(), reason, raw],
        )?;
        Ok(())
    }

    /// Records how a collection run of one category ended.
    fn finish_run(
        &self,
        tenant: &str,
        category: Category,
        run: &RunFigures,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(to) = run.completed_to {
            advance_watermark(&tx, tenant, category, to)?;
        }
        tx.execute(
            "INSERT INTO checkpoints (tenant, category) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![tenant, category.name()],
        )?;
        tx.execute(
            "UPDATE checkpoints SET last_run_at = ?3, window_from = ?4, window_to = ?5, records_last_run = ?6, new_last_run = ?7,
                requests_last_run = ?8, throttled_last_run = ?9, rejected_total = rejected_total + ?10, drift_total = drift_total + ?11,
                last_error = ?12, paused_until = ?13, since = COALESCE(since, ?4)
             WHERE tenant = ?1 AND category = ?2",
            params![
                tenant,
                category.name(),
                run.at.to_rfc3339(),
                run.window_from.map(|t| t.to_rfc3339()),
                run.window_to.map(|t| t.to_rfc3339()),
                run.records,
                run.new,
                run.requests,
                run.throttled,
                run.rejected,
                run.drift,
                run.error,
                run.paused_until.map(|t| t.to_rfc3339()),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}
