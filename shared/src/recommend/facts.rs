//! What the rules read, gathered once per tenant and evaluation from the embedded store: the
//! directory inventory, the credentials with their last use and the apps' last sign-ins (the
//! Usage & insights reports' own answers, so a recommendation never disagrees with the report
//! behind it), how far back the tenant's sign-ins reach, and the sign-ins a rule looks at.

use crate::clock::Timestamp;
use crate::model::Category;
use crate::query::params::{Common, Format, KqlTables, MAX_LIMIT};
use crate::query::{Answer, finish, questions, run_embedded};
use crate::state::{SqliteState, StateError, embedded::tenant_column};
use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value as Sql;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How far back the reports behind the rules read: a year.
const LOOKBACK_DAYS: i64 = 366;

/// A credential of an app registration or service principal (the `app-credentials` report).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub key_id: String,
    /// `clientSecret` or `certificate`.
    pub key_type: String,
    /// `sign` or `verify`.
    pub usage: String,
    /// `application` or `servicePrincipal`.
    pub origin: String,
    pub app_id: String,
    pub display_name: String,
    /// The object carrying it (the application's or the service principal's id).
    pub object_id: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Its last use in our logs of the lookback.
    pub last_used: Option<DateTime<Utc>>,
    /// Its last use in Microsoft's report (all history), where collected.
    pub microsoft_last_used: Option<DateTime<Utc>>,
}

/// A user's sign-ins of one kind in the window looked at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Uses {
    pub user_principal_name: String,
    pub count: u64,
    pub last: String,
    /// The client apps (legacy ones) or apps used.
    pub clients: BTreeSet<String>,
}

/// Everything the rules read about one tenant at `now`.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub tenant: String,
    pub now: DateTime<Utc>,
    /// The inventory kinds listed at least once, by name.
    pub inventory: BTreeMap<String, Vec<Value>>,
    pub credentials: Vec<Credential>,
    /// Each application id's last sign-in in any role in our logs.
    pub app_sign_ins: BTreeMap<String, DateTime<Utc>>,
    /// Each application id's last sign-in in Microsoft's report, when collected (it covers all
    /// history; an app it does not list never signed in).
    pub microsoft_app_sign_ins: Option<BTreeMap<String, DateTime<Utc>>>,
    /// Microsoft's credential report was collected.
    pub microsoft_credentials: bool,
    /// The oldest sign-in (of any kind) held for the tenant: how far our logs reach.
    pub sign_ins_since: Option<DateTime<Utc>>,
    /// Per user id: successful interactive sign-ins with single-factor authentication in the
    /// sign-in window.
    pub single_factor: BTreeMap<String, Uses>,
    /// Per user id: sign-ins (interactive or not, any result) by legacy-authentication clients
    /// in the sign-in window.
    pub legacy: BTreeMap<String, Uses>,
    /// Per user id: the last successful sign-in (interactive or not) in our logs of the
    /// lookback.
    pub user_sign_ins: BTreeMap<String, DateTime<Utc>>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn text(v: &Value) -> String {
    crate::query::text(v)
}

impl Facts {
    /// Whether our sign-ins reach back `days` before now (a rule about a quiet period needs
    /// the whole period).
    pub fn logs_cover(&self, days: i64) -> bool {
        self.sign_ins_since
            .is_some_and(|s| s <= self.now - Duration::days(days))
    }

    /// The objects of an inventory kind, or None when it was never listed.
    pub fn kind(&self, name: &str) -> Option<&[Value]> {
        self.inventory.get(name).map(Vec::as_slice)
    }

    /// How many days our sign-ins reach back, for a rule saying why it cannot judge.
    pub fn logs_days(&self) -> i64 {
        self.sign_ins_since
            .map_or(0, |s| (self.now - s).num_days().max(0))
    }

