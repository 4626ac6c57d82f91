//! Microsoft Entra Health's scenario metrics for the simulated tenant, as the beta
//! `reports/serviceActivity/getMetricsFor…` functions answer them
//! (<https://learn.microsoft.com/en-us/graph/api/resources/serviceactivity?view=graph-rest-beta>):
//! `GET …/getMetricsForMfaSignInSuccess(inclusiveIntervalStartDateTime=…,exclusiveIntervalEndDateTime=…,aggregationIntervalInMinutes=15)`
//! → `{"value": [{"intervalStartDateTime", "value"}]}`, every interval of the range, counted
//! from the sign-ins visible when asked by Microsoft's documented definitions ([`counts`],
//! reports.md §3.1). The start may be at most 30 days in the past and the aggregation 5, 10,
//! 15 or 30 minutes, as Graph requires.

use super::SimulatedTenant;
use crate::clock::Timestamp;
use crate::health::microsoft::{MAX_DAYS, METRICS, PATH};
use crate::model::Category;
use crate::query::questions::MFA_SERVICE_METHODS;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Whether a raw sign-in (interactive or not) counts for one of the [`METRICS`]' scenarios,
/// by Microsoft's definitions; `false` for any other scenario.
pub fn counts(scenario: &str, interactive: bool, r: &Value) -> bool {
    let code = r["status"]["errorCode"].as_i64();
    let ok = code == Some(0);
    let granted = |control: &str| {
        r["appliedConditionalAccessPolicies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["result"] == "success"
                    && p["enforcedGrantControls"]
                        .as_array()
                        .is_some_and(|g| g.iter().any(|x| x == control))
            })
    };
    match scenario {
        "mfaSignInSuccess" => {
            interactive
                && ok
                && r["authenticationRequirement"] == "multiFactorAuthentication"
                && r["authenticationDetails"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|d| {
                        d["succeeded"] == true
                            && MFA_SERVICE_METHODS
                                .contains(&d["authenticationMethod"].as_str().unwrap_or(""))
                    })
        }
        "mfaSignInFailure" => code == Some(500121),
        "managedDeviceSignInSuccess" => interactive && ok && granted("RequireDomainJoinedDevice"),
        "managedDeviceSignInFailure" => interactive && code == Some(53001),
        "compliantDeviceSignInSuccess" => interactive && ok && granted("RequireCompliantDevice"),
        "compliantDeviceSignInFailure" => interactive && code == Some(53000),
        "samlSignInSuccess" => interactive && ok && r["authenticationProtocol"] == "saml20",
        "conditionalAccessBlockedUsers" => interactive && r["conditionalAccessStatus"] == "failure",
        _ => false,
    }
}

/// A metric call: the scenario, the range `[from, to)` and the aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub scenario: &'static str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub minutes: i64,
}

/// The call a path after the version names (`None`: not a metric function), or what is wrong
/// with it, as Graph would say, checked at `now`.
pub fn parse(rest: &str, now: DateTime<Utc>) -> Option<Result<Call, String>> {
    let call = rest.strip_prefix(PATH)?;
    let (name, args) = call.split_once('(')?;
    let scenario = METRICS.iter().find(|(n, _)| *n == name)?.1;
    Some((|| {
        let args = args
            .strip_suffix(')')
            .ok_or("the function's parameters are not closed")?;
        let mut named: BTreeMap<&str, &str> = BTreeMap::new();
        for pair in args.split(',') {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}' is not name=value"))?;
            named.insert(k.trim(), v.trim().trim_matches('\''));
        }
        let time = |k: &str| -> Result<DateTime<Utc>, String> {
            let v = named.get(k).ok_or_else(|| format!("{k} is required"))?;
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{k}: '{v}' is not a date-time"))
        };
        let (from, to) = (
            time("inclusiveIntervalStartDateTime")?,
            time("exclusiveIntervalEndDateTime")?,
        );
        let minutes = match named.get("aggregationIntervalInMinutes") {
            None => 15,
            Some(m) => m
                .parse()
                .ok()
                .filter(|m| [5, 10, 15, 30].contains(m))
                .ok_or_else(|| {
                    format!("aggregationIntervalInMinutes: '{m}' is not 5, 10, 15 or 30")
                })?,
        };
        if from < now - Duration::days(MAX_DAYS) {
            return Err(format!(
                "inclusiveIntervalStartDateTime can be at most {MAX_DAYS} days in the past"
            ));
        }
        if to <= from {
            return Err("exclusiveIntervalEndDateTime must be after the start".into());
        }
        Ok(Call {
            scenario,
            from,
            to,
            minutes,
        })
    })())
}

/// The metric's intervals over the call's range, counted from the sign-ins visible at `now`.
pub fn answer(tenant: &SimulatedTenant, call: &Call, now: DateTime<Utc>) -> Value {
    let step = Duration::minutes(call.minutes);
    let from = call.from.duration_trunc(step).unwrap_or(call.from);
    let last = call.to - Duration::milliseconds(1);
    let mut bins: BTreeMap<DateTime<Utc>, BTreeSet<String>> = BTreeMap::new();
    let mut t = from;
    while t < call.to {
        bins.insert(t, BTreeSet::new());
        t += step;
    }
    let kinds: &[(Category, bool)] = if call.scenario == "mfaSignInFailure" {
        &[
            (Category::SignInLogs, true),
            (Category::NonInteractiveUserSignInLogs, false),
        ]
    } else {
        &[(Category::SignInLogs, true)]
    };
    let distinct = call.scenario == "conditionalAccessBlockedUsers";
    for (category, interactive) in kinds {
        for r in tenant.records(*category, from, last, Some(now)) {
            if !counts(call.scenario, *interactive, &r.json) {
                continue;
            }
            let bin = r.time.duration_trunc(step).unwrap_or(r.time);
            let key = if distinct {
                r.json["userId"].as_str().unwrap_or_default().to_string()
            } else {
                r.id.clone()
            };
            if let Some(b) = bins.get_mut(&bin) {
                b.insert(key);
            }
        }
    }
    let value: Vec<Value> = bins
        .into_iter()
        .map(|(t, keys)| json!({"intervalStartDateTime": t.rfc3339_millis(), "value": keys.len()}))
        .collect();
    json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#Collection(microsoft.graph.metric)",
        "value": value,
    })
}
