//! The outbox of batches for the external destinations, their health figures, and retention.

use super::*;
use crate::clock::Timestamp;

impl Outbox for SqliteState {
    /// Outbox batches after `after_seq`, oldest first.
    fn outbox(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxEntry>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, batch_id, destination, tenant, category, created, items FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, batch_id, destination, tenant, category, created, items) = row?;
            out.push(OutboxEntry {
                seq,
                batch_id,
                destination: destination
                    .parse::<Destination>()
                    .map_err(|_| StateError::Corrupt(destination.clone()))?,
                tenant,
                category: category
                    .parse::<Category>()
                    .map_err(|_| StateError::Corrupt(category.clone()))?,
                created: parse_time(&created)?,
                items,
            });
        }
        Ok(out)
    }

    /// Removes a batch that was delivered or spooled.
    fn outbox_done(&self, seq: i64) -> Result<(), StateError> {
        self.conn()
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    /// How many batches wait in the outbox, per destination.
    fn outbox_counts(&self) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT destination, COUNT(*) FROM outbox GROUP BY destination")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds what a delivery did to a destination's health figures.
    fn note_destination(
        &self,
        destination: Destination,
        d: &DestinationDelta,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let now = now.to_rfc3339();
        self.conn().execute(
            "INSERT INTO destination_health (destination) VALUES (?1) ON CONFLICT DO NOTHING",
            params![destination.name()],
        )?;
        self.conn().execute(
            "UPDATE destination_health SET
                batches_sent = batches_sent + ?2, records_sent = records_sent + ?3, bytes_sent = bytes_sent + ?4,
                spooled_total = spooled_total + ?5, replayed_total = replayed_total + ?6, dead_letters = dead_letters + ?7,
                last_success = CASE WHEN ?8 THEN ?10 ELSE last_success END,
                last_error = COALESCE(?9, last_error),
                last_error_at = CASE WHEN ?9 IS NULL THEN last_error_at ELSE ?10 END
             WHERE destination = ?1",
            params![
                destination.name(),
                d.batches_sent,
                d.records_sent,
                d.bytes_sent,
                d.spooled,
                d.replayed,
                d.dead_letters,
                d.succeeded,
                d.error,
                now,
            ],
        )?;
        Ok(())
    }

    /// Every destination's health figures.
    fn destination_health(&self) -> Result<Vec<DestinationHealth>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT destination, last_success, last_error, last_error_at, batches_sent, records_sent, bytes_sent, spooled_total, replayed_total, dead_letters
             FROM destination_health ORDER BY destination",
        )?;
        let time = |t: Option<String>| t.and_then(|t| parse_time(&t).ok());
        let rows = stmt.query_map([], |r| {
            Ok(DestinationHealth {
                destination: r.get(0)?,
                last_success: time(r.get(1)?),
                last_error: r.get(2)?,
                last_error_at: time(r.get(3)?),
                batches_sent: r.get(4)?,
                records_sent: r.get(5)?,
                bytes_sent: r.get(6)?,
                spooled_total: r.get(7)?,
                replayed_total: r.get(8)?,
                dead_letters: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteState {
    /// Deletes embedded rows whose event time is before `cutoff`, and ledger entries before
    /// `ledger_cutoff`. Returns the rows deleted per table.
    pub fn apply_retention(
        &self,
        cutoff: DateTime<Utc>,
        ledger_cutoff: DateTime<Utc>,
    ) -> Result<BTreeMap<String, i64>, StateError> {
        let conn = self.conn();
        let t = |t: DateTime<Utc>| t.rfc3339_millis();
        let mut out = BTreeMap::new();
        for c in Category::ALL {
            let n = conn.execute(
                &format!("DELETE FROM \"{}\" WHERE \"TimeGenerated\" < ?1", c.table()),
                params![t(cutoff)],
            )?;
            out.insert(c.table().to_string(), n as i64);
        }
        let n = conn.execute(
            "DELETE FROM seen WHERE time < ?1",
            params![t(ledger_cutoff)],
        )?;
        out.insert("seen".into(), n as i64);
        Ok(out)
    }
}
