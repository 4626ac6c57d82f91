//! Tenant health, scenario signals: what Microsoft Entra Health aggregates every 15 minutes
//! (`/beta/reports/serviceActivity/getMetricsFor…`), recomputed from the collected sign-ins for
//! any tenant, late records included (the overlap re-reads them, and the signal is computed when
//! asked). The answer is Graph's shape — one `{intervalStartDateTime, value}` per interval of the
//! range, zero where nothing happened — at 5, 10, 15 (the default) or 30 minutes.
//!
//! The scenarios, each as Microsoft defines it (reports.md §3.1) and how the logs say it:
//! - `mfaSignInSuccess`: successful interactive sign-ins that required MFA and completed it with
//!   the Entra MFA service's own methods (app notification, OATH code, text message, phone call;
//!   not a previously satisfied claim, not a passwordless method);
//! - `mfaSignInFailure`: sign-ins failing MFA (error 500121), interactive and non-interactive, as
//!   the documented alert's supporting query reads them;
//! - `managedDeviceSignInSuccess` / `compliantDeviceSignInSuccess`: successful sign-ins that
//!   satisfied a Conditional Access policy granting on a domain-joined (`RequireDomainJoinedDevice`)
//!   or compliant (`RequireCompliantDevice`) device; `…Failure`: the sign-ins those policies
//!   refused (53001, 53000);
//! - `samlSignInSuccess`: successful SAML 2.0 sign-ins (`AuthenticationProtocol` `saml20`);
//! - `conditionalAccessBlockedUsers`: the number of distinct users with a sign-in Conditional
//!   Access refused (`ConditionalAccessStatus` `failure`);
//! - `appSignInFailures` / `appSuccessfulUsers` (with `app`, an app's id or name): one app's
//!   failed interactive sign-ins (neither success nor one of the workbooks' interrupts, nor
//!   refused by Conditional Access) and its distinct successful users — the series of the *App
//!   sign-in health* workbook; `appSignIns`: its interactive sign-ins Conditional Access did not
//!   refuse, whatever their result (what its failure rate is a rate of);
//! - `policyBlockedUsers` (with `policy`, a Conditional Access policy's id or name): the
//!   distinct users one policy refused (its result `failure`) — ours, not Microsoft's: a tenant
//!   whose legacy clients are refused around the clock hides an office blocked by another
//!   policy in its total, and a policy disabled shows as that policy's users falling.

use super::build::{Builder, Plan, one_of};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use chrono::{DateTime, Duration, DurationRound, Utc};
use rusqlite::types::Value as Sql;
use serde_json::json;
use std::collections::BTreeMap;

/// The scenarios, as the `scenario` parameter names them.
pub const SCENARIOS: [&str; 12] = [
    "mfaSignInSuccess",
    "mfaSignInFailure",
    "managedDeviceSignInSuccess",
    "managedDeviceSignInFailure",
    "compliantDeviceSignInSuccess",
    "compliantDeviceSignInFailure",
    "samlSignInSuccess",
    "conditionalAccessBlockedUsers",
    "appSignInFailures",
    "appSuccessfulUsers",
    "appSignIns",
    "policyBlockedUsers",
];

/// The Entra MFA service's own methods, as sign-ins name the step.
pub const MFA_SERVICE_METHODS: [&str; 4] = [
    "Mobile app notification",
    "OATH verification code",
    "Text message",
    "Phone call",
];

