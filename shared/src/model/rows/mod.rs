//! Graph records → canonical rows, shaped like the Log Analytics tables Entra diagnostic
//! settings fill (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/signinlogs>): PascalCase column names, `ResultType` a string, nested
//! objects kept as objects where the table has `dynamic` columns and as JSON text where it has
//! `string` ones (the non-interactive, service-principal, managed-identity and provisioning
//! tables), so existing KQL works on them.
//!
//! Reading is tolerant: property names match case-insensitively (Graph samples show both
//! `type` and `Type`), nulls and missing properties give null columns. Only a record without an
//! `id` or a readable event time is refused. Top-level properties the mapping does not know are
//! counted as schema drift; the raw record is always kept beside the row.

use super::tables::{ColumnType, columns};
use super::{Category, Mapping};
use crate::clock::Timestamp;
use chrono::{DateTime, Utc};
use properties::*;
use serde_json::{Map, Value, json};

mod properties;
mod risk;
#[cfg(test)]
mod tests;

/// One normalised record.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    /// The event time: `createdDateTime`, `activityDateTime`, `lastUpdatedDateTime` or
    /// `riskLastUpdatedDateTime`.
    pub time: DateTime<Utc>,
    pub columns: Map<String, Value>,
    /// Top-level properties of the record that the mapping does not know.
    pub unknown_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("the record has no \"id\"")]
    MissingId,
    #[error("the record's \"{field}\" is missing or not a date-time ({found})")]
    BadTime { field: &'static str, found: String },
}

/// The Graph property carrying the event time of a category's records.
pub fn time_property(category: Category) -> &'static str {
    category.definition().time_property
}

/// An event time: RFC 3339, or the near-misses exports contain — an hour of one digit
/// (`2022-09-09T9:59:27.958Z`, seen in diagnostic-settings records), no zone (taken as UTC),
/// a space for the `T`, or the US form the Azure portal and diagnostic settings' `time` use
/// (`8/22/2022 6:11:52 PM`, UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    use chrono::NaiveDateTime;
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%m/%d/%Y, %I:%M:%S%.f %p",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
    .map(|t| t.and_utc())
}

/// A record's id: a non-blank string, or a number as its text.
fn record_id(v: &Value) -> Result<String, RowError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(RowError::MissingId),
    }
}

/// A JSON object read case-insensitively.
struct Record<'a>(&'a Map<String, Value>);

impl<'a> Record<'a> {
    fn get(&self, name: &str) -> &'a Value {
        self.0
            .get(name)
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .unwrap_or(&Value::Null)
    }

    fn path(&self, names: &[&str]) -> &'a Value {
        let mut v = self.get(names[0]);
        for name in &names[1..] {
            v = match v {
                Value::Object(o) => Record(o).get(name),
                _ => &Value::Null,
            };
        }
        v
    }

    fn text(&self, name: &str) -> Value {
        scalar_text(self.get(name))
    }
}

/// Strings stay strings; numbers and booleans become their text; null stays null.
fn scalar_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        Value::Number(_) | Value::Bool(_) => Value::String(v.to_string()),
        other => Value::String(other.to_string()),
    }
}

/// A nested value as JSON text (null stays null), for `string` columns holding objects.
fn json_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// The columns every sign-in table has that came with newer Graph properties (tenants of the
/// app and resource, session, credential, Conditional Access audiences, agent).
fn put_newer_sign_in_columns(put: &mut dyn FnMut(&str, Value), r: &Record<'_>) {
    put("AppOwnerTenantId", r.text("appOwnerTenantId"));
    put("ResourceOwnerTenantId", r.text("resourceOwnerTenantId"));
    put("SessionId", r.text("sessionId"));
    put("ClientCredentialType", r.text("clientCredentialType"));
    put("FederatedCredentialId", r.text("federatedCredentialId"));
    put("SourceAppClientId", r.text("sourceAppClientId"));
    put(
        "ConditionalAccessAudiences",
        json_text(r.get("conditionalAccessAudiences")),
    );
    put("Agent", r.get("agent").clone());
}

