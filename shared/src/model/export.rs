//! The record envelope Entra diagnostic settings write to Storage and send to Event Hubs
//! (<https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/resource-logs-schema>): a few top-level fields and `properties`, the Graph-shaped record in
//! camelCase. Tools that read Entra archives and SIEM connectors read this shape.

use super::{Category, ExportValue};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The export record for a normalised row (its time and columns) and its raw Graph record.
pub fn export_record(
    category: Category,
    tenant_id: &str,
    time: DateTime<Utc>,
    c: &Map<String, Value>,
    raw: &Value,
) -> Value {
    let text = |name: &str| c.get(name).cloned().unwrap_or(Value::Null);
    let value = |v: &ExportValue| match v {
        ExportValue::Fixed(text) => json!(text),
        ExportValue::Column(name) => text(name),
        ExportValue::Raw(pointer) => raw.pointer(pointer).cloned().unwrap_or(Value::Null),
        ExportValue::Null => Value::Null,
    };
    let fields = &category.definition().export;
    let (operation, caller_ip, identity) = (
        value(&fields.operation),
        value(&fields.caller_ip),
        value(&fields.identity),
    );
    let location = match c.get("Location") {
        Some(Value::String(country)) => json!(country),
        Some(Value::Object(o)) => o.get("countryOrRegion").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    json!({
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "resourceId": format!("/tenants/{tenant_id}/providers/Microsoft.aadiam"),
        "operationName": operation,
        "operationVersion": "1.0",
        "category": category.name(),
        "tenantId": tenant_id,
        "resultType": text("ResultType"),
        "resultSignature": "None",
        "resultDescription": text("ResultDescription"),
        "durationMs": c.get("DurationMs").and_then(Value::as_i64).unwrap_or(0),
        "callerIpAddress": caller_ip,
        "correlationId": text("CorrelationId"),
        "identity": identity,
        "Level": 4,
        "location": location,
        // A clone, not `json!`'s serialisation of a reference (three times slower).
        "properties": raw.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rows::normalise;

    #[test]
    fn a_sign_in_becomes_the_diagnostic_settings_envelope() {
        let raw = json!({
            "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100", "createdDateTime": "2020-03-13T19:15:41.6195833Z",
            "userDisplayName": "Test Contoso", "ipAddress": "131.107.159.37", "correlationId": "d79f5bee-5860-4832-928f-3133e22ae912",
            "status": { "errorCode": 50140, "failureReason": "Keep me signed in interrupt" },
            "location": { "city": "Redmond", "countryOrRegion": "US" }
        });
        let row = normalise(Category::SignInLogs, "t-1", &raw).unwrap();
        let r = export_record(Category::SignInLogs, "t-1", row.time, &row.columns, &raw);
        assert_eq!(r["time"], "2020-03-13T19:15:41.619583300Z");
        assert_eq!(r["resourceId"], "/tenants/t-1/providers/Microsoft.aadiam");
        assert_eq!(r["category"], "SignInLogs");
        assert_eq!(r["operationName"], "Sign-in activity");
        assert_eq!(r["resultType"], "50140");
        assert_eq!(r["callerIpAddress"], "131.107.159.37");
        assert_eq!(r["identity"], "Test Contoso");
        assert_eq!(r["Level"], 4);
        assert_eq!(r["location"], "US");
        assert_eq!(
            r["properties"], raw,
            "properties is the Graph record, camelCase"
        );
    }

    #[test]
    fn an_audit_record_names_its_activity() {
        let raw = json!({
            "id": "Directory_1", "activityDateTime": "2026-11-25T10:00:00Z", "activityDisplayName": "Add member to role",
            "initiatedBy": { "user": { "userPrincipalName": "admin@contoso.example", "ipAddress": "81.2.69.10" } }, "result": "success"
        });
        let row = normalise(Category::AuditLogs, "t-1", &raw).unwrap();
        let r = export_record(Category::AuditLogs, "t-1", row.time, &row.columns, &raw);
        assert_eq!(r["operationName"], "Add member to role");
        assert_eq!(r["callerIpAddress"], "81.2.69.10");
        assert_eq!(r["identity"], "admin@contoso.example");
        assert_eq!(r["category"], "AuditLogs");
    }
}
