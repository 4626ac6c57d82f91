//! What an alert says about itself, in figures a person can check against the sign-ins: the
//! rows its signal counts in the episode's window broken down by error code, app, user and
//! location, each against the same window of the weeks before (the baseline); who and what was
//! impacted (counts and up to ten samples); and the audited changes to policies, apps, the
//! directory and devices just before and during it (a Conditional Access policy updated
//! minutes before a block spike).

use crate::clock::Timestamp;
use crate::model::Category;
use crate::query::questions::{counted_rows, key_condition};
use crate::state::{SqliteState, StateError, embedded::tenant_column};
use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};

/// The longest stretch of an episode broken down (an incident's start explains it).
pub const WINDOW: Duration = Duration::hours(4);
/// The weeks before the episode whose same window is the baseline.
pub const BASELINE_WEEKS: i64 = 4;
/// How long before the episode audited changes are looked for.
pub const AUDIT_LEAD: Duration = Duration::hours(2);
/// Values shown per dimension, audit events, impacted samples.
pub const TOP: usize = 5;
pub const AUDITS: usize = 10;
pub const SAMPLES: usize = 10;

/// The dimensions broken down: the name shown, the column.
const DIMENSIONS: [(&str, &str); 4] = [
    ("errorCodes", "\"ResultType\""),
    ("apps", "\"AppDisplayName\""),
    ("users", "\"UserPrincipalName\""),
    ("locations", "\"Location\""),
];

/// The audit categories that change who can sign in to what, for everyone or for an app:
/// policies (Conditional Access, authentication methods), apps and service principals, the
/// directory's settings, devices. A user's own changes (a password reset) explain no incident.
const AUDITED: [&str; 4] = [
    "Policy",
    "ApplicationManagement",
    "DirectoryManagement",
    "Device",
];

/// What is broken down: a scenario's counted sign-ins (of one app, or one policy, for the
/// keyed signals).
pub struct Subject<'a> {
    pub tenant: &'a str,
    pub scenario: &'a str,
    /// The key of a keyed signal: the app's id, or the policy's.
    pub app: Option<&'a str>,
    /// The episode: `[from, until)`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Whether the signal fell (a dip): the changes shown are the largest falls.
    pub dip: bool,
}

