//! Recommendations per tenant: each type's status and dates, each impacted resource's, and the
//! history of every change of status (who, when, why) — the system's at each evaluation, and
//! people's actions.

use super::SqliteState;
use crate::clock::Timestamp;
use crate::recommend::lifecycle;
use crate::recommend::{Impacted, MICROSOFT_KIND, SOURCE, Verdict};
use crate::state::StateError;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

/// An upsert's update of the dates a change of status moves (a postponement lasts only while
/// postponed).
const STATUS_CHANGED: &str = "postpone_until = CASE WHEN excluded.status = 'postponed' THEN postpone_until ELSE NULL END,
               last_modified = CASE WHEN status != excluded.status THEN excluded.last_modified ELSE last_modified END,
               last_modified_by = CASE WHEN status != excluded.status THEN excluded.last_modified_by ELSE last_modified_by END";

/// Which impacted resources to list: with this status, this subject.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub status: Option<String>,
    pub subject: Option<String>,
}

/// Who the system's changes are recorded as.
pub const SYSTEM: &str = "entra-monitor";

/// What one evaluation of a type changed: whether the recommendation became active (new or
/// again), and the resources that did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluationChanges {
    pub activated: bool,
    pub completed: bool,
    pub resources_activated: Vec<String>,
    pub resources_completed: usize,
}