/// Normalises one Graph record of `category`.
pub fn normalise(category: Category, tenant_id: &str, record: &Value) -> Result<Row, RowError> {
    let mut row = map(category, tenant_id, record)?;
    row.columns = shape(category, std::mem::take(&mut row.columns)).0;
    Ok(row)
}

/// A row of a Log Analytics export of the category's table (query results as JSON objects, or
/// CSV cells as strings), shaped into the table's columns as collected rows are. Column names
/// match without case; nested columns may come as objects or as their JSON text (CSV exports);
/// empty cells are null. The row is stored under `tenant_id`, whatever tenant column it has.
pub fn from_table_row(
    category: Category,
    tenant_id: &str,
    row: &Map<String, Value>,
) -> Result<Row, RowError> {
    let r = Record(row);
    let key = category.definition().key_column;
    let id = record_id(r.get(key))?;
    // The event time: TimeGenerated, else the record's own time column.
    let own = time_property(category);
    let own_column = format!("{}{}", own[..1].to_ascii_uppercase(), &own[1..]);
    let time = ["TimeGenerated", own_column.as_str()]
        .iter()
        .find_map(|c| r.get(c).as_str().and_then(parse_time))
        .ok_or_else(|| RowError::BadTime {
            field: "TimeGenerated",
            found: r
                .get("TimeGenerated")
                .to_string()
                .chars()
                .take(60)
                .collect(),
        })?;
    let table = columns(category);
    let mut mapped = Map::new();
    let mut unknown = Vec::new();
    for (name, value) in row {
        let Some((column, kind)) = table.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
            unknown.push(name.clone());
            continue;
        };
        let value = match (kind, value) {
            (_, Value::String(s)) if s.is_empty() => Value::Null,
            (ColumnType::Dynamic, Value::String(s)) if s.starts_with('{') || s.starts_with('[') => {
                serde_json::from_str(s).unwrap_or_else(|_| value.clone())
            }
            _ => value.clone(),
        };
        mapped.insert((*column).to_string(), value);
    }
    for (column, value) in [
        ("TenantId", json!(tenant_id)),
        ("AADTenantId", json!(tenant_id)),
        (key, json!(id)),
        ("Type", json!(category.table())),
        ("TimeGenerated", json!(time.rfc3339_millis())),
    ] {
        mapped.insert(column.to_string(), value);
    }
    mapped
        .entry("Category")
        .or_insert_with(|| json!(category.name()));
    let (columns, _) = shape(category, mapped);
    Ok(Row {
        id,
        time,
        columns,
        unknown_fields: unknown,
    })
}