const INTERVALS: [&str; 4] = ["5", "10", "15", "30"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "health-signals",
        description: "Tenant health: a scenario's signal (MFA, managed and compliant devices, SAML, users blocked by Conditional Access) per 5, 10, 15 or 30 minutes, recomputed from the sign-ins, in the shape of Graph's serviceActivity metrics.",
        trigger: Trigger::Http {
            route: "health/signals",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "scenario",
            required: true,
            description: "The signal: mfaSignInSuccess, mfaSignInFailure, managedDeviceSignInSuccess, managedDeviceSignInFailure, compliantDeviceSignInSuccess, compliantDeviceSignInFailure, samlSignInSuccess, conditionalAccessBlockedUsers, one app's appSignInFailures, appSuccessfulUsers or appSignIns (with app), or one Conditional Access policy's policyBlockedUsers (with policy).",
            example: "mfaSignInFailure",
            values: &SCENARIOS,
        },
        Param {
            name: "app",
            required: false,
            description: "The app (its id or display name) of appSignInFailures, appSuccessfulUsers and appSignIns.",
            example: "Microsoft Teams",
            values: &[],
        },
        Param {
            name: "policy",
            required: false,
            description: "The Conditional Access policy (its id or display name) of policyBlockedUsers.",
            example: "Block legacy authentication",
            values: &[],
        },
        Param {
            name: "interval",
            required: false,
            description: "Minutes per interval: 5, 10, 15 (the default) or 30.",
            example: "15",
            values: &INTERVALS,
        },
    ],
    default_days: 1,
};

#[derive(Debug)]
pub struct HealthSignals;

#[derive(Debug)]
struct Asking {
    scenario: &'static str,
    minutes: i64,
    /// Intervals start this many minutes after the clock's (the monitor's rolling windows).
    offset: i64,
    /// The app, or the policy, of a keyed scenario ([`keyed_by`]).
    app: Option<String>,
    /// Per app (`AppId`, or the policy's id) rather than for one: the health monitor's reading.
    by_app: bool,
    /// The monitor's rows: `(start, app, value, distinct users)`, the app empty unless `by_app`.
    monitor: bool,
}

impl Question for HealthSignals {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let scenario = one_of(q, "scenario", &SCENARIOS)?.ok_or_else(|| ParamError {
            parameter: "scenario".into(),
            message: format!("required; one of {}", SCENARIOS.join(", ")),
        })?;
        let scenario = SCENARIOS
            .iter()
            .find(|s| **s == scenario)
            .copied()
            .unwrap_or("");
        let minutes = one_of(q, "interval", &INTERVALS)?
            .and_then(|m| m.parse().ok())
            .unwrap_or(15);
        let mut app = None;
        for (key, what, scenarios) in [
            (
                "app",
                "an app's id or display name",
                "appSignInFailures, appSuccessfulUsers and appSignIns",
            ),
            (
                "policy",
                "a Conditional Access policy's id or display name",
                "policyBlockedUsers",
            ),
        ] {
            let given = crate::query::params::text(q, key)?;
            let keyed = keyed_by(scenario) == Some(key);
            if keyed != given.is_some() {
                return Err(ParamError {
                    parameter: key.into(),
                    message: if keyed {
                        format!("required with {scenario}: {what}")
                    } else {
                        format!("only for {scenarios}, not {scenario}")
                    },
                });
            }
            app = app.or(given);
        }
        Ok(Box::new(Asking {
            scenario,
            minutes,
            offset: 0,
            app,
            by_app: false,
            monitor: false,
        }))
    }
}

/// A policy grant satisfied, in SQL over the row's `ConditionalAccessPolicies` and in KQL.
fn granted(control: &str) -> (String, String) {
    (
        format!(
            "EXISTS (SELECT 1 FROM json_each(\"ConditionalAccessPolicies\") AS p, json_each(p.value, '$.enforcedGrantControls') AS g \
             WHERE json_extract(p.value, '$.result') = 'success' AND g.value = '{control}')"
        ),
        format!(
            "ConditionalAccessPolicies has {}\n| mv-apply p = todynamic(ConditionalAccessPolicies) on (summarize granted = countif(tostring(p.result) == \"success\" and p.enforcedGrantControls has {}))\n| where granted > 0",
            lit(control),
            lit(control)
        ),
    )
}

