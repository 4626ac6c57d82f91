//! Tenant health: the signals' values per 15-minute interval as the monitor computed them
//! (kept for the baseline's weeks), how far they are computed, and the alerts with the history
//! of their state (who, when, why).

use super::SqliteState;
use crate::clock::Timestamp;
use crate::health::anomaly::Series;
use crate::state::StateError;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use std::collections::HashMap;

pub(super) const SCHEMA: &str = "
-- A signal's value per interval (only those not zero), per tenant. `signal` is a scenario, or
-- `appSignInFailures:<AppId>`.
CREATE TABLE IF NOT EXISTS health_values (
    tenant TEXT NOT NULL,
    signal TEXT NOT NULL,
    at TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (tenant, signal, at)
);
-- The intervals computed per tenant: [since, until).
CREATE TABLE IF NOT EXISTS health_computed (
    tenant TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    until TEXT NOT NULL
);
-- An alert: its signal, its state and times, and the whole object as the API answers it.
CREATE TABLE IF NOT EXISTS health_alerts (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    signal TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    started TEXT NOT NULL,
    raised TEXT NOT NULL,
    ended TEXT,
    alert TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS health_alerts_by_time ON health_alerts (tenant, raised);
CREATE TABLE IF NOT EXISTS health_alert_history (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    state_from TEXT NOT NULL,
    state_to TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS health_alert_history_by_alert ON health_alert_history (tenant, id, at);
-- Microsoft's own scenario metrics as collected (beta serviceActivity), per 15-minute interval
-- (only those not zero), and how far they are collected per tenant.
CREATE TABLE IF NOT EXISTS health_microsoft_values (
    tenant TEXT NOT NULL,
    scenario TEXT NOT NULL,
    at TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (tenant, scenario, at)
);
CREATE TABLE IF NOT EXISTS health_microsoft_collected (
    tenant TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    until TEXT NOT NULL
);
-- How far each tenant's alert history has been routed as records (its rowid).
CREATE TABLE IF NOT EXISTS health_alert_routed (
    tenant TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
);
";

/// One alert as stored: its keys and the object.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub id: String,
    pub signal: String,
    pub direction: String,
    pub state: String,
    pub started: DateTime<Utc>,
    pub raised: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub alert: Value,
}

/// A change of an alert's state, for its history.
#[derive(Debug, Clone)]
pub struct StateChange<'a> {
    pub at: DateTime<Utc>,
    pub to: &'a str,
    pub by: &'a str,
    pub reason: &'a str,
}

fn time(text: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StateError::Corrupt(format!("health time {text:?}: {e}")))
}

