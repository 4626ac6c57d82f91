//! Detections, alerts, risk actions and stored documents (risky users), and the reads the risk endpoints make.

use super::*;
use crate::clock::Timestamp;

impl RiskStore for SqliteState {
    /// Stores detections (a key already stored is kept) and the documents that go with them,
    /// in one transaction. Returns the keys that were new.
    fn store_detections(
        &self,
        tenant: &str,
        detections: &[crate::detect::Detection],
        documents: &[(&str, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut new = Vec::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO risk_detections (tenant, key, name, risk_level, user, ip, first_seen, last_seen, record_ids, evidence, detected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let t = |x: DateTime<Utc>| x.rfc3339_millis();
            for d in detections {
                let added = insert.execute(params![
                    tenant,
                    d.key,
                    d.name.name(),
                    d.risk_level.name(),
                    d.user,
                    d.ip,
                    t(d.first_seen),
                    t(d.last_seen),
                    serde_json::to_string(&d.record_ids).unwrap_or_default(),
                    d.evidence,
                    t(now),
                ])?;
                if added == 1 {
                    new.push(d.key.clone());
                }
            }
        }
        for (name, value) in documents {
            tx.execute(
                "INSERT INTO documents (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
        }
        tx.commit()?;
        Ok(new)
    }

    /// Our detections of a tenant that began in `[from, to]`: source, name, risk level, user,
    /// ip, first and last seen, evidence, record ids (JSON text), risk state.
    fn risk_detections(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        let t = |x: DateTime<Utc>| x.rfc3339_millis();
        self.query_rows(
            "SELECT 'entra-monitor', name, risk_level, user, ip, first_seen, last_seen, evidence, record_ids, 'atRisk' FROM risk_detections WHERE tenant = ?1 AND first_seen >= ?2 AND first_seen <= ?3",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(t(from)),
                rusqlite::types::Value::Text(t(to)),
            ],
        )
    }

    /// Whether an alert for this detection was sent; otherwise, when fewer than `max` alerts
    /// went out since `since`, records it as sent and answers Ok(true) to send it now.
    fn claim_alert(
        &self,
        tenant: &str,
        key: &str,
        since: DateTime<Utc>,
        max: usize,
        now: DateTime<Utc>,
    ) -> Result<AlertClaim, StateError> {
        let t = |x: DateTime<Utc>| x.rfc3339_millis();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let sent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM alerts_sent WHERE tenant = ?1 AND key = ?2",
            params![tenant, key],
            |r| r.get(0),
        )?;
        if sent > 0 {
            return Ok(AlertClaim::AlreadySent);
        }
        let recent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM alerts_sent WHERE at >= ?1",
            params![t(since)],
            |r| r.get(0),
        )?;
        if recent as usize >= max {
            return Ok(AlertClaim::RateLimited);
        }
        tx.execute(
            "INSERT INTO alerts_sent (tenant, key, at) VALUES (?1, ?2, ?3)",
            params![tenant, key, t(now)],
        )?;
        tx.commit()?;
        Ok(AlertClaim::Send)
    }

    /// Forgets a claimed alert whose sending failed, so a later run tries again.
    fn release_alert(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM alerts_sent WHERE tenant = ?1 AND key = ?2",
            params![tenant, key],
        )?;
        Ok(())
    }

    /// Records a risk action (dismiss, confirm compromised) in the audit trail.
    fn record_risk_action(
        &self,
        tenant: &str,
        user: &str,
        action: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO risk_actions (tenant, user, action, actor, reason, at) VALUES (?1, lower(?2), ?3, ?4, ?5, ?6)",
            params![tenant, user, action, actor, reason, at.rfc3339_millis()],
        )?;
        Ok(())
    }

    /// A tenant's risk actions, oldest first: user, action, actor, reason, at.
    fn risk_actions(&self, tenant: &str) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows(
            "SELECT user, action, actor, reason, at FROM risk_actions WHERE tenant = ?1 ORDER BY at, rowid",
            &[rusqlite::types::Value::Text(tenant.into())],
        )
    }
}