impl Asking {
    /// The scenario's condition on a row (SQL, KQL) and whether it counts distinct users.
    fn condition(&self) -> (String, String, bool) {
        let methods = MFA_SERVICE_METHODS
            .iter()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let kql_methods = MFA_SERVICE_METHODS
            .iter()
            .map(|m| lit(m))
            .collect::<Vec<_>>()
            .join(", ");
        let code = |c: &str| {
            (
                format!("\"ResultType\" = '{c}'"),
                format!("ResultType == {}", lit(c)),
                false,
            )
        };
        let ok = "\"ResultType\" = '0'";
        match self.scenario {
            "mfaSignInSuccess" => (
                format!(
                    "{ok} AND \"AuthenticationRequirement\" = 'multiFactorAuthentication' AND EXISTS (SELECT 1 FROM json_each(\"AuthenticationDetails\") AS d \
                     WHERE json_extract(d.value, '$.succeeded') = 1 AND json_extract(d.value, '$.authenticationMethod') IN ({methods}))"
                ),
                format!(
                    "ResultType == \"0\" and AuthenticationRequirement == \"multiFactorAuthentication\"\n| mv-apply d = todynamic(AuthenticationDetails) on (summarize mfa = countif(tobool(d.succeeded) and tostring(d.authenticationMethod) in ({kql_methods})))\n| where mfa > 0"
                ),
                false,
            ),
            "mfaSignInFailure" => code("500121"),
            "managedDeviceSignInFailure" => code("53001"),
            "compliantDeviceSignInFailure" => code("53000"),
            "managedDeviceSignInSuccess" | "compliantDeviceSignInSuccess" => {
                let control = if self.scenario.starts_with("managed") {
                    "RequireDomainJoinedDevice"
                } else {
                    "RequireCompliantDevice"
                };
                let (sql, kql) = granted(control);
                (
                    format!("{ok} AND {sql}"),
                    format!("ResultType == \"0\" and {kql}"),
                    false,
                )
            }
            "samlSignInSuccess" => (
                format!("{ok} AND \"AuthenticationProtocol\" = 'saml20'"),
                "ResultType == \"0\" and AuthenticationProtocol == \"saml20\"".into(),
                false,
            ),
            "appSuccessfulUsers" => (ok.into(), "ResultType == \"0\"".into(), true),
            // Every sign-in of the app Conditional Access did not refuse, whatever its result:
            // the failures' denominator. A refusal is the tenant's policy, not the app's health
            // (the policy signals watch those), and a mix of always-refused clients would move
            // the app's rate whenever people sign in less (a holiday).
            "appSignIns" => (NOT_REFUSED_SQL.into(), NOT_REFUSED_KQL.into(), false),
            "appSignInFailures" => {
                let (sql, kql) = super::build::lists(crate::query::codes::WORKBOOK_INTERRUPTS);
                (
                    format!(
                        "\"ResultType\" != '0' AND \"ResultType\" NOT IN ({sql}) AND {NOT_REFUSED_SQL}"
                    ),
                    format!("ResultType != \"0\" and ResultType !in ({kql}) and {NOT_REFUSED_KQL}"),
                    false,
                )
            }
            _ => (
                "\"ConditionalAccessStatus\" = 'failure'".into(),
                "ConditionalAccessStatus == \"failure\"".into(),
                true,
            ),
        }
    }
}

/// Not refused by Conditional Access (a missing status counts as not refused).
const NOT_REFUSED_SQL: &str = "\"ConditionalAccessStatus\" IS NOT 'failure'";
const NOT_REFUSED_KQL: &str = "ConditionalAccessStatus != \"failure\"";