fn alert_of(r: &rusqlite::Row) -> rusqlite::Result<(StoredAlert, String, String, Option<String>)> {
    let text: String = r.get(7)?;
    Ok((
        StoredAlert {
            id: r.get(0)?,
            signal: r.get(1)?,
            direction: r.get(2)?,
            state: r.get(3)?,
            started: DateTime::<Utc>::MIN_UTC,
            raised: DateTime::<Utc>::MIN_UTC,
            ended: None,
            alert: serde_json::from_str(&text).unwrap_or(Value::Null),
        },
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

/// A range of time: `[since, until)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

const ALERT_COLUMNS: &str = "id, signal, direction, state, started, raised, ended, alert";

impl SqliteState {
    /// How far `tenant`'s signals are computed: `[since, until)`.
    pub fn health_computed(&self, tenant: &str) -> Result<Option<Span>, StateError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT since, until FROM health_computed WHERE tenant = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(s, u)| Ok((time(&s)?, time(&u)?))).transpose()
    }

    /// Replaces `tenant`'s values in `[from, to)` with `values` (signal, interval, value; zeros
    /// are not kept), forgets those before `keep_from`, and notes the signals computed over
    /// `[since, to)` — in one transaction.
    pub fn put_health_values(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        values: &[(String, DateTime<Utc>, f64)],
        since: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM health_values WHERE tenant = ?1 AND ((at >= ?2 AND at < ?3) OR at < ?4)",
            params![
                tenant,
                from.rfc3339_millis(),
                to.rfc3339_millis(),
                since.rfc3339_millis()
            ],
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO health_values (tenant, signal, at, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (signal, at, value) in values.iter().filter(|v| v.2 != 0.0) {
                insert.execute(params![tenant, signal, at.rfc3339_millis(), value])?;
            }
        }
        tx.execute(
            "INSERT INTO health_computed (tenant, since, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant) DO UPDATE SET since = excluded.since, until = excluded.until",
            params![tenant, since.rfc3339_millis(), to.rfc3339_millis()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every signal of `tenant` over `[since, until)`, each interval present (zero where no
    /// value is kept), by signal.
    pub fn health_series(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: chrono::Duration,
    ) -> Result<HashMap<String, Series>, StateError> {
        self.health_series_in(tenant, &[(since, until)], step)
    }

    /// Every signal of `tenant` over the ranges `[from, until)` (starting on `step`'s grid),
    /// each of their intervals present (zero where no value is kept), by signal: what the
    /// monitor judges and the same stretch of the weeks before, not the weeks between.
    pub fn health_series_in(
        &self,
        tenant: &str,
        ranges: &[(DateTime<Utc>, DateTime<Utc>)],
        step: chrono::Duration,
    ) -> Result<HashMap<String, Series>, StateError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT signal, at, value FROM health_values WHERE tenant = ?1 AND at >= ?2 AND at < ?3",
        )?;
        let mut kept: HashMap<String, Vec<(DateTime<Utc>, f64)>> = HashMap::new();
        for (since, until) in ranges {
            let rows = q.query_map(
                params![tenant, since.rfc3339_millis(), until.rfc3339_millis()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, f64>(2)?,
                    ))
                },
            )?;
            for row in rows {
                let (signal, at, value) = row?;
                kept.entry(signal).or_default().push((time(&at)?, value));
            }
        }
        let mut out = HashMap::new();
        for (signal, values) in kept {
            let mut series = Series::new();
            for (since, until) in ranges {
                let mut t = *since;
                while t < *until {
                    series.insert(t, 0.0);
                    t += step;
                }
            }
            series.extend(values);
            out.insert(signal, series);
        }
        Ok(out)
    }

    /// `tenant`'s alerts raised in `[from, to]` (in `state`, if given), newest first, at most
    /// `limit`.
    pub fn health_alerts(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StateError> {
        self.alerts_where(
            &format!(
                "tenant = ?1 AND raised >= ?2 AND raised <= ?3 AND (?4 = '' OR state = ?4) ORDER BY raised DESC, id LIMIT {limit}"
            ),
            &[tenant, &from.rfc3339_millis(), &to.rfc3339_millis(), state.unwrap_or_default()],
        )
    }

    /// `tenant`'s alerts still active or ended at or after `since`: those a monitor run may
    /// update.
    pub fn health_alerts_open_since(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredAlert>, StateError> {
        self.alerts_where(
            "tenant = ?1 AND (ended IS NULL OR ended >= ?2) ORDER BY started",
            &[tenant, &since.rfc3339_millis()],
        )
    }

    pub fn health_alert(&self, tenant: &str, id: &str) -> Result<Option<StoredAlert>, StateError> {
        Ok(self
            .alerts_where("tenant = ?1 AND id = ?2", &[tenant, id])?
            .into_iter()
            .next())
    }

    fn alerts_where(&self, condition: &str, args: &[&str]) -> Result<Vec<StoredAlert>, StateError> {
        let conn = self.conn();
        let mut q = conn.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM health_alerts WHERE {condition}"
        ))?;
        let rows = q.query_map(rusqlite::params_from_iter(args), alert_of)?;
        let mut out = Vec::new();
        for row in rows {
            let (mut a, started, raised, ended) = row?;
            a.started = time(&started)?;
            a.raised = time(&raised)?;
            a.ended = ended.as_deref().map(time).transpose()?;
            out.push(a);
        }
        Ok(out)
    }

    /// Stores an alert (new or updated) and, if its state changed, the change in its history —
    /// in one transaction.
    pub fn put_health_alert(
        &self,
        tenant: &str,
        a: &StoredAlert,
        change: Option<(&str, StateChange)>,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO health_alerts (tenant, {ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                tenant,
                a.id,
                a.signal,
                a.direction,
                a.state,
                a.started.rfc3339_millis(),
                a.raised.rfc3339_millis(),
                a.ended.map(|t| t.rfc3339_millis()),
                a.alert.to_string()
            ],
        )?;
        if let Some((from, c)) = change {
            tx.execute(
                "INSERT INTO health_alert_history (tenant, id, at, state_from, state_to, by, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![tenant, a.id, c.at.rfc3339_millis(), from, c.to, c.by, c.reason],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An alert's history, oldest first: `{dateTime, from, to, by, reason}`.
    pub fn health_alert_history(&self, tenant: &str, id: &str) -> Result<Vec<Value>, StateError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT at, state_from, state_to, by, reason FROM health_alert_history
             WHERE tenant = ?1 AND id = ?2 ORDER BY at, rowid",
        )?;
        let rows = q.query_map(params![tenant, id], |r| {
            Ok(serde_json::json!({
                "dateTime": r.get::<_, String>(0)?,
                "from": r.get::<_, String>(1)?,
                "to": r.get::<_, String>(2)?,
                "by": r.get::<_, String>(3)?,
                "reason": r.get::<_, String>(4)?,
            }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteState {
    /// `tenant`'s changes of alert state not yet routed as records, oldest first, at most
    /// `limit`: (rowid, the change `{dateTime, from, to, by, reason}`, the alert as it is now),
    /// to be marked routed with [`SqliteState::health_alert_changes_routed`].
    pub fn health_alert_changes_unrouted(
        &self,
        tenant: &str,
        limit: i64,
    ) -> Result<Vec<(i64, Value, Value)>, StateError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT h.rowid, h.at, h.state_from, h.state_to, h.by, h.reason, a.alert
             FROM health_alert_history AS h
             JOIN health_alerts AS a ON a.tenant = h.tenant AND a.id = h.id
             WHERE h.tenant = ?1 AND h.rowid > COALESCE((SELECT last_rowid FROM health_alert_routed WHERE tenant = ?1), 0)
             ORDER BY h.rowid LIMIT ?2",
        )?;
        let rows = q.query_map(params![tenant, limit], |r| {
            let alert: String = r.get(6)?;
            Ok((
                r.get::<_, i64>(0)?,
                serde_json::json!({
                    "dateTime": r.get::<_, String>(1)?,
                    "from": r.get::<_, String>(2)?,
                    "to": r.get::<_, String>(3)?,
                    "by": r.get::<_, String>(4)?,
                    "reason": r.get::<_, String>(5)?,
                }),
                alert,
            ))
        })?;
        rows.map(|r| {
            let (rowid, change, alert) = r?;
            let alert = serde_json::from_str(&alert)
                .map_err(|e| StateError::Corrupt(format!("a stored health alert: {e}")))?;
            Ok((rowid, change, alert))
        })
        .collect()
    }

    /// Marks `tenant`'s alert history routed up to `rowid`.
    pub fn health_alert_changes_routed(&self, tenant: &str, rowid: i64) -> Result<(), StateError> {
        self.mark_routed("health_alert_routed", tenant, rowid)
    }
}

impl SqliteState {
    /// How far `tenant`'s Microsoft metrics are collected: `[since, until)`.
    pub fn microsoft_metrics_collected(&self, tenant: &str) -> Result<Option<Span>, StateError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT since, until FROM health_microsoft_collected WHERE tenant = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(s, u)| Ok((time(&s)?, time(&u)?))).transpose()
    }

    /// Replaces `tenant`'s Microsoft metrics in `[from, to)` with `values` (scenario, interval,
    /// value; zeros are not kept), forgets those before `keep_from`, and notes them collected
    /// to `to` — in one transaction.
    pub fn put_microsoft_metrics(
        &self,
        tenant: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        values: &[(String, DateTime<Utc>, f64)],
        keep_from: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM health_microsoft_values WHERE tenant = ?1 AND ((at >= ?2 AND at < ?3) OR at < ?4)",
            params![tenant, from.rfc3339_millis(), to.rfc3339_millis(), keep_from.rfc3339_millis()],
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO health_microsoft_values (tenant, scenario, at, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (scenario, at, value) in values.iter().filter(|v| v.2 != 0.0) {
                insert.execute(params![tenant, scenario, at.rfc3339_millis(), value])?;
            }
        }
        tx.execute(
            "INSERT INTO health_microsoft_collected (tenant, since, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant) DO UPDATE SET since = max(min(since, excluded.since), ?4),
                                                until = max(until, excluded.until)",
            params![
                tenant,
                from.rfc3339_millis(),
                to.rfc3339_millis(),
                keep_from.rfc3339_millis()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// `tenant`'s Microsoft metric `scenario` over `[from, to)` as collected: every 15-minute
    /// interval of it that is collected (zero where no value is kept), oldest first.
    pub fn microsoft_metrics(
        &self,
        tenant: &str,
        scenario: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<(DateTime<Utc>, f64)>, StateError> {
        use chrono::DurationRound;
        let quarter = chrono::Duration::minutes(15);
        let Some((since, until)) = self.microsoft_metrics_collected(tenant)? else {
            return Ok(Vec::new());
        };
        let kept: HashMap<String, f64> = {
            let conn = self.conn();
            let mut q = conn.prepare(
                "SELECT at, value FROM health_microsoft_values WHERE tenant = ?1 AND scenario = ?2 AND at >= ?3 AND at < ?4",
            )?;
            let rows = q.query_map(
                params![tenant, scenario, from.rfc3339_millis(), to.rfc3339_millis()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)),
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        let from = from.max(since);
        let mut t = from.duration_trunc(quarter).unwrap_or(from);
        while t < to.min(until) {
            out.push((t, kept.get(&t.rfc3339_millis()).copied().unwrap_or(0.0)));
            t += quarter;
        }
        Ok(out)
    }
}
