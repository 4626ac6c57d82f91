//! Risky users, derived from the detections, the password resets in the audit log and the
//! actions people took: each user's level (none / low / medium / high), state (atRisk,
//! confirmedCompromised, dismissed, remediated) and history. The latest event decides: a new
//! detection puts a user at risk again; a later secure password reset remediates; a person's
//! dismissal or confirmation stands until the next detection.

use super::RiskLevel;
use crate::state::RiskStore;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskyUser {
    pub user: String,
    pub level: RiskLevel,
    pub state: &'static str,
    pub updated: DateTime<Utc>,
    /// Detections, resets and actions, oldest first.
    pub history: Vec<Value>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `detections`: rows of [`crate::state::SqliteState::risk_detections`] (plus Microsoft's in the
/// same columns); `resets`: (user, time); `actions`: (user, action, actor, reason, at).
pub fn risky_users(
    detections: &[Vec<Value>],
    resets: &[Vec<Value>],
    actions: &[Vec<Value>],
) -> Vec<RiskyUser> {
    // (time, order, event) per user; order breaks ties: detection, reset, action.
    let mut events: BTreeMap<String, Vec<(DateTime<Utc>, u8, Value)>> = BTreeMap::new();
    for d in detections {
        let (Some(user), Some(t)) = (d[3].as_str(), time(&d[5])) else {
            continue;
        };
        events.entry(user.to_ascii_lowercase()).or_default().push((
            t,
            0,
            json!({ "event": "detection", "source": d[0], "name": d[1], "risk_level": d[2], "at": d[5], "evidence": d[7], "state": d.get(9) }),
        ));
    }
    let users: Vec<String> = events.keys().cloned().collect();
    for r in resets {
        let (Some(user), Some(t)) = (r[0].as_str(), time(&r[1])) else {
            continue;
        };
        if let Some(list) = events.get_mut(user) {
            list.push((t, 1, json!({ "event": "passwordReset", "at": r[1] })));
        }
    }
    for a in actions {
        let (Some(user), Some(t)) = (a[0].as_str(), time(&a[4])) else {
            continue;
        };
        if let Some(list) = events.get_mut(user) {
            list.push((
                t,
                2,
                json!({ "event": a[1], "actor": a[2], "reason": a[3], "at": a[4] }),
            ));
        }
    }
    let mut out = Vec::new();
    for user in users {
        let mut list = events.remove(&user).unwrap_or_default();
        list.sort_by_key(|e| (e.0, e.1));
        let (mut level, mut state, mut updated) =
            (RiskLevel::None, "none", DateTime::<Utc>::MIN_UTC);
        for (t, _, e) in &list {
            match e["event"].as_str().unwrap_or("") {
                "detection" => {
                    // Microsoft's `hidden` (and anything unknown) counts as low.
                    let l = e["risk_level"]
                        .as_str()
                        .and_then(|l| l.parse::<RiskLevel>().ok())
                        .filter(|l| *l != RiskLevel::None)
                        .unwrap_or(RiskLevel::Low);
                    // A detection Microsoft already closed (the user reset their password, an
                    // admin dismissed it) does not put the user at risk: it says how it ended.
                    let closed = match e["state"].as_str() {
                        Some("remediated") => Some("remediated"),
                        Some("dismissed" | "confirmedSafe") => Some("dismissed"),
                        _ => None,
                    };
                    if let Some(closed) = closed {
                        if state != "atRisk" {
                            (state, level) = (closed, RiskLevel::None);
                        }
                        updated = *t;
                        continue;
                    }
                    // At risk already: the highest level stands; otherwise this one.
                    if state != "atRisk" || l > level {
                        level = l;
                    }
                    state = "atRisk";
                }
                "passwordReset" if state == "atRisk" => {
                    state = "remediated";
                    level = RiskLevel::None;
                }
                "dismiss" => {
                    state = "dismissed";
                    level = RiskLevel::None;
                }
                "confirmCompromised" => {
                    state = "confirmedCompromised";
                    level = RiskLevel::High;
                }
                _ => continue,
            }
            updated = *t;
        }
        out.push(RiskyUser {
            user,
            level,
            state,
            updated,
            history: list.into_iter().map(|(_, _, e)| e).collect(),
        });
    }
    out.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.user.cmp(&b.user)));
    out
}

/// A tenant's risky users as of `now`, from what the store holds within the retention: our
/// detections and Microsoft's, password resets, and people's actions.
pub fn current(
    store: &crate::state::SqliteState,
    tenant: &str,
    now: DateTime<Utc>,
    retention: chrono::Duration,
) -> Result<Vec<RiskyUser>, crate::state::StateError> {
    let from = now - retention;
    let mut detections = store.risk_detections(tenant, from, now)?;
    detections.extend(store.microsoft_detections(tenant, from, now)?);
    let resets = store.password_resets(tenant, from)?;
    let actions = store.risk_actions(tenant)?;
    Ok(risky_users(&detections, &resets, &actions))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(user: &str, level: &str, at: &str) -> Vec<Value> {
        vec![
            json!("entra-monitor"),
            json!("bruteForce"),
            json!(level),
            json!(user),
            json!(null),
            json!(at),
            json!(at),
            json!("8 failures"),
            json!([]),
            json!("atRisk"),
        ]
    }

    #[test]
    fn the_latest_event_decides_the_state() {
        let d = [
            det("a@x", "medium", "2026-11-20T10:00:00.000Z"),
            det("b@x", "high", "2026-11-20T11:00:00.000Z"),
            det("c@x", "medium", "2026-11-20T12:00:00.000Z"),
        ];
        let resets = [vec![json!("a@x"), json!("2026-11-20T13:00:00.000Z")]];
        let actions = [
            vec![
                json!("b@x"),
                json!("dismiss"),
                json!("ops"),
                json!("known pen test"),
                json!("2026-11-20T14:00:00.000Z"),
            ],
            vec![
                json!("c@x"),
                json!("confirmCompromised"),
                json!("ops"),
                json!("phished"),
                json!("2026-11-20T14:00:00.000Z"),
            ],
        ];
        let users = risky_users(&d, &resets, &actions);
        let get = |u: &str| users.iter().find(|r| r.user == u).unwrap();
        assert_eq!(
            (get("a@x").state, get("a@x").level),
            ("remediated", RiskLevel::None)
        );
        assert_eq!(
            (get("b@x").state, get("b@x").level),
            ("dismissed", RiskLevel::None)
        );
        assert_eq!(
            (get("c@x").state, get("c@x").level),
            ("confirmedCompromised", RiskLevel::High)
        );
        assert_eq!(get("b@x").history.len(), 2);
        // A new detection after a dismissal puts the user at risk again.
        let again = [
            d[1].clone(),
            det("b@x", "medium", "2026-11-21T09:00:00.000Z"),
        ];
        let users = risky_users(&again, &[], &actions[..1]);
        assert_eq!(
            (users[0].state, users[0].level),
            ("atRisk", RiskLevel::Medium)
        );
    }
}