impl Asking {
    /// One SQL leg per category read — `(interval, app, user)` rows, the app the policy's id
    /// for `policyBlockedUsers` (a row per policy that refused the sign-in) — with their
    /// parameters and each category's KQL lines.
    fn legs(
        &self,
        tenant: &str,
        c: &Common,
        bin: &str,
        condition: &str,
    ) -> (Vec<String>, Vec<Sql>, Vec<Vec<String>>) {
        let by_policy = keyed_by(self.scenario) == Some("policy");
        let mut params = Vec::new();
        let mut legs = Vec::new();
        let mut tables = Vec::new();
        for category in self.categories() {
            let mut b = Builder::new(category, tenant, c);
            if let (Some(app), false) = (&self.app, by_policy) {
                b.filter(
                    "(\"AppId\" = ? OR \"AppDisplayName\" = ?)",
                    &[app, app],
                    format!("AppId == {} or AppDisplayName == {}", lit(app), lit(app)),
                );
            }
            if by_policy {
                // A row per policy that refused the sign-in: the policy is the key.
                let one = if self.app.is_some() {
                    " AND (json_extract(p.value, '$.id') = ? OR json_extract(p.value, '$.displayName') = ?)"
                } else {
                    ""
                };
                legs.push(format!(
                    "SELECT s.interval AS interval, json_extract(p.value, '$.id') AS app, s.user AS user FROM \
                     (SELECT {bin} AS interval, \"UserId\" AS user, \"ConditionalAccessPolicies\" AS cap {} AND {condition}) AS s, \
                     json_each(s.cap) AS p WHERE json_extract(p.value, '$.result') = 'failure'{one}",
                    b.source_sql()
                ));
                params.extend(b.params);
                if let Some(policy) = &self.app {
                    params.extend([Sql::Text(policy.clone()), Sql::Text(policy.clone())]);
                }
            } else {
                let app = if self.by_app { "\"AppId\"" } else { "''" };
                legs.push(format!(
                    "SELECT {bin} AS interval, {app} AS app, \"UserId\" AS user {} AND {condition}",
                    b.source_sql()
                ));
                params.extend(b.params);
            }
            tables.push(b.kql);
        }
        (legs, params, tables)
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::SignInLogs
    }