/// Puts the mapped values into exactly the table's columns, each of the
/// column's type (absent values are null); returns the mapped names that are not columns.
fn shape(category: Category, mut mapped: Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let mut out = Map::new();
    for (name, kind) in columns(category) {
        let v = mapped.remove(*name).unwrap_or(Value::Null);
        let v = match (kind, v) {
            (_, Value::Null) => Value::Null,
            (ColumnType::Dynamic, v) => v,
            (ColumnType::Bool, Value::Bool(b)) => Value::Bool(b),
            (ColumnType::Bool, Value::String(s)) => s
                .to_ascii_lowercase()
                .parse::<bool>()
                .map(Value::Bool)
                .unwrap_or(Value::Null),
            (ColumnType::Bool, _) => Value::Null,
            (ColumnType::Long | ColumnType::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Value::Number(n)
            }
            (ColumnType::Long | ColumnType::Int, Value::Number(n)) => {
                n.as_f64().map(|f| json!(f as i64)).unwrap_or(Value::Null)
            }
            (ColumnType::Long | ColumnType::Int, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or(Value::Null),
            (ColumnType::Long | ColumnType::Int, _) => Value::Null,
            (ColumnType::DateTime, Value::String(s)) => {
                if DateTime::parse_from_rfc3339(&s).is_ok() {
                    Value::String(s)
                } else {
                    parse_time(&s)
                        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                        .unwrap_or(Value::Null)
                }
            }
            (ColumnType::DateTime, _) => Value::Null,
            (ColumnType::String, v) => scalar_text(&v),
        };
        out.insert((*name).to_string(), v);
    }
    (out, mapped.into_iter().map(|(k, _)| k).collect())
}

/// Graph → columns, before shaping.
fn map(category: Category, tenant_id: &str, record: &Value) -> Result<Row, RowError> {
    let obj = record.as_object().ok_or(RowError::NotAnObject)?;
    let r = Record(obj);
    let id = record_id(r.get(category.definition().id_property))?;
    let field = time_property(category);
    let time = match r.get(field) {
        Value::String(s) => parse_time(s),
        _ => None,
    }
    .ok_or_else(|| RowError::BadTime {
        field,
        found: r.get(field).to_string().chars().take(60).collect(),
    })?;

    let mut c = Map::new();
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_string(), v);
    };
    // Some tables name the tenant TenantId, some AADTenantId; shaping keeps the table's own.
    put("TenantId", json!(tenant_id));
    put("AADTenantId", json!(tenant_id));
    put("SourceSystem", json!("Azure AD"));
    put(category.definition().key_column, json!(id));
    put("Type", json!(category.table()));
    put("Category", json!(category.name()));
    // The event time: Log Analytics needs TimeGenerated, and the embedded store's time index.
    put("TimeGenerated", json!(time.rfc3339_millis()));
    if category.definition().mapping == Mapping::Exported {
        exported(category, &r, &mut c);
        // Every field is either a column or the record's own (envelope) field: none is drift.
        return Ok(Row {
            id,
            time,
            columns: c,
            unknown_fields: Vec::new(),
        });
    }
    let known: &[&str] = match category.definition().mapping {
        Mapping::UserSignIn => user_sign_in(category, &r, &mut put),
        Mapping::AppSignIn => app_sign_in(category, &r, &mut put),
        Mapping::Audit => audit(&r, &mut put),
        Mapping::Provisioning => provisioning(&r, &mut put),
        Mapping::RiskEvent => risk::user_risk_event(&r, &mut put),
        Mapping::RiskyUser => risk::risky_user(&r, &mut put),
        Mapping::ServicePrincipalRiskEvent => risk::service_principal_risk_event(&r, &mut put),
        Mapping::RiskyServicePrincipal => risk::risky_service_principal(&r, &mut put),
        Mapping::Exported => &[],
    };
    let unknown_fields = obj
        .keys()
        .filter(|k| !k.starts_with('@') && !known.iter().any(|p| p.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    Ok(Row {
        id,
        time,
        columns: c,
        unknown_fields,
    })
}

/// An exported record (diagnostic-settings envelope and `properties` as one object): each
/// column not yet set from the field of the same name, any case (`IPAddress` ← `ipAddress`).
fn exported(category: Category, r: &Record, c: &mut Map<String, Value>) {
    let tenant = c.get("TenantId").cloned().unwrap_or_default();
    c.insert("AadTenantId".into(), tenant);
    for (name, _) in columns(category) {
        if !c.contains_key(*name) {
            c.insert((*name).to_string(), r.get(name).clone());
        }
    }
}

/// Interactive and non-interactive user sign-ins. Returns the Graph properties the columns come from.
fn user_sign_in(
    category: Category,
    r: &Record,
    put: &mut dyn FnMut(&str, Value),
) -> &'static [&'static str] {
    put("CreatedDateTime", r.text("createdDateTime"));
    put("OperationName", json!("Sign-in activity"));
    for (col, prop) in [
        ("UserPrincipalName", "userPrincipalName"),
        ("UserDisplayName", "userDisplayName"),
        ("UserId", "userId"),
        ("UserType", "userType"),
        ("AppId", "appId"),
        ("AppDisplayName", "appDisplayName"),
        ("IPAddress", "ipAddress"),
        ("AutonomousSystemNumber", "autonomousSystemNumber"),
        ("ClientAppUsed", "clientAppUsed"),
        ("CorrelationId", "correlationId"),
        ("ConditionalAccessStatus", "conditionalAccessStatus"),
        ("ResourceDisplayName", "resourceDisplayName"),
        ("ResourceIdentity", "resourceId"),
        ("ResourceTenantId", "resourceTenantId"),
        ("HomeTenantId", "homeTenantId"),
        ("RiskDetail", "riskDetail"),
        ("RiskLevelAggregated", "riskLevelAggregated"),
        ("RiskLevelDuringSignIn", "riskLevelDuringSignIn"),
        ("RiskState", "riskState"),
        ("AuthenticationRequirement", "authenticationRequirement"),
        ("AuthenticationProtocol", "authenticationProtocol"),
        ("TokenIssuerType", "tokenIssuerType"),
        ("TokenIssuerName", "tokenIssuerName"),
        ("UniqueTokenIdentifier", "uniqueTokenIdentifier"),
        ("UserAgent", "userAgent"),
        ("ServicePrincipalId", "servicePrincipalId"),
        ("CrossTenantAccessType", "crossTenantAccessType"),
        ("OriginalRequestId", "originalRequestId"),
        ("SignInIdentifier", "signInIdentifier"),
        ("SignInIdentifierType", "signInIdentifierType"),
        (
            "IPAddressFromResourceProvider",
            "ipAddressFromResourceProvider",
        ),
    ] {
        put(col, r.text(prop));
    }
    put(
        "IsInteractive",
        json!(
            r.get("isInteractive")
                .as_bool()
                .unwrap_or(category == Category::SignInLogs)
        ),
    );
    put(
        "FlaggedForReview",
        json!(r.get("flaggedForReview").as_bool().unwrap_or(false)),
    );
    let risk_level = r.get("riskLevelDuringSignIn").as_str().unwrap_or("none");
    put(
        "IsRisky",
        json!(!matches!(risk_level, "none" | "hidden" | "")),
    );
    put(
        "ProcessingTimeInMilliseconds",
        r.text("processingTimeInMilliseconds"),
    );
    put("ProcessingTimeInMs", r.text("processingTimeInMilliseconds"));
    put("Identity", r.text("userDisplayName"));
    put("AlternateSignInName", r.text("alternateSignInName"));
    put("ServicePrincipalName", r.text("servicePrincipalName"));
    for (col, prop) in [
        (
            "AuthenticationContextClassReferences",
            "authenticationContextClassReferences",
        ),
        ("AuthenticationMethodsUsed", "authenticationMethodsUsed"),
        (
            "AuthenticationRequirementPolicies",
            "authenticationRequirementPolicies",
        ),
        (
            "AppliedConditionalAccessPolicies",
            "appliedConditionalAccessPolicies",
        ),
    ] {
        put(col, json_text(r.get(prop)));
    }
    user_sign_in_details(category, r, put);
    SIGN_IN_PROPERTIES
}

