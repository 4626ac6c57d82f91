//! The directory inventory: per tenant and kind (`applications`, `servicePrincipals`, …) the
//! objects as Graph last listed them, and the history of what changed — added, changed (the
//! object's JSON differs), removed (no longer listed). A kind's snapshot is replaced only by a
//! complete listing, in one transaction, so a listing cut short changes nothing and the next
//! run starts it again.

use super::SqliteState;
use crate::clock::Timestamp;
use crate::state::StateError;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What one complete listing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InventoryChanges {
    pub listed: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

/// A hash of an object's compact JSON text.
fn digest(object: &Value) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(object.to_string().as_bytes());
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl SqliteState {
    /// Replaces `tenant`'s snapshot of `kind` with a complete listing (`objects`, each with an
    /// `id`), recording each difference in the change history at `at`. An object without an id
    /// is refused whole.
    pub fn sync_inventory(
        &self,
        tenant: &str,
        kind: &str,
        objects: &[Value],
        at: DateTime<Utc>,
    ) -> Result<InventoryChanges, StateError> {
        let mut listed = BTreeMap::new();
        for o in objects {
            let id = o["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                StateError::Corrupt(format!(
                    "a listed {kind} object has no id; nothing was kept"
                ))
            })?;
            listed.insert(id.to_string(), (o, digest(o)));
        }
        let at = at.rfc3339_millis();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut changes = InventoryChanges {
            listed: listed.len(),
            ..Default::default()
        };
        let known: BTreeMap<String, String> = {
            let mut stmt = tx.prepare(
                "SELECT id, digest FROM inventory WHERE tenant = ?1 AND kind = ?2 AND removed IS NULL",
            )?;
            let rows = stmt.query_map(params![tenant, kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, (object, hash)) in &listed {
            let change = match known.get(id) {
                None => "added",
                Some(old) if old != hash => "changed",
                Some(_) => {
                    tx.execute(
                        "UPDATE inventory SET last_seen = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                        params![tenant, kind, id, at],
                    )?;
                    continue;
                }
            };
            let body = object.to_string();
            tx.execute(
                "INSERT INTO inventory (tenant, kind, id, body, digest, first_seen, last_seen, removed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL)
                 ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body, digest = excluded.digest, last_seen = excluded.last_seen, removed = NULL",
                params![tenant, kind, id, body, hash, at],
            )?;
            tx.execute(
                "INSERT INTO inventory_changes (tenant, kind, id, at, change, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![tenant, kind, id, at, change, body],
            )?;
            if change == "added" {
                changes.added += 1;
            } else {
                changes.changed += 1;
            }
        }
        let gone: BTreeSet<&String> = known
            .keys()
            .filter(|id| !listed.contains_key(*id))
            .collect();
        for id in gone {
            tx.execute(
                "UPDATE inventory SET removed = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                params![tenant, kind, id, at],
            )?;
            tx.execute(
                "INSERT INTO inventory_changes (tenant, kind, id, at, change, body) VALUES (?1, ?2, ?3, ?4, 'removed', NULL)",
                params![tenant, kind, id, at],
            )?;
            changes.removed += 1;
        }
        tx.execute(
            "INSERT INTO inventory_syncs (tenant, kind, at, listed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, kind) DO UPDATE SET at = excluded.at, listed = excluded.listed",
            params![tenant, kind, at, listed.len() as i64],
        )?;
        tx.commit()?;
        Ok(changes)
    }

    /// `tenant`'s current objects of `kind`, by id.
    pub fn inventory(&self, tenant: &str, kind: &str) -> Result<Vec<Value>, StateError> {
        let rows = self.query_rows(
            "SELECT body FROM inventory WHERE tenant = ?1 AND kind = ?2 AND removed IS NULL ORDER BY id",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(kind.into()),
            ],
        )?;
        rows.into_iter()
            .map(|r| {
                let text = r[0].as_str().unwrap_or_default();
                serde_json::from_str(text)
                    .map_err(|e| StateError::Corrupt(format!("inventory {kind}: {e}")))
            })
            .collect()
    }

    /// `tenant`'s changes to `kind` since `since`, oldest first: id, at, change, body.
    pub fn inventory_changes(
        &self,
        tenant: &str,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Vec<Value>>, StateError> {
        self.query_rows(
            "SELECT id, at, change, body FROM inventory_changes WHERE tenant = ?1 AND kind = ?2 AND at >= ?3 ORDER BY at, rowid",
            &[
                rusqlite::types::Value::Text(tenant.into()),
                rusqlite::types::Value::Text(kind.into()),
                rusqlite::types::Value::Text(since.rfc3339_millis()),
            ],
        )
    }

    /// Every tenant's and kind's last complete listing: tenant, kind, at, objects listed.
    pub fn inventory_syncs(&self) -> Result<Vec<Vec<Value>>, StateError> {
        self.query_rows(
            "SELECT tenant, kind, at, listed FROM inventory_syncs ORDER BY tenant, kind",
            &[],
        )
    }

    /// When `tenant`'s `kind` was last listed completely, and how many objects it had.
    pub fn inventory_synced(
        &self,
        tenant: &str,
        kind: &str,
    ) -> Result<Option<(String, i64)>, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT at, listed FROM inventory_syncs WHERE tenant = ?1 AND kind = ?2",
                params![tenant, kind],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}
