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

/// An object's id, or the error that refuses a listing holding an object without one.
fn id_of<'a>(kind: &str, object: &'a Value) -> Result<&'a str, StateError> {
    object["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            StateError::Corrupt(format!(
                "a listed {kind} object has no id; nothing was kept"
            ))
        })
}

/// One kind's snapshot being brought up to date inside a transaction.
struct Sync<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    tenant: &'a str,
    kind: &'a str,
    at: String,
    changes: InventoryChanges,
}

impl Sync<'_> {
    /// The ids and digests of the objects the snapshot holds.
    fn known(&self) -> Result<BTreeMap<String, String>, StateError> {
        let mut stmt = self.tx.prepare(
            "SELECT id, digest FROM inventory WHERE tenant = ?1 AND kind = ?2 AND removed IS NULL",
        )?;
        let rows = stmt.query_map(params![self.tenant, self.kind], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps `object` as listed now; a change of history when it is new or differs.
    fn keep(&mut self, id: &str, object: &Value, was: Option<&String>) -> Result<(), StateError> {
        let (tenant, kind, at) = (self.tenant, self.kind, &self.at);
        let hash = digest(object);
        let change = match was {
            None => "added",
            Some(old) if *old != hash => "changed",
            Some(_) => {
                self.tx.execute(
                    "UPDATE inventory SET last_seen = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                    params![tenant, kind, id, at],
                )?;
                return Ok(());
            }
        };
        let body = object.to_string();
        self.tx.execute(
            "INSERT INTO inventory (tenant, kind, id, body, digest, first_seen, last_seen, removed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL)
             ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body, digest = excluded.digest, last_seen = excluded.last_seen, removed = NULL",
            params![tenant, kind, id, body, hash, at],
        )?;
        self.tx.execute(
            "INSERT INTO inventory_changes (tenant, kind, id, at, change, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![tenant, kind, id, at, change, body],
        )?;
        if change == "added" {
            self.changes.added += 1;
        } else {
            self.changes.changed += 1;
        }
        Ok(())
    }

    /// Marks `id` as no longer listed.
    fn remove(&mut self, id: &str) -> Result<(), StateError> {
        let (tenant, kind, at) = (self.tenant, self.kind, &self.at);
        self.tx.execute(
            "UPDATE inventory SET removed = ?4 WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
            params![tenant, kind, id, at],
        )?;
        self.tx.execute(
            "INSERT INTO inventory_changes (tenant, kind, id, at, change, body) VALUES (?1, ?2, ?3, ?4, 'removed', NULL)",
            params![tenant, kind, id, at],
        )?;
        self.changes.removed += 1;
        Ok(())
    }

    /// Records the listing (and where the next delta round starts, or that none does).
    fn finish(mut self, delta_link: Option<&str>) -> Result<InventoryChanges, StateError> {
        let (tenant, kind, at) = (self.tenant, self.kind, &self.at);
        let listed: i64 = self.tx.query_row(
            "SELECT count(*) FROM inventory WHERE tenant = ?1 AND kind = ?2 AND removed IS NULL",
            params![tenant, kind],
            |r| r.get(0),
        )?;
        self.changes.listed = listed as usize;
        self.tx.execute(
            "INSERT INTO inventory_syncs (tenant, kind, at, listed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, kind) DO UPDATE SET at = excluded.at, listed = excluded.listed",
            params![tenant, kind, at, listed],
        )?;
        match delta_link {
            Some(link) => self.tx.execute(
                "INSERT INTO inventory_delta (tenant, kind, link, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, kind) DO UPDATE SET link = excluded.link, at = excluded.at",
                params![tenant, kind, link, at],
            )?,
            None => self.tx.execute(
                "DELETE FROM inventory_delta WHERE tenant = ?1 AND kind = ?2",
                params![tenant, kind],
            )?,
        };
        Ok(self.changes)
    }
}

impl SqliteState {
    /// Replaces `tenant`'s snapshot of `kind` with a complete listing (`objects`, each with an
    /// `id`), recording each difference in the change history at `at`, and keeps where the next
    /// delta round starts (`delta_link`, when the listing was a delta query's first round). An
    /// object without an id is refused whole.
    pub fn sync_inventory(
        &self,
        tenant: &str,
        kind: &str,
        objects: &[Value],
        at: DateTime<Utc>,
        delta_link: Option<&str>,
    ) -> Result<InventoryChanges, StateError> {
        let mut listed = BTreeMap::new();
        for o in objects {
            listed.insert(id_of(kind, o)?, o);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut sync = Sync {
            tx: &tx,
            tenant,
            kind,
            at: at.rfc3339_millis(),
            changes: InventoryChanges::default(),
        };
        let known = sync.known()?;
        for (id, object) in &listed {
            sync.keep(id, object, known.get(*id))?;
        }
        let gone: BTreeSet<&String> = known
            .keys()
            .filter(|id| !listed.contains_key(id.as_str()))
            .collect();
        for id in gone {
            sync.remove(id)?;
        }
        let changes = sync.finish(delta_link)?;
        tx.commit()?;
        Ok(changes)
    }

    /// Applies a delta round to `tenant`'s snapshot of `kind`: each changed object's
    /// properties over the ones kept (Graph may send only those that changed; an object can
    /// come more than once, the last wins), each removed id (`@removed`) dropped, and
    /// `delta_link` kept for the next round — in one transaction.
    pub fn apply_inventory_delta(
        &self,
        tenant: &str,
        kind: &str,
        changed: &[Value],
        removed: &[String],
        at: DateTime<Utc>,
        delta_link: &str,
    ) -> Result<InventoryChanges, StateError> {
        let mut merged: BTreeMap<&str, Value> = BTreeMap::new();
        for o in changed {
            let id = id_of(kind, o)?;
            let entry = merged
                .entry(id)
                .or_insert_with(|| Value::Object(Default::default()));
            if let (Value::Object(into), Value::Object(from)) = (entry, o) {
                into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut sync = Sync {
            tx: &tx,
            tenant,
            kind,
            at: at.rfc3339_millis(),
            changes: InventoryChanges::default(),
        };
        let known = sync.known()?;
        for (id, mut object) in merged {
            if known.contains_key(id) {
                let body: String = tx.query_row(
                    "SELECT body FROM inventory WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                    params![tenant, kind, id],
                    |r| r.get(0),
                )?;
                if let (Ok(Value::Object(mut kept)), Value::Object(new)) =
                    (serde_json::from_str::<Value>(&body), &object)
                {
                    kept.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
                    object = Value::Object(kept);
                }
            }
            sync.keep(id, &object, known.get(id))?;
        }
        for id in removed.iter().filter(|id| known.contains_key(id.as_str())) {
            sync.remove(id)?;
        }
        let changes = sync.finish(Some(delta_link))?;
        tx.commit()?;
        Ok(changes)
    }

    /// Where the next delta round of `tenant`'s `kind` starts, when one is kept.
    pub fn inventory_delta_link(
        &self,
        tenant: &str,
        kind: &str,
    ) -> Result<Option<String>, StateError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT link FROM inventory_delta WHERE tenant = ?1 AND kind = ?2",
                params![tenant, kind],
                |r| r.get(0),
            )
            .optional()?)
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
