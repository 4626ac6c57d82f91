//! The Graph query options the simulated server understands: the resource, `$filter` on time
//! and sign-in kind, `$top`, `$orderby`, `$skiptoken`; anything else is refused as Graph would.

use super::MAX_TOP;
use crate::model::Category;
use chrono::{DateTime, Duration, Utc};
use warp::http::StatusCode;

/// A parsed list request.
#[derive(Debug, PartialEq)]
pub(super) struct Query {
    pub(super) version: String,
    pub(super) category: Category,
    pub(super) context: &'static str,
    pub(super) from: Option<DateTime<Utc>>,
    pub(super) to: Option<DateTime<Utc>>,
    pub(super) top: usize,
    pub(super) ascending: bool,
    pub(super) offset: usize,
    pub(super) as_of: Option<DateTime<Utc>>,
    pub(super) params: Vec<(String, String)>,
}

pub(super) type QueryError = (StatusCode, String);

impl Query {
    pub(super) fn parse(path: &str, raw_query: &str) -> Result<Self, QueryError> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        let trimmed = path.trim_matches('/');
        let (version, resource) = trimmed.split_once('/').ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("Resource not found for the segment '{trimmed}'."),
            )
        })?;
        if version != "v1.0" && version != "beta" {
            return Err((StatusCode::NOT_FOUND, format!("Invalid version: {version}")));
        }
        let (mut category, time_fields, context) = served(resource)?;
        let params: Vec<(String, String)> = serde_urlencoded::from_str(raw_query)
            .map_err(|e| bad(format!("Invalid query string: {e}")))?;
        let mut q = Query {
            version: version.to_string(),
            category,
            context,
            from: None,
            to: None,
            top: MAX_TOP,
            ascending: false,
            offset: 0,
            as_of: None,
            params: params.clone(),
        };
        for (key, value) in &params {
            match key.as_str() {
                "$filter" => q.filter(value, time_fields, &mut category)?,
                "$top" => {
                    q.top = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "Invalid $top value '{value}'; expected 1 to {MAX_TOP}."
                            ))
                        })?;
                }
                "$orderby" => {
                    let parts: Vec<&str> = value.split_whitespace().collect();
                    match parts[..] {
                        [field] | [field, "desc"] if time_fields.contains(&field) => {
                            q.ascending = false
                        }
                        [field, "asc"] if time_fields.contains(&field) => q.ascending = true,
                        _ => return Err(bad(format!("Invalid $orderby '{value}'."))),
                    }
                }
                "$skiptoken" => {
                    let (as_of, offset) = value
                        .split_once(':')
                        .ok_or_else(|| bad("Invalid $skiptoken.".into()))?;
                    q.as_of = as_of
                        .parse::<i64>()
                        .ok()
                        .and_then(DateTime::from_timestamp_millis);
                    q.offset = offset
                        .parse()
                        .map_err(|_| bad("Invalid $skiptoken.".into()))?;
                    if q.as_of.is_none() {
                        return Err(bad("Invalid $skiptoken.".into()));
                    }
                }
                "$select" | "$count" => {}
                other => {
                    return Err(bad(format!(
                        "Query option '{other}' is not supported by the simulated tenant."
                    )));
                }
            }
        }
        q.category = category;
        Ok(q)
    }

    /// Applies a `$filter`: time bounds on the resource's time properties, and for sign-ins
    /// the kind (`signInEventTypes/any(...)`).
    fn filter(
        &mut self,
        value: &str,
        time_fields: &[&str],
        category: &mut Category,
    ) -> Result<(), QueryError> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        for clause in split_and(value) {
            let clause = clause.trim();
            if let Some(kind) = event_type(clause) {
                if category.name().contains("SignIn") || *category == Category::SignInLogs {
                    *category = match kind.as_str() {
                        "interactiveUser" => Category::SignInLogs,
                        "nonInteractiveUser" => Category::NonInteractiveUserSignInLogs,
                        "servicePrincipal" => Category::ServicePrincipalSignInLogs,
                        "managedIdentity" => Category::ManagedIdentitySignInLogs,
                        other => {
                            return Err(bad(format!("Invalid signInEventTypes value '{other}'.")));
                        }
                    };
                    continue;
                }
                return Err(bad("signInEventTypes applies to sign-ins only.".into()));
            }
            let parts: Vec<&str> = clause.split_whitespace().collect();
            let [field, op, literal] = parts[..] else {
                return Err(bad(format!("Invalid filter clause: '{clause}'.")));
            };
            if !time_fields.contains(&field) {
                return Err(bad(format!(
                    "Invalid filter clause: property '{field}' is not filterable here."
                )));
            }
            let t = DateTime::parse_from_rfc3339(literal)
                .map_err(|_| {
                    bad(format!(
                        "Invalid filter clause: '{literal}' is not a DateTimeOffset."
                    ))
                })?
                .with_timezone(&Utc);
            let ms = Duration::milliseconds(1);
            match op {
                "ge" => self.from = Some(self.from.map_or(t, |f| f.max(t))),
                "gt" => self.from = Some(self.from.map_or(t + ms, |f| f.max(t + ms))),
                "le" => self.to = Some(self.to.map_or(t, |x| x.min(t))),
                "lt" => self.to = Some(self.to.map_or(t - ms, |x| x.min(t - ms))),
                other => {
                    return Err(bad(format!("Invalid filter operator '{other}'.")));
                }
            }
        }
        Ok(())
    }
}