fn parse(text: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl SqliteState {
    /// Records one evaluation of `kind` for `tenant` at `now`: the recommendation's and each
    /// resource's status moved as [`lifecycle::evaluated`] says, the resources' facts updated,
    /// every change in the history — in one transaction. An undecided verdict changes no
    /// status; it is noted with the time checked.
    pub fn record_evaluation(
        &self,
        tenant: &str,
        kind: &str,
        verdict: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<EvaluationChanges, StateError> {
        let at = now.rfc3339_millis();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut changes = EvaluationChanges::default();
        let current: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT status, postpone_until FROM recommendations WHERE tenant = ?1 AND type = ?2 AND source = ?3",
                params![tenant, kind, SOURCE],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let impacted: &[Impacted] = match verdict {
            Verdict::Undecided(why) => {
                tx.execute(
                    "UPDATE recommendations SET last_checked = ?4, note = ?5 WHERE tenant = ?1 AND type = ?2 AND source = ?3",
                    params![tenant, kind, SOURCE, at, why],
                )?;
                tx.commit()?;
                return Ok(changes);
            }
            Verdict::Impacted(i) => i,
        };
        own_status(
            &tx,
            tenant,
            kind,
            current,
            !impacted.is_empty(),
            now,
            &mut changes,
        )?;
        resources(&tx, tenant, kind, impacted, now, &mut changes)?;
        tx.commit()?;
        Ok(changes)
    }

    /// Records `action` on `tenant`'s recommendation `kind` (or, with `subject`, on one of its
    /// resources): its status, who, when and why, in the history. The status before, or None
    /// when there is no such recommendation or resource.
    pub fn act_on_recommendation(
        &self,
        tenant: &str,
        kind: &str,
        subject: Option<&str>,
        action: &lifecycle::Action,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StateError> {
        let at = now.rfc3339_millis();
        let until = action.until.map(|u| u.rfc3339_millis());
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (table, extra) = match subject {
            None => ("recommendations", ""),
            Some(_) => ("recommendation_resources", " AND subject_id = ?4"),
        };
        let subject_param = subject.unwrap_or_default();
        let was: Option<String> = tx
            .query_row(
                &format!("SELECT status FROM {table} WHERE tenant = ?1 AND type = ?2 AND source = ?3{extra}"),
                rusqlite::params_from_iter(
                    [tenant, kind, SOURCE, subject_param]
                        .into_iter()
                        .take(if subject.is_some() { 4 } else { 3 }),
                ),
                |r| r.get(0),
            )
            .optional()?;
        let Some(was) = was else {
            return Ok(None);
        };
        tx.execute(
            &format!(
                "UPDATE {table} SET status = ?5, postpone_until = ?6, last_modified = ?7, last_modified_by = ?8 \
                 WHERE tenant = ?1 AND type = ?2 AND source = ?3{}",
                if subject.is_some() { " AND subject_id = ?4" } else { " AND ?4 = ?4" }
            ),
            params![tenant, kind, SOURCE, subject_param, action.status, until, at, action.by],
        )?;
        history(
            &tx,
            SOURCE,
            tenant,
            kind,
            subject,
            Some(&was),
            action.status,
            action.by,
            action.reason,
            &at,
        )?;
        tx.commit()?;
        Ok(Some(was))
    }

    /// Notes that every type was evaluated for `tenant` at `at`.
    pub fn note_recommendation_run(
        &self,
        tenant: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO recommendation_runs (tenant, at) VALUES (?1, ?2) ON CONFLICT (tenant) DO UPDATE SET at = excluded.at",
            params![tenant, at.rfc3339_millis()],
        )?;
        Ok(())
    }

    /// When every type was last evaluated for `tenant`.
    pub fn last_recommendation_run(
        &self,
        tenant: &str,
    ) -> Result<Option<DateTime<Utc>>, StateError> {
        let at: Option<String> = self
            .conn()
            .query_row(
                "SELECT at FROM recommendation_runs WHERE tenant = ?1",
                params![tenant],
                |r| r.get(0),
            )
            .optional()?;
        Ok(parse(at))
    }

    /// `tenant`'s recommendations (every type ever raised), as stored.
    pub fn recommendations(&self, tenant: &str) -> Result<Vec<Value>, StateError> {
        let rows = self.query_rows(
            "SELECT type, source, status, created, impact_start, last_checked, last_modified, last_modified_by, postpone_until, note,
               (SELECT COUNT(*) FROM recommendation_resources AS r WHERE r.tenant = c.tenant AND r.type = c.type AND r.source = c.source AND r.status IN ('active', 'postponed')),
               (SELECT COUNT(*) FROM recommendation_resources AS r WHERE r.tenant = c.tenant AND r.type = c.type AND r.source = c.source)
             FROM recommendations AS c WHERE tenant = ?1 ORDER BY type, source",
            &[rusqlite::types::Value::Text(tenant.into())],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                json!({
                    "recommendationType": r[0], "source": r[1], "status": r[2], "createdDateTime": r[3],
                    "impactStartDateTime": r[4], "lastCheckedDateTime": r[5], "lastModifiedDateTime": r[6],
                    "lastModifiedBy": r[7], "postponeUntilDateTime": r[8], "note": r[9],
                    "impactedResourcesActive": r[10], "impactedResourcesTotal": r[11],
                })
            })
            .collect())
    }

    /// The resources `tenant`'s recommendation `kind` impacts (or impacted), by rank.
    pub fn impacted_resources(&self, tenant: &str, kind: &str) -> Result<Vec<Value>, StateError> {
        self.impacted_resources_page(tenant, kind, &ResourceFilter::default(), -1, 0)
    }

    /// The same, only those `filter` keeps, at most `limit` (-1: all) from `offset` on.
    pub fn impacted_resources_page(
        &self,
        tenant: &str,
        kind: &str,
        filter: &ResourceFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Value>, StateError> {
        use rusqlite::types::Value as Sql;
        let text = |v: Option<&str>| v.map_or(Sql::Null, |v| Sql::Text(v.into()));
        let rows = self.query_rows(
            "SELECT subject_id, source, status, added, last_modified, last_modified_by, postpone_until, body
             FROM recommendation_resources WHERE tenant = ?1 AND type = ?2
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR subject_id = ?4)
             ORDER BY status != 'active', json_extract(body, '$.rank'), subject_id LIMIT ?5 OFFSET ?6",
            &[
                Sql::Text(tenant.into()),
                Sql::Text(kind.into()),
                text(filter.status.as_deref()),
                text(filter.subject.as_deref()),
                Sql::Integer(limit),
                Sql::Integer(offset),
            ],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let body: Value = serde_json::from_str(r[7].as_str().unwrap_or("{}")).unwrap_or_default();
                json!({
                    "subjectId": r[0], "source": r[1], "status": r[2], "addedDateTime": r[3],
                    "lastModifiedDateTime": r[4], "lastModifiedBy": r[5], "postponeUntilDateTime": r[6],
                    "resourceType": body["resourceType"], "displayName": body["displayName"], "rank": body["rank"],
                    "additionalDetails": body["additionalDetails"], "portalUrl": body["portalUrl"],
                })
            })
            .collect())
    }

    /// The history of `tenant`'s recommendation `kind`: every change of status, oldest first.
    pub fn recommendation_history(
        &self,
        tenant: &str,
        kind: &str,
    ) -> Result<Vec<Value>, StateError> {
        self.recommendation_history_from(SOURCE, tenant, kind)
    }

    /// The same, of the recommendation from `source` (ours, or `microsoft`: the actions taken
    /// here on Microsoft's).
    pub fn recommendation_history_from(
        &self,
        source: &str,
        tenant: &str,
        kind: &str,
    ) -> Result<Vec<Value>, StateError> {
        let rows = self.query_rows(
            "SELECT subject_id, at, status_from, status_to, by, reason FROM recommendation_history
             WHERE tenant = ?1 AND type = ?2 AND source = ?3 ORDER BY at, rowid",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(kind.into()),
                rusqlite::types::Value::Text(source.into()),
            ],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| json!({ "subjectId": r[0], "at": r[1], "from": r[2], "to": r[3], "by": r[4], "reason": r[5] }))
            .collect())
    }
}