/// A user sign-in's result, details and the columns added to the tables since.
fn user_sign_in_details(category: Category, r: &Record, put: &mut dyn FnMut(&str, Value)) {
    // The interactive table has dynamic columns; the non-interactive one strings.
    let nested = if category == Category::SignInLogs {
        Value::clone
    } else {
        json_text
    };
    let code = r.path(&["status", "errorCode"]);
    put(
        "ResultType",
        if code.is_null() {
            Value::Null
        } else {
            scalar_text(code)
        },
    );
    put(
        "ResultDescription",
        r.path(&["status", "failureReason"]).clone(),
    );
    put("Status", nested(r.get("status")));
    put("DeviceDetail", nested(r.get("deviceDetail")));
    put("LocationDetails", nested(r.get("location")));
    put("Location", r.path(&["location", "countryOrRegion"]).clone());
    put("MfaDetail", nested(r.get("mfaDetail")));
    put(
        "ConditionalAccessPolicies",
        nested(r.get("appliedConditionalAccessPolicies")),
    );
    put(
        "AuthenticationDetails",
        json_text(r.get("authenticationDetails")),
    );
    put(
        "AuthenticationProcessingDetails",
        json_text(r.get("authenticationProcessingDetails")),
    );
    put("RiskEventTypes", json_text(r.get("riskEventTypes")));
    put("RiskEventTypes_V2", json_text(r.get("riskEventTypes_v2")));
    put(
        "NetworkLocationDetails",
        json_text(r.get("networkLocationDetails")),
    );
    put(
        "SessionLifetimePolicies",
        json_text(r.get("sessionLifetimePolicies")),
    );
    put(
        "AppliedEventListeners",
        r.get("appliedEventListeners").clone(),
    );
    if category == Category::NonInteractiveUserSignInLogs {
        put("SignInEventTypes", json_text(r.get("signInEventTypes")));
    }
    put_newer_sign_in_columns(put, r);
    put(
        "AuthenticationAppDeviceDetails",
        r.get("authenticationAppDeviceDetails").clone(),
    );
    put(
        "AuthenticationAppPolicyEvaluationDetails",
        r.get("authenticationAppPolicyEvaluationDetails").clone(),
    );
    put(
        "GlobalSecureAccessIpAddress",
        r.text("globalSecureAccessIpAddress"),
    );
    put("HomeTenantName", r.text("homeTenantName"));
    put("IncomingTokenType", r.text("incomingTokenType"));
    put("IsTenantRestricted", r.get("isTenantRestricted").clone());
    put(
        "IsThroughGlobalSecureAccess",
        r.get("isThroughGlobalSecureAccess").clone(),
    );
    put("OriginalTransferMethod", r.text("originalTransferMethod"));
    put(
        "TokenProtectionStatusDetails",
        r.get("tokenProtectionStatusDetails").clone(),
    );
}