    /// Gathers `tenant`'s facts from `store` at `now`.
    pub fn gather(
        store: &SqliteState,
        tenant: &str,
        now: DateTime<Utc>,
        sign_in_days: i64,
    ) -> Result<Facts, StateError> {
        let mut facts = Facts {
            tenant: tenant.to_string(),
            now,
            ..Default::default()
        };
        for kind in crate::pipeline::inventory::KINDS {
            if store.inventory_synced(tenant, kind.name)?.is_some() {
                facts
                    .inventory
                    .insert(kind.name.to_string(), store.inventory(tenant, kind.name)?);
            }
        }
        let from = now - Duration::days(LOOKBACK_DAYS);
        let credentials = report(store, tenant, "app-credentials", &[], from, now)?;
        facts.microsoft_credentials = facts
            .inventory
            .contains_key("appCredentialSignInActivities");
        facts.credentials = credentials
            .iter()
            .map(|r| Credential {
                key_id: text(&r["key_id"]),
                key_type: text(&r["key_type"]),
                usage: text(&r["key_usage"]),
                origin: text(&r["credential_origin"]),
                app_id: text(&r["app_id"]),
                display_name: text(&r["display_name"]),
                object_id: if r["credential_origin"] == "application" {
                    text(&r["app_object_id"])
                } else {
                    text(&r["service_principal_object_id"])
                },
                start: time(&r["created"]),
                end: time(&r["expires"]),
                last_used: time(&r["last_used"]),
                microsoft_last_used: time(&r["microsoft_last_used"]),
            })
            .collect();
        let mut microsoft = BTreeMap::new();
        for r in report(store, tenant, "service-principal-sign-ins", &[], from, now)? {
            let (app, Some(last)) = (text(&r["app_id"]), time(&r["last_sign_in"])) else {
                continue;
            };
            let into = if r["source"] == "microsoft" {
                &mut microsoft
            } else {
                &mut facts.app_sign_ins
            };
            let e = into.entry(app).or_insert(last);
            *e = (*e).max(last);
        }
        if facts
            .inventory
            .contains_key("servicePrincipalSignInActivities")
        {
            facts.microsoft_app_sign_ins = Some(microsoft);
        }
        facts.sign_ins_since = oldest_sign_in(store, tenant)?;
        let window = now - Duration::days(sign_in_days);
        facts.single_factor = uses(
            store,
            tenant,
            &[Category::SignInLogs],
            "\"ResultType\" = '0' AND \"AuthenticationRequirement\" = 'singleFactorAuthentication'",
            "\"AppDisplayName\"",
            window,
            now,
        )?;
        let legacy = crate::detect::signals::LEGACY_CLIENT_APPS
            .iter()
            .map(|c| format!("'{}'", c.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        facts.legacy = uses(
            store,
            tenant,
            &[Category::SignInLogs, Category::NonInteractiveUserSignInLogs],
            &format!("\"ClientAppUsed\" IN ({legacy})"),
            "\"ClientAppUsed\"",
            window,
            now,
        )?;
        facts.user_sign_ins = uses(
            store,
            tenant,
            &[Category::SignInLogs, Category::NonInteractiveUserSignInLogs],
            "\"ResultType\" = '0'",
            "''",
            from,
            now,
        )?
        .into_iter()
        .filter_map(|(user, u)| Some((user, time(&Value::String(u.last))?)))
        .collect();
        Ok(facts)
    }
}

/// Every row of a report's answer (all pages), as objects keyed by column.
fn report(
    store: &SqliteState,
    tenant: &str,
    name: &str,
    pairs: &[(&str, &str)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<serde_json::Map<String, Value>>, StateError> {
    let q = questions::ask(name, pairs)
        .map_err(|e| StateError::Corrupt(format!("{name}: {}", e.message)))?;
    let mut c = Common {
        tenant: Some(tenant.into()),
        from,
        to,
        limit: MAX_LIMIT,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: KqlTables::Entra,
    };
    let mut out = Vec::new();
    loop {
        let plan = q.plan(tenant, &c);
        let rows = run_embedded(store, &plan)?;
        let answer: Answer = finish(&*q, &plan, &c, rows);
        out.extend(answer.rows.iter().map(|r| {
            answer
                .columns
                .iter()
                .cloned()
                .zip(r.iter().cloned())
                .collect::<serde_json::Map<_, _>>()
        }));
        match answer.next_offset {
            Some(next) if next > c.offset => c.offset = next,
            _ => return Ok(out),
        }
    }
}

/// The oldest user or service principal sign-in held for `tenant`.
fn oldest_sign_in(store: &SqliteState, tenant: &str) -> Result<Option<DateTime<Utc>>, StateError> {
    let mut oldest: Option<DateTime<Utc>> = None;
    for category in [
        Category::SignInLogs,
        Category::NonInteractiveUserSignInLogs,
        Category::ServicePrincipalSignInLogs,
        Category::ManagedIdentitySignInLogs,
    ] {
        let rows = store.query_rows(
            &format!(
                "SELECT MIN(\"TimeGenerated\") FROM \"{}\" WHERE \"{}\" = ?",
                category.table(),
                tenant_column(category)
            ),
            &[Sql::Text(tenant.into())],
        )?;
        if let Some(t) = rows.first().and_then(|r| time(&r[0])) {
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
        }
    }
    Ok(oldest)
}

/// Per user id, the sign-ins of `categories` in `[from, to]` matching `condition`: how many,
/// the last, and the distinct values of `client` among them.
fn uses(
    store: &SqliteState,
    tenant: &str,
    categories: &[Category],
    condition: &str,
    client: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<String, Uses>, StateError> {
    let mut out: BTreeMap<String, Uses> = BTreeMap::new();
    for category in categories {
        let rows = store.query_rows(
            &format!(
                "SELECT \"UserId\", MAX(\"UserPrincipalName\"), COUNT(*), MAX(\"TimeGenerated\"), group_concat(DISTINCT {client}) \
                 FROM \"{}\" WHERE \"{}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" <= ? AND {condition} \
                 AND COALESCE(\"UserId\", '') != '' GROUP BY 1",
                category.table(),
                tenant_column(*category)
            ),
            &[
                Sql::Text(tenant.into()),
                Sql::Text(from.rfc3339_millis()),
                Sql::Text(to.rfc3339_millis()),
            ],
        )?;
        for r in rows {
            let e = out.entry(text(&r[0])).or_default();
            e.user_principal_name = text(&r[1]);
            e.count += crate::query::int(&r[2]).max(0) as u64;
            let last = text(&r[3]);
            if last > e.last {
                e.last = last;
            }
            e.clients.extend(
                text(&r[4])
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from),
            );
        }
    }
    Ok(out)
}