/// The counted rows of `s` over the window `k` weeks before (k = 0 the episode), as SQL legs
/// selecting `column AS d, k` with their parameters.
fn legs(s: &Subject, select: &str, weeks: i64) -> Option<(String, Vec<Sql>)> {
    let (categories, condition) = counted_rows(s.scenario)?;
    let mut sql = Vec::new();
    let mut params = Vec::new();
    let k = (0..=weeks)
        .map(|k| {
            format!(
                "WHEN \"TimeGenerated\" >= '{}' AND \"TimeGenerated\" < '{}' THEN {k}",
                (s.from - Duration::weeks(k)).rfc3339_millis(),
                (s.until - Duration::weeks(k)).rfc3339_millis()
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let key = match (s.app, key_condition(s.scenario)) {
        (Some(_), Some(condition)) => format!(" AND {condition}"),
        _ => String::new(),
    };
    for c in categories {
        let app = &key;
        sql.push(format!(
            "SELECT {select}, CASE {k} END AS k FROM \"{}\" WHERE \"{}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" < ? AND {condition}{app}",
            c.table(),
            tenant_column(c)
        ));
        params.push(Sql::Text(s.tenant.into()));
        params.push(Sql::Text(
            (s.from - Duration::weeks(weeks)).rfc3339_millis(),
        ));
        params.push(Sql::Text(s.until.rfc3339_millis()));
        if let Some(app) = s.app {
            params.push(Sql::Text(app.into()));
        }
    }
    Some((sql.join(" UNION ALL "), params))
}

/// The display name of Conditional Access policy `id` in `tenant`'s sign-ins of `[from, until)`.
pub fn policy_name(
    store: &SqliteState,
    tenant: &str,
    id: &str,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Option<String>, StateError> {
    let c = Category::SignInLogs;
    let rows = store.query_rows(
        &format!(
            "SELECT json_extract(p.value, '$.displayName') FROM \"{}\", json_each(\"ConditionalAccessPolicies\") AS p \
             WHERE \"{}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" < ? AND json_extract(p.value, '$.id') = ? LIMIT 1",
            c.table(),
            tenant_column(c)
        ),
        &[
            Sql::Text(tenant.into()),
            Sql::Text(from.rfc3339_millis()),
            Sql::Text(until.rfc3339_millis()),
            Sql::Text(id.into()),
        ],
    )?;
    Ok(rows.first().and_then(|r| r[0].as_str()).map(str::to_string))
}

/// The oldest interactive sign-in of `tenant`, if any: where its history begins.
pub fn oldest_sign_in(
    store: &SqliteState,
    tenant: &str,
) -> Result<Option<DateTime<Utc>>, StateError> {
    let c = Category::SignInLogs;
    let rows = store.query_rows(
        &format!(
            "SELECT MIN(\"TimeGenerated\") FROM \"{}\" WHERE \"{}\" = ?",
            c.table(),
            tenant_column(c)
        ),
        &[Sql::Text(tenant.into())],
    )?;
    Ok(rows
        .first()
        .and_then(|r| r[0].as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// The weeks of baseline the store holds (windows before its oldest sign-in are not zeros).
fn baseline_weeks(store: &SqliteState, s: &Subject) -> Result<i64, StateError> {
    let oldest = oldest_sign_in(store, s.tenant)?;
    Ok((1..=BASELINE_WEEKS)
        .take_while(|k| oldest.is_some_and(|o| o <= s.from - Duration::weeks(*k)))
        .count() as i64)
}

/// One dimension: the values that changed most, `{value, observed, expected, change}`.
fn breakdown(
    store: &SqliteState,
    s: &Subject,
    column: &str,
    weeks: i64,
) -> Result<Vec<Value>, StateError> {
    let Some((legs, params)) = legs(
        s,
        &format!("COALESCE(NULLIF({column}, ''), '(none)') AS d"),
        weeks,
    ) else {
        return Ok(Vec::new());
    };
    let rows = store.query_rows(
        &format!("SELECT d, SUM(k = 0), SUM(k > 0) FROM ({legs}) WHERE k IS NOT NULL GROUP BY d"),
        &params,
    )?;
    let mut changes: Vec<(f64, Value)> = rows
        .iter()
        .map(|r| {
            let observed = crate::query::int(&r[1]);
            let before = crate::query::int(&r[2]) as f64;
            let expected = if weeks > 0 { before / weeks as f64 } else { 0.0 };
            let change = observed as f64 - expected;
            let rank = if s.dip { -change } else { change };
            let round = |x: f64| (x * 10.0).round() / 10.0;
            (
                rank,
                json!({"value": r[0], "observed": observed, "expected": round(expected), "change": round(change)}),
            )
        })
        .filter(|(rank, _)| *rank > 0.0)
        .collect();
    changes.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1["value"].to_string().cmp(&b.1["value"].to_string()))
    });
    Ok(changes.into_iter().take(TOP).map(|(_, v)| v).collect())
}

/// The users and apps the episode's counted sign-ins touched: counts and samples, in Graph's
/// `impacts` shape.
fn impacts(store: &SqliteState, s: &Subject) -> Result<Value, StateError> {
    let mut out = Vec::new();
    for (column, kind, resource) in [
        ("\"UserId\"", "userImpactSummary", "user"),
        ("\"AppId\"", "applicationImpactSummary", "application"),
    ] {
        let Some((legs, params)) = legs(s, &format!("{column} AS d"), 0) else {
            continue;
        };
        let rows = store.query_rows(
            &format!(
                "SELECT d FROM ({legs}) WHERE k = 0 AND d IS NOT NULL AND d != '' GROUP BY d ORDER BY COUNT(*) DESC, d"
            ),
            &params,
        )?;
        out.push(json!({
            "@odata.type": format!("#microsoft.graph.healthMonitoring.{kind}"),
            "resourceType": resource,
            "impactedCount": rows.len().to_string(),
            "impactedCountLimitExceeded": false,
            "resourceSampling": rows.iter().take(SAMPLES).map(|r| json!({"id": r[0]})).collect::<Vec<_>>(),
        }));
    }
    Ok(Value::Array(out))
}

/// The audited changes from [`AUDIT_LEAD`] before the episode to its end, newest first.
fn audits(store: &SqliteState, s: &Subject) -> Result<Vec<Value>, StateError> {
    let c = Category::AuditLogs;
    let categories = AUDITED.map(|a| format!("'{a}'")).join(", ");
    let rows = store.query_rows(
        &format!(
            "SELECT \"TimeGenerated\", \"OperationName\", \"Category\", \
             COALESCE(json_extract(\"InitiatedBy\", '$.user.userPrincipalName'), json_extract(\"InitiatedBy\", '$.app.displayName')), \
             COALESCE(json_extract(\"TargetResources\", '$[0].displayName'), json_extract(\"TargetResources\", '$[0].userPrincipalName')), \"Result\" \
             FROM \"{}\" WHERE \"{}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" < ? AND \"Category\" IN ({categories}) \
             ORDER BY \"TimeGenerated\" DESC LIMIT {AUDITS}",
            c.table(),
            tenant_column(c)
        ),
        &[
            Sql::Text(s.tenant.into()),
            Sql::Text((s.from - AUDIT_LEAD).rfc3339_millis()),
            Sql::Text(s.until.rfc3339_millis()),
        ],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            json!({"activityDateTime": r[0], "activityDisplayName": r[1], "category": r[2],
                   "initiatedBy": r[3], "target": r[4], "result": r[5]})
        })
        .collect())
}

/// The explanation of an episode: `{changes: {errorCodes, apps, users, locations}, baseline,
/// auditEvents}` and the impacts (Graph's `enrichment.impacts`).
pub fn explain(store: &SqliteState, s: &Subject) -> Result<(Value, Value), StateError> {
    let s = Subject {
        until: s.until.min(s.from + WINDOW),
        ..*s
    };
    let weeks = baseline_weeks(store, &s)?;
    let mut changes = serde_json::Map::new();
    for (name, column) in DIMENSIONS {
        changes.insert(
            name.into(),
            Value::Array(breakdown(store, &s, column, weeks)?),
        );
    }
    let explanation = json!({
        "window": {"from": s.from.rfc3339_millis(), "to": s.until.rfc3339_millis()},
        "baseline": format!("the same window in each of the {weeks} weeks before, averaged"),
        "changes": changes,
        "auditEvents": audits(store, &s)?,
    });
    Ok((explanation, impacts(store, &s)?))
}

/// One sentence naming the likeliest cause: the top change of each dimension, and the audited
/// policy change (or change to an app that moved) from before the episode to its end.
pub fn summary(headline: &str, explanation: &Value) -> String {
    let mut parts = vec![headline.to_string()];
    let top = |name: &str| explanation["changes"][name].get(0).cloned();
    let label = [
        ("errorCodes", "error code"),
        ("apps", "app"),
        ("locations", "location"),
    ];
    for (name, what) in label {
        if let Some(t) = top(name) {
            let value = t["value"]
                .as_str()
                .map_or_else(|| t["value"].to_string(), str::to_string);
            parts.push(format!(
                "{what} {value}: {} against {} expected",
                t["observed"], t["expected"]
            ));
        }
    }
    // A policy changed, or a change to an app among those that moved.
    let list = |name: &str| explanation[name].as_array().cloned().unwrap_or_default();
    let events = list("auditEvents");
    let apps = explanation["changes"]["apps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let cause = events
        .iter()
        .find(|e| e["category"] == "Policy")
        .or_else(|| {
            events
                .iter()
                .find(|e| apps.iter().any(|a| a["value"] == e["target"]))
        });
    if let Some(e) = cause {
        parts.push(format!(
            "audited change: \"{}\" on \"{}\" by {} at {}",
            e["activityDisplayName"].as_str().unwrap_or_default(),
            e["target"].as_str().unwrap_or_default(),
            e["initiatedBy"].as_str().unwrap_or("unknown"),
            e["activityDateTime"].as_str().unwrap_or_default()
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(audits: Value) -> Value {
        json!({
            "changes": {
                "errorCodes": [{"value": "53003", "observed": 80, "expected": 2.0}],
                "apps": [{"value": "Salesforce", "observed": 80, "expected": 2.0}],
                "locations": [],
            },
            "auditEvents": audits,
        })
    }

    #[test]
    fn the_summary_names_the_code_the_app_and_a_policy_change() {
        let policy = json!({"activityDateTime": "2026-11-24T09:58:00.000Z", "category": "Policy",
            "activityDisplayName": "Update conditional access policy", "target": "Block Finance",
            "initiatedBy": "admin@contoso.example"});
        let device = json!({"activityDateTime": "2026-11-24T09:59:00.000Z", "category": "Device",
            "activityDisplayName": "Update device", "target": "LAPTOP-1", "initiatedBy": "intune"});
        let s = summary("spike", &explained(json!([device, policy])));
        assert!(
            s.starts_with("spike; error code 53003: 80 against 2.0 expected; app Salesforce"),
            "{s}"
        );
        assert!(
            s.ends_with("audited change: \"Update conditional access policy\" on \"Block Finance\" by admin@contoso.example at 2026-11-24T09:58:00.000Z"),
            "{s}"
        );
    }

    #[test]
    fn an_unrelated_change_is_not_named_as_the_cause() {
        let device = json!({"activityDateTime": "2026-11-24T09:59:00.000Z", "category": "Device",
            "activityDisplayName": "Update device", "target": "LAPTOP-1", "initiatedBy": "intune"});
        let app = json!({"activityDateTime": "2026-11-24T09:57:00.000Z", "category": "ApplicationManagement",
            "activityDisplayName": "Update service principal", "target": "Salesforce", "initiatedBy": "admin@contoso.example"});
        assert!(!summary("x", &explained(json!([device.clone()]))).contains("audited"));
        let s = summary("x", &explained(json!([device, app])));
        assert!(
            s.contains("audited change: \"Update service principal\" on \"Salesforce\""),
            "{s}"
        );
    }
}