/// Service principal and managed identity sign-ins. Returns the Graph properties the columns come from.
fn app_sign_in(
    category: Category,
    r: &Record,
    put: &mut dyn FnMut(&str, Value),
) -> &'static [&'static str] {
    put("CreatedDateTime", r.get("createdDateTime").clone());
    put("UserAgent", r.text("userAgent"));
    put(
        "AutonomousSystemNumber",
        scalar_text(r.get("autonomousSystemNumber")),
    );
    put(
        "NetworkLocationDetails",
        json_text(r.get("networkLocationDetails")),
    );
    put(
        "ManagedServiceIdentity",
        json_text(r.get("managedServiceIdentity")),
    );
    put_newer_sign_in_columns(put, r);

    put("OperationName", json!("Sign-in activity"));
    for (col, prop) in [
        ("AppId", "appId"),
        ("ServicePrincipalId", "servicePrincipalId"),
        ("ServicePrincipalName", "servicePrincipalName"),
        ("IPAddress", "ipAddress"),
        ("CorrelationId", "correlationId"),
        ("ConditionalAccessStatus", "conditionalAccessStatus"),
        ("ResourceDisplayName", "resourceDisplayName"),
        ("ResourceIdentity", "resourceId"),
        ("ResourceServicePrincipalId", "resourceServicePrincipalId"),
        (
            "ServicePrincipalCredentialKeyId",
            "servicePrincipalCredentialKeyId",
        ),
        (
            "ServicePrincipalCredentialThumbprint",
            "servicePrincipalCredentialThumbprint",
        ),
        ("FederatedCredentialId", "federatedCredentialId"),
        ("UniqueTokenIdentifier", "uniqueTokenIdentifier"),
    ] {
        put(col, r.text(prop));
    }
    let code = r.path(&["status", "errorCode"]);
    put(
        "ResultType",
        if code.is_null() {
            Value::Null
        } else {
            scalar_text(code)
        },
    );
    put(
        "ResultDescription",
        r.path(&["status", "failureReason"]).clone(),
    );
    put("Location", r.path(&["location", "countryOrRegion"]).clone());
    put("LocationDetails", json_text(r.get("location")));
    put(
        "ConditionalAccessPolicies",
        json_text(r.get("appliedConditionalAccessPolicies")),
    );
    put(
        "AuthenticationProcessingDetails",
        json_text(r.get("authenticationProcessingDetails")),
    );
    put("Identity", r.text("servicePrincipalName"));
    put(
        "AuthenticationContextClassReferences",
        json_text(r.get("authenticationContextClassReferences")),
    );
    if category == Category::ManagedIdentitySignInLogs {
        put(
            "ResourceIdentity",
            r.path(&["managedServiceIdentity", "associatedResourceId"])
                .clone(),
        );
    }
    SIGN_IN_PROPERTIES
}