    /// MFA failures are read from the non-interactive sign-ins too.
    fn categories(&self) -> Vec<Category> {
        if self.scenario == "mfaSignInFailure" {
            vec![Category::SignInLogs, Category::NonInteractiveUserSignInLogs]
        } else {
            vec![Category::SignInLogs]
        }
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let (condition, kql_condition, users) = self.condition();
        let m = self.minutes;
        let floor = |t: &str| {
            format!(
                "substr({t}, 1, 14) || printf('%02d', (CAST(substr({t}, 15, 2) AS INTEGER) / {m}) * {m})"
            )
        };
        let o = self.offset;
        let bin = if o == 0 {
            format!("{} || ':00Z'", floor("\"TimeGenerated\""))
        } else {
            // Shifted back by the offset, floored, shifted forward again.
            let shifted = format!("strftime('%Y-%m-%dT%H:%M', \"TimeGenerated\", '-{o} minutes')");
            format!(
                "strftime('%Y-%m-%dT%H:%M:00Z', {}, '+{o} minutes')",
                floor(&shifted)
            )
        };
        let measure = if users {
            "COUNT(DISTINCT \"UserId\")"
        } else {
            "COUNT(*)"
        };
        let by_policy = keyed_by(self.scenario) == Some("policy");
        let (legs, params, mut tables) = self.legs(tenant, c, &bin, &condition);
        let (select, group, also) = if self.monitor {
            ("interval, app", "1, 2", ", COUNT(DISTINCT user)")
        } else if self.by_app {
            ("interval, app", "1, 2", "")
        } else {
            ("interval", "1", "")
        };
        let sql = format!(
            "SELECT {select}, {}{also} FROM ({}) GROUP BY {group} ORDER BY 1",
            measure.replace("\"UserId\"", "user"),
            legs.join(" UNION ALL ")
        );
        // The KQL: one table's lines (a union of both for MFA failures, their filters alike).
        let mut kql: Vec<String> = if tables.len() == 1 {
            tables.remove(0)
        } else {
            let first = tables.remove(0);
            let mut lines = vec![format!(
                "union {}",
                self.categories()
                    .iter()
                    .map(|cat| super::build::kql_table(*cat, c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )];
            lines.extend(first.into_iter().skip(1));
            lines
        };
        for line in kql_condition.split('\n').filter(|l| !l.is_empty()) {
            if line.starts_with('|') {
                kql.push(line.to_string());
            } else {
                kql.push(format!("| where {line}"));
            }
        }
        if by_policy {
            kql.push("| mv-expand p = todynamic(ConditionalAccessPolicies)".into());
            kql.push("| where tostring(p.result) == \"failure\"".into());
            if let Some(policy) = &self.app {
                kql.push(format!(
                    "| where tostring(p.id) == {} or tostring(p.displayName) == {}",
                    lit(policy),
                    lit(policy)
                ));
            }
        }
        let value = if users { "dcount(UserId)" } else { "count()" };
        let at = if o == 0 {
            format!("bin(TimeGenerated, {m}m)")
        } else {
            format!("bin_at(TimeGenerated, {m}m, datetime(2000-01-01T00:{o:02}:00Z))")
        };
        kql.push(format!(
            "| summarize value = {value} by intervalStartDateTime = {at}"
        ));
        kql.push("| order by intervalStartDateTime asc".into());
        Plan {
            columns: vec!["intervalStartDateTime", "value"],
            sql,
            params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// Every interval of the range, in order, zero where nothing was counted (as Graph's
    /// metrics answer), times as Graph writes them.
    fn shape(&self, c: &Common, a: Answer) -> Answer {
        let step = Duration::minutes(self.minutes);
        let counted: BTreeMap<DateTime<Utc>, i64> = a
            .rows
            .iter()
            .filter_map(|r| {
                let t = DateTime::parse_from_rfc3339(r[0].as_str()?).ok()?;
                Some((t.with_timezone(&Utc), crate::query::int(&r[1])))
            })
            .collect();
        let first = c.from.duration_trunc(step).unwrap_or(c.from);
        let mut rows = Vec::new();
        let mut t = first;
        while t <= c.to {
            let value = counted.get(&t).copied().unwrap_or(0);
            rows.push(vec![
                json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                json!(value),
            ]);
            t += step;
        }
        Answer {
            columns: a.columns,
            rows,
            summary: Some(json!({
                "scenario": self.scenario,
                "aggregationIntervalInMinutes": self.minutes,
                "total": counted.values().sum::<i64>(),
            })),
            next_offset: None,
        }
    }
}

/// The health monitor's reading of `scenario` over `c`'s range in windows of `minutes`
/// starting `offset` minutes after the clock's: rows of `(window start, AppId, value, distinct
/// users)`, every app at once for the per-app scenarios (the AppId empty for the others).
/// `None` for a name that is no scenario.
pub fn monitor_plan(
    scenario: &str,
    tenant: &str,
    c: &Common,
    minutes: i64,
    offset: i64,
) -> Option<Plan> {
    let scenario = *SCENARIOS.iter().find(|s| **s == scenario)?;
    let a = Asking {
        scenario,
        minutes,
        offset,
        app: None,
        by_app: keyed_by(scenario).is_some(),
        monitor: true,
    };
    Some(a.plan(tenant, c))
}

/// What a keyed scenario is per, as its parameter names it: `app` for the per-app scenarios,
/// `policy` for `policyBlockedUsers`; `None` for the others.
pub fn keyed_by(scenario: &str) -> Option<&'static str> {
    if scenario.starts_with("app") {
        Some("app")
    } else if scenario == "policyBlockedUsers" {
        Some("policy")
    } else {
        None
    }
}

/// The SQL condition on a sign-in for one key (`?`: the app's or the policy's id) of a keyed
/// scenario.
pub fn key_condition(scenario: &str) -> Option<&'static str> {
    match keyed_by(scenario)? {
        "policy" => Some(
            "EXISTS (SELECT 1 FROM json_each(\"ConditionalAccessPolicies\") AS p WHERE json_extract(p.value, '$.id') = ? AND json_extract(p.value, '$.result') = 'failure')",
        ),
        _ => Some("\"AppId\" = ?"),
    }
}

/// Whether `scenario`'s value is a count of distinct users (rather than of sign-ins).
pub fn counts_users(scenario: &str) -> bool {
    counted(scenario).is_some_and(|a| a.condition().2)
}

fn counted(scenario: &str) -> Option<Asking> {
    let scenario = *SCENARIOS.iter().find(|s| **s == scenario)?;
    Some(Asking {
        scenario,
        minutes: 15,
        offset: 0,
        app: None,
        by_app: false,
        monitor: false,
    })
}

/// The sign-ins `scenario` counts: the categories it reads and the SQL condition on a row
/// (for the explanations of an alert, which break them down).
pub fn counted_rows(scenario: &str) -> Option<(Vec<Category>, String)> {
    let a = counted(scenario)?;
    Some((a.categories(), a.condition().0))
}