/// Splits a filter on ` and ` outside parentheses.
fn split_and(filter: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let words: Vec<&str> = filter.split(' ').collect();
    for w in words {
        depth += w.matches('(').count() as i32 - w.matches(')').count() as i32;
        if w.eq_ignore_ascii_case("and") && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(w);
        }
    }
    parts.push(current);
    parts
}

/// `signInEventTypes/any(t: t eq 'servicePrincipal')` → `servicePrincipal`.
fn event_type(clause: &str) -> Option<String> {
    let rest = clause.strip_prefix("signInEventTypes/any(")?;
    let inner = rest.strip_suffix(')')?;
    let (_, cond) = inner.split_once(':')?;
    let value = cond.split_whitespace().collect::<Vec<_>>();
    match value[..] {
        [_, "eq", literal] => Some(literal.trim_matches('\'').to_string()),
        _ => None,
    }
}

/// The category a list resource serves, the time properties it filters and orders on, and
/// its `@odata.context`.
type Resource = (Category, &'static [&'static str], &'static str);

fn served(resource: &str) -> Result<Resource, QueryError> {
    Ok(match resource {
        "auditLogs/signIns" => (
            Category::SignInLogs,
            &["createdDateTime"],
            "auditLogs/signIns",
        ),
        "auditLogs/directoryAudits" => (
            Category::AuditLogs,
            &["activityDateTime"],
            "auditLogs/directoryAudits",
        ),
        "auditLogs/provisioning" => (
            Category::ProvisioningLogs,
            &["activityDateTime"],
            "auditLogs/provisioning",
        ),
        "identityProtection/riskDetections" => (
            Category::UserRiskEvents,
            &[
                "activityDateTime",
                "detectedDateTime",
                "lastUpdatedDateTime",
            ],
            "identityProtection/riskDetections",
        ),
        "identityProtection/riskyUsers" => (
            Category::RiskyUsers,
            &["riskLastUpdatedDateTime"],
            "identityProtection/riskyUsers",
        ),
        "identityProtection/servicePrincipalRiskDetections" => (
            Category::ServicePrincipalRiskEvents,
            &[
                "activityDateTime",
                "detectedDateTime",
                "lastUpdatedDateTime",
            ],
            "identityProtection/servicePrincipalRiskDetections",
        ),
        "identityProtection/riskyServicePrincipals" => (
            Category::RiskyServicePrincipals,
            &["riskLastUpdatedDateTime"],
            "identityProtection/riskyServicePrincipals",
        ),
        other => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("Resource not found for the segment '{other}'."),
            ));
        }
    })
}