/// Directory audit events. Returns the Graph properties the columns come from.
fn audit(r: &Record, put: &mut dyn FnMut(&str, Value)) -> &'static [&'static str] {
    put("ActivityDateTime", r.text("activityDateTime"));
    put("ActivityDisplayName", r.text("activityDisplayName"));
    put("OperationName", r.text("activityDisplayName"));
    put("Category", r.text("category"));
    put("CorrelationId", r.text("correlationId"));
    put("LoggedByService", r.text("loggedByService"));
    put("AADOperationType", r.text("operationType"));
    put("Result", r.text("result"));
    put("ResultReason", r.text("resultReason"));
    put("InitiatedBy", r.get("initiatedBy").clone());
    put("TargetResources", r.get("targetResources").clone());
    put("AdditionalDetails", r.get("additionalDetails").clone());
    let who = r.path(&["initiatedBy", "user", "userPrincipalName"]);
    let who = if who.is_null() {
        r.path(&["initiatedBy", "app", "displayName"])
    } else {
        who
    };
    put("Identity", who.clone());
    AUDIT_PROPERTIES
}

/// Provisioning events. Returns the Graph properties the columns come from.
fn provisioning(r: &Record, put: &mut dyn FnMut(&str, Value)) -> &'static [&'static str] {
    // AADProvisioningLogs has no ActivityDateTime column; the event time is the row time.
    put("OperationName", json!("Provisioning activity"));
    for (col, prop) in [
        ("JobId", "jobId"),
        ("CycleId", "cycleId"),
        ("ChangeId", "changeId"),
        ("ProvisioningAction", "provisioningAction"),
    ] {
        put(col, r.text(prop));
    }
    put("DurationMs", r.get("durationInMilliseconds").clone());
    for (col, prop) in [
        ("ProvisioningStatusInfo", "provisioningStatusInfo"),
        ("ProvisioningSteps", "provisioningSteps"),
        ("ModifiedProperties", "modifiedProperties"),
        ("InitiatedBy", "initiatedBy"),
        ("ServicePrincipal", "servicePrincipal"),
        ("SourceSystem", "sourceSystem"),
        ("TargetSystem", "targetSystem"),
        ("SourceIdentity", "sourceIdentity"),
        ("TargetIdentity", "targetIdentity"),
    ] {
        put(col, json_text(r.get(prop)));
    }
    put(
        "ResultType",
        r.path(&["provisioningStatusInfo", "status"]).clone(),
    );
    put(
        "ResultDescription",
        r.path(&["provisioningStatusInfo", "errorInformation", "reason"])
            .clone(),
    );
    PROVISIONING_PROPERTIES
}