impl SqliteState {
    /// Records an action on one of Microsoft's recommendations (or one of its resources,
    /// `subject`) that Graph accepted: `updated`, Graph's answer, over the collected copy, and
    /// the change in the history (source `microsoft`) — in one transaction. Returns the
    /// collected recommendation after it, or None when it is not collected.
    #[allow(clippy::too_many_arguments)]
    pub fn record_microsoft_action(
        &self,
        tenant: &str,
        id: &str,
        subject: Option<&str>,
        updated: &Value,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let body: Option<String> = tx
            .query_row(
                "SELECT body FROM inventory WHERE tenant = ?1 AND kind = ?2 AND id = ?3 AND removed IS NULL",
                params![tenant, MICROSOFT_KIND, id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(Ok(mut rec)) = body.map(|b| serde_json::from_str::<Value>(&b)) else {
            return Ok(None);
        };
        let kind = rec["recommendationType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let target = match subject {
            None => Some(&mut rec),
            Some(s) => rec["impactedResources"]
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|r| r["id"] == s || r["subjectId"] == s)),
        };
        let Some(target) = target else {
            return Ok(None);
        };
        let from = target["status"].as_str().map(String::from);
        if let (Value::Object(into), Value::Object(new)) = (&mut *target, updated) {
            into.extend(
                new.iter()
                    .filter(|(k, _)| !k.starts_with('@') && *k != "impactedResources")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        let to = target["status"].as_str().unwrap_or_default().to_string();
        tx.execute(
            "UPDATE inventory SET body = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
            params![tenant, MICROSOFT_KIND, id, rec.to_string()],
        )?;
        history(
            &tx,
            crate::recommend::MICROSOFT,
            tenant,
            &kind,
            subject,
            from.as_deref(),
            &to,
            by,
            reason,
            &now.rfc3339_millis(),
        )?;
        tx.commit()?;
        Ok(Some(rec))
    }
}

impl SqliteState {
    /// `tenant`'s changes of status not yet routed as records, oldest first, at most `limit`:
    /// (rowid, the change with the type's, source's and resource's names as kept), to be
    /// marked routed with [`SqliteState::recommendation_changes_routed`].
    pub fn recommendation_changes_unrouted(
        &self,
        tenant: &str,
        limit: i64,
    ) -> Result<Vec<(i64, Value)>, StateError> {
        use rusqlite::types::Value as Sql;
        let rows = self.query_rows(
            "SELECT h.rowid, h.type, h.source, h.subject_id, h.at, h.status_from, h.status_to, h.by, h.reason,
                    json_extract(r.body, '$.displayName'), json_extract(r.body, '$.resourceType')
             FROM recommendation_history AS h
             LEFT JOIN recommendation_resources AS r
               ON r.tenant = h.tenant AND r.type = h.type AND r.source = h.source AND r.subject_id = h.subject_id
             WHERE h.tenant = ?1 AND h.rowid > COALESCE((SELECT last_rowid FROM recommendation_routed WHERE tenant = ?1), 0)
             ORDER BY h.rowid LIMIT ?2",
            &[Sql::Text(tenant.into()), Sql::Integer(limit)],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r[0].as_i64().unwrap_or_default(),
                    json!({ "type": r[1], "source": r[2], "subjectId": r[3], "at": r[4], "from": r[5],
                            "to": r[6], "by": r[7], "reason": r[8], "resourceDisplayName": r[9], "resourceType": r[10] }),
                )
            })
            .collect())
    }

    /// `tenant`'s collected recommendations from Microsoft without their impacted resources
    /// (which can number a tenant's users), each with `impactedResourcesActive` (active or
    /// postponed) and `impactedResourcesTotal`, counted in the store.
    pub fn microsoft_recommendations(&self, tenant: &str) -> Result<Vec<Value>, StateError> {
        use rusqlite::types::Value as Sql;
        let rows = self.query_rows(
            "SELECT json_remove(body, '$.impactedResources'),
                    (SELECT COUNT(*) FROM json_each(body, '$.impactedResources')
                      WHERE json_extract(value, '$.status') IN ('active', 'postponed')),
                    COALESCE(json_array_length(body, '$.impactedResources'), 0)
             FROM inventory WHERE tenant = ?1 AND kind = ?2 AND removed IS NULL ORDER BY id",
            &[Sql::Text(tenant.into()), Sql::Text(MICROSOFT_KIND.into())],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut rec: Value = serde_json::from_str(r[0].as_str()?).ok()?;
                rec["impactedResourcesActive"] = r[1].clone();
                rec["impactedResourcesTotal"] = r[2].clone();
                Some(rec)
            })
            .collect())
    }

    /// One collected recommendation from Microsoft, whole, by its Graph id.
    pub fn microsoft_recommendation(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Value>, StateError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM inventory WHERE tenant = ?1 AND kind = ?2 AND id = ?3 AND removed IS NULL",
                params![tenant, MICROSOFT_KIND, id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// Notes `tenant`'s changes up to `rowid` as routed.
    pub fn recommendation_changes_routed(
        &self,
        tenant: &str,
        rowid: i64,
    ) -> Result<(), StateError> {
        self.mark_routed("recommendation_routed", tenant, rowid)
    }
}

/// The recommendation's own status after an evaluation that found its condition holding
/// (`applies`) or not.
fn own_status(
    tx: &rusqlite::Transaction,
    tenant: &str,
    kind: &str,
    current: Option<(String, Option<String>)>,
    applies: bool,
    now: DateTime<Utc>,
    changes: &mut EvaluationChanges,
) -> Result<(), StateError> {
    let at = now.rfc3339_millis();
    let was = current.as_ref().map(|c| c.0.as_str());
    let until = parse(current.as_ref().and_then(|c| c.1.clone()));
    let status = lifecycle::evaluated(was, until, applies, now);
    if let Some(status) = status {
        let start_again = status == lifecycle::ACTIVE && was != Some(lifecycle::ACTIVE);
        tx.execute(
            &format!("INSERT INTO recommendations (tenant, type, source, status, created, impact_start, last_checked, last_modified, last_modified_by, postpone_until, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?5, ?6, NULL, NULL)
             ON CONFLICT (tenant, type, source) DO UPDATE SET status = excluded.status, last_checked = excluded.last_checked, note = NULL,
               impact_start = CASE WHEN ?7 THEN excluded.impact_start ELSE impact_start END,
               {STATUS_CHANGED}"),
            params![tenant, kind, SOURCE, status, at, SYSTEM, start_again],
        )?;
        if was != Some(status) {
            history(
                tx,
                SOURCE,
                tenant,
                kind,
                None,
                was,
                status,
                SYSTEM,
                "evaluation",
                &at,
            )?;
            changes.activated = status == lifecycle::ACTIVE;
            changes.completed = status == lifecycle::COMPLETED_BY_SYSTEM;
        }
    }
    Ok(())
}

/// Each impacted resource's status after an evaluation (those no longer impacted complete).
fn resources(
    tx: &rusqlite::Transaction,
    tenant: &str,
    kind: &str,
    impacted: &[Impacted],
    now: DateTime<Utc>,
    changes: &mut EvaluationChanges,
) -> Result<(), StateError> {
    let at = now.rfc3339_millis();
    let known: Vec<(String, String, Option<String>)> = {
        let mut stmt = tx.prepare(
            "SELECT subject_id, status, postpone_until FROM recommendation_resources WHERE tenant = ?1 AND type = ?2 AND source = ?3",
        )?;
        let rows = stmt.query_map(params![tenant, kind, SOURCE], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (rank, r) in impacted.iter().enumerate() {
        let before = known.iter().find(|k| k.0 == r.subject_id);
        let was = before.map(|k| k.1.as_str());
        let until = parse(before.and_then(|k| k.2.clone()));
        let Some(status) = lifecycle::evaluated(was, until, true, now) else {
            continue;
        };
        let body = json!({
            "resourceType": r.resource_type, "displayName": r.display_name,
            "rank": rank + 1, "additionalDetails": r.details_json(), "portalUrl": r.portal_url,
        });
        tx.execute(
            &format!("INSERT INTO recommendation_resources (tenant, type, source, subject_id, status, added, last_modified, last_modified_by, postpone_until, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, NULL, ?8)
             ON CONFLICT (tenant, type, source, subject_id) DO UPDATE SET status = excluded.status, body = excluded.body,
               {STATUS_CHANGED}"),
            params![tenant, kind, SOURCE, r.subject_id, status, at, SYSTEM, body.to_string()],
        )?;
        if was != Some(status) {
            history(
                tx,
                SOURCE,
                tenant,
                kind,
                Some(&r.subject_id),
                was,
                status,
                SYSTEM,
                "evaluation",
                &at,
            )?;
            if status == lifecycle::ACTIVE {
                changes.resources_activated.push(r.subject_id.clone());
            }
        }
    }
    for (subject, was, until) in &known {
        if impacted.iter().any(|r| r.subject_id == *subject) {
            continue;
        }
        let status = lifecycle::evaluated(Some(was), parse(until.clone()), false, now);
        if let Some(status) = status.filter(|s| s != was) {
            tx.execute(
                "UPDATE recommendation_resources SET status = ?5, last_modified = ?6, last_modified_by = ?7,
                   postpone_until = CASE WHEN ?5 = 'postponed' THEN postpone_until ELSE NULL END
                 WHERE tenant = ?1 AND type = ?2 AND source = ?3 AND subject_id = ?4",
                params![tenant, kind, SOURCE, subject, status, at, SYSTEM],
            )?;
            history(
                tx,
                SOURCE,
                tenant,
                kind,
                Some(subject),
                Some(was),
                status,
                SYSTEM,
                "evaluation",
                &at,
            )?;
            changes.resources_completed += 1;
        }
    }
    Ok(())
}

/// One change of status in the history (`subject` None: the recommendation's own).
#[allow(clippy::too_many_arguments)]
fn history(
    tx: &rusqlite::Transaction,
    source: &str,
    tenant: &str,
    kind: &str,
    subject: Option<&str>,
    from: Option<&str>,
    to: &str,
    by: &str,
    reason: &str,
    at: &str,
) -> Result<(), StateError> {
    tx.execute(
        "INSERT INTO recommendation_history (tenant, type, source, subject_id, at, status_from, status_to, by, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![tenant, kind, source, subject, at, from, to, by, reason],
    )?;
    Ok(())
}