impl SqliteState {
    /// A stored document (JSON), if any.
    pub fn document<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM documents WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StateError::Corrupt(format!("document {name}: {e}")))
        })
        .transpose()
    }

    /// Password resets (self-service or by an admin) of a tenant's users: user, time.
    pub fn password_resets(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        self.query_rows(
            "SELECT lower(json_extract(\"TargetResources\", '$[0].userPrincipalName')), \"TimeGenerated\" FROM \"AuditLogs\"
             WHERE \"AADTenantId\" = ?1 AND \"TimeGenerated\" >= ?2 AND \"OperationName\" IN ('Reset password (self-service)', 'Reset user password', 'Change password (self-service)')",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(from.rfc3339_millis()),
            ],
        )
    }

    /// Risky sign-ins of a tenant in `[from, to]`, newest first: the interactive sign-ins our
    /// detections name, and those Microsoft rated at risk (`RiskLevelDuringSignIn` low, medium
    /// or high). Each: id, time, user, ip, location, app, result, risk level (the higher of ours
    /// and Microsoft's), Microsoft's level, risk state, sources, our detections (name and level).
    pub fn risky_sign_ins(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use rusqlite::types::Value::Text;
        use serde_json::{Value, json};
        let t = |x: DateTime<Utc>| x.rfc3339_millis();
        let sql = format!(
            "SELECT s.\"Id\", s.\"TimeGenerated\", s.\"UserPrincipalName\", s.\"IPAddress\", s.\"Location\", s.\"AppDisplayName\", s.\"ResultType\", s.\"RiskLevelDuringSignIn\", s.\"RiskState\", d.name, d.risk_level
             FROM \"SigninLogs\" s
             LEFT JOIN (SELECT r.name, r.risk_level, j.value AS id FROM risk_detections r, json_each(r.record_ids) j WHERE r.tenant = ?1) d ON d.id = s.\"Id\"
             WHERE s.\"{}\" = ?1 AND s.\"TimeGenerated\" >= ?2 AND s.\"TimeGenerated\" <= ?3
               AND (d.id IS NOT NULL OR s.\"RiskLevelDuringSignIn\" IN ('low', 'medium', 'high'))
             ORDER BY s.\"TimeGenerated\" DESC, s.\"Id\"",
            embedded::tenant_column(Category::SignInLogs)
        );
        let rank = |l: &str| {
            ["none", "low", "medium", "high"]
                .iter()
                .position(|x| *x == l)
                .unwrap_or(0)
        };
        let mut out: Vec<Vec<Value>> = Vec::new();
        let mut last_id = Value::Null;
        for r in self.query_rows(&sql, &[Text(tenant.into()), Text(t(from)), Text(t(to))])? {
            if r[0] != last_id {
                last_id = r[0].clone();
                let microsoft = r[7].as_str().filter(|l| rank(l) > 0);
                out.push(vec![
                    r[0].clone(),
                    r[1].clone(),
                    r[2].clone(),
                    r[3].clone(),
                    r[4].clone(),
                    r[5].clone(),
                    r[6].clone(),
                    json!(microsoft.unwrap_or("none")),
                    json!(microsoft),
                    r[8].clone(),
                    json!(if microsoft.is_some() {
                        vec!["Microsoft"]
                    } else {
                        vec![]
                    }),
                    json!([]),
                ]);
            }
            let (Some(row), Some(name), Some(level)) =
                (out.last_mut(), r[9].as_str(), r[10].as_str())
            else {
                continue;
            };
            if rank(level) > rank(row[7].as_str().unwrap_or("none")) {
                row[7] = json!(level);
            }
            if let Some(sources) = row[10].as_array_mut()
                && !sources.contains(&json!(crate::detect::SOURCE))
            {
                sources.insert(0, json!(crate::detect::SOURCE));
            }
            if let Some(found) = row[11].as_array_mut() {
                found.push(json!({ "name": name, "risk_level": level }));
            }
        }
        Ok(out)
    }

    /// A user's object id, from what was collected: Microsoft's risky-user record, else the
    /// newest sign-in.
    pub fn user_object_id(&self, tenant: &str, upn: &str) -> Result<Option<String>, StateError> {
        use rusqlite::types::Value::Text;
        let (tenant, upn) = (Text(tenant.into()), Text(upn.to_ascii_lowercase()));
        let risky = format!(
            "SELECT \"Id\" FROM \"AADRiskyUsers\" WHERE \"{}\" = ?1 AND lower(\"UserPrincipalName\") = ?2 AND coalesce(\"SourceSystem\", '') != ?3 LIMIT 1",
            embedded::tenant_column(Category::RiskyUsers)
        );
        let signed_in = format!(
            "SELECT \"UserId\" FROM \"SigninLogs\" WHERE \"{}\" = ?1 AND lower(\"UserPrincipalName\") = ?2 AND \"UserId\" != '' ORDER BY \"TimeGenerated\" DESC LIMIT 1",
            embedded::tenant_column(Category::SignInLogs)
        );
        for rows in [
            self.query_rows(
                &risky,
                &[
                    tenant.clone(),
                    upn.clone(),
                    Text(crate::detect::SOURCE.into()),
                ],
            )?,
            self.query_rows(&signed_in, &[tenant, upn])?,
        ] {
            if let Some(id) = rows.first().and_then(|r| r[0].as_str()) {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    }

    /// Microsoft's risk detections (the collected `AADUserRiskEvents`, not the rows of ours
    /// routed there) in the columns of [`SqliteState::risk_detections`], source `Microsoft`.
    pub fn microsoft_detections(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<serde_json::Value>>, StateError> {
        use serde_json::{Value, json};
        Ok(self
            .embedded_rows(tenant, Category::UserRiskEvents, from, to)?
            .into_iter()
            .filter(|m| m.get("Source").and_then(|s| s.as_str()) != Some(crate::detect::SOURCE))
            .map(|m| {
                let get = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
                vec![
                    json!("Microsoft"),
                    get("RiskEventType"),
                    get("RiskLevel"),
                    get("UserPrincipalName"),
                    get("IpAddress"),
                    get("TimeGenerated"),
                    get("TimeGenerated"),
                    get("RiskDetail"),
                    json!([get("Id")]),
                    get("RiskState"),
                ]
            })
            .collect())
    }
}

/// The most alerts one tenant's outbox holds: past it the oldest are dropped (and said so).
pub const MAX_QUEUED_ALERTS: i64 = 1000;

impl SqliteState {
    /// Puts an alert in `tenant`'s outbox, to be sent by [`crate::detect::alerts::Alerter::flush`]
    /// (a key already queued is kept). Returns how many older alerts had to be dropped.
    pub fn queue_alert(
        &self,
        tenant: &str,
        key: &str,
        message: &crate::detect::alerts::Message,
        now: DateTime<Utc>,
    ) -> Result<usize, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO alerts_queued (tenant, key, queued, message) VALUES (?1, ?2, ?3, ?4)",
            params![tenant, key, now.rfc3339_millis(), serde_json::json!(message).to_string()],
        )?;
        let dropped = tx.execute(
            "DELETE FROM alerts_queued WHERE tenant = ?1 AND rowid NOT IN
               (SELECT rowid FROM alerts_queued WHERE tenant = ?1 ORDER BY rowid DESC LIMIT ?2)",
            params![tenant, MAX_QUEUED_ALERTS],
        )?;
        tx.commit()?;
        if dropped > 0 {
            tracing::warn!(
                tenant,
                dropped,
                "the alert outbox is full: the oldest alerts were dropped"
            );
        }
        Ok(dropped)
    }

    /// The alerts waiting in `tenant`'s outbox, oldest first.
    pub fn queued_alerts(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, crate::detect::alerts::Message)>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT key, message FROM alerts_queued WHERE tenant = ?1 ORDER BY rowid",
        )?;
        let rows = stmt
            .query_map(params![tenant], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, m)| Some((k, serde_json::from_str(&m).ok()?)))
            .collect())
    }

    /// Takes a sent alert out of the outbox.
    pub fn dequeue_alert(&self, tenant: &str, key: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM alerts_queued WHERE tenant = ?1 AND key = ?2",
            params![tenant, key],
        )?;
        Ok(())
    }
}
