//! Ground truth computed by test code alone: what a stored row must hold, read from the Graph
//! record it came from without the collector's mapping.
#![allow(dead_code)]

/// The columns that matter of a record's row, read from Graph's JSON by this test code alone
/// (not the collector's mapping): its id, event time to the millisecond, and a few columns of
/// its category. A stored row must hold the same ([`stored_key_columns`]).
pub fn key_columns(
    category: shared::model::Category,
    record: &serde_json::Value,
) -> Vec<(&'static str, String)> {
    use shared::model::Category as C;
    let text = |path: &str| as_text(record.pointer(path));
    let time_field = match category {
        C::AuditLogs | C::ProvisioningLogs => "/activityDateTime",
        C::RiskyUsers | C::RiskyServicePrincipals => "/riskLastUpdatedDateTime",
        C::UserRiskEvents | C::ServicePrincipalRiskEvents => "/lastUpdatedDateTime",
        _ => "/createdDateTime",
    };
    let time = chrono::DateTime::parse_from_rfc3339(&text(time_field))
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default();
    let mut out = vec![("Id", text("/id")), ("TimeGenerated", time)];
    let more: &[(&'static str, &str)] = match category {
        C::SignInLogs | C::NonInteractiveUserSignInLogs => &[
            ("UserPrincipalName", "/userPrincipalName"),
            ("AppId", "/appId"),
            ("IPAddress", "/ipAddress"),
            ("ResultType", "/status/errorCode"),
            // Completed after publication (the MFA step arrives late).
            ("AuthenticationDetails", "/authenticationDetails"),
        ],
        C::ServicePrincipalSignInLogs | C::ManagedIdentitySignInLogs => &[
            ("AppId", "/appId"),
            ("ServicePrincipalId", "/servicePrincipalId"),
            ("IPAddress", "/ipAddress"),
            ("ResultType", "/status/errorCode"),
        ],
        C::AuditLogs => &[
            ("OperationName", "/activityDisplayName"),
            ("Result", "/result"),
            ("CorrelationId", "/correlationId"),
        ],
        C::ProvisioningLogs => &[
            ("JobId", "/jobId"),
            ("CycleId", "/cycleId"),
            ("ChangeId", "/changeId"),
        ],
        C::RiskyUsers => &[
            ("UserPrincipalName", "/userPrincipalName"),
            ("RiskLevel", "/riskLevel"),
            ("RiskState", "/riskState"),
        ],
        C::UserRiskEvents => &[
            ("UserPrincipalName", "/userPrincipalName"),
            ("RiskEventType", "/riskEventType"),
            ("IpAddress", "/ipAddress"),
        ],
        C::RiskyServicePrincipals => &[
            ("AppId", "/appId"),
            ("DisplayName", "/displayName"),
            ("RiskLevel", "/riskLevel"),
            ("RiskState", "/riskState"),
        ],
        C::ServicePrincipalRiskEvents => &[
            ("ServicePrincipalId", "/servicePrincipalId"),
            ("RiskEventType", "/riskEventType"),
            ("KeyIds", "/keyIds"),
        ],
        // Exported only (or entra-monitor's own): the simulated Graph serves none.
        C::MicrosoftGraphActivityLogs
        | C::ADFSSignInLogs
        | C::EntraMonitorRecommendations
        | C::EntraMonitorHealthAlerts => &[],
    };
    out.extend(more.iter().map(|(column, path)| (*column, text(path))));
    out
}

/// The same columns of a row as the embedded table holds it.
pub fn stored_key_columns(
    category: shared::model::Category,
    row: &serde_json::Map<String, serde_json::Value>,
) -> Vec<(&'static str, String)> {
    key_columns(category, &serde_json::json!({}))
        .into_iter()
        .map(|(column, _)| (column, as_text(row.get(column))))
        .collect()
}

/// A value as the text compared: strings as they are, nothing as empty, others as JSON.
fn as_text(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}
