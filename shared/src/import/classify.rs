//! What a record is: its format (a Graph record, a diagnostic-settings record, a Log Analytics
//! row), its category and its tenant — read from the record itself, with the options filling in
//! what records of that format do not carry — and the row it becomes.

use super::{Format, Options};
use crate::model::rows::{self, RowError};
use crate::model::{Category, TenantId};
use crate::state::StoredRow;
use serde_json::{Map, Value};

/// A record turned into a row of a tenant's category.
#[derive(Debug)]
pub struct Classified {
    pub format: Format,
    pub category: Category,
    pub tenant: String,
    pub row: StoredRow,
}

/// Why a record was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This record is wrong; the others may be fine.
    Record(String),
    /// No record of this kind can be imported without an option (e.g. `--tenant`).
    NeedsOption(String),
}

const GRAPH_TIMES: [&str; 5] = [
    "createdDateTime",
    "activityDateTime",
    "riskLastUpdatedDateTime",
    "lastUpdatedDateTime",
    "detectedDateTime",
];

/// The format a record looks like, if any.
pub fn detect_format(obj: &Map<String, Value>) -> Option<Format> {
    if obj.get("category").is_some_and(Value::is_string)
        && obj.get("properties").is_some_and(Value::is_object)
    {
        return Some(Format::DiagnosticSettings);
    }
    if obj.contains_key("TimeGenerated")
        || obj
            .get("Type")
            .and_then(Value::as_str)
            .is_some_and(|t| table_category(t).is_some())
        // A table row without TimeGenerated: Log Analytics names its columns in PascalCase
        // (`Id`), Graph in camelCase (`id`).
        || (obj.contains_key("Id") && !obj.contains_key("id") && columns_category(obj).is_some())
    {
        return Some(Format::LogAnalytics);
    }
    if obj.contains_key("id") && GRAPH_TIMES.iter().any(|t| obj.contains_key(*t)) {
        return Some(Format::Graph);
    }
    None
}

/// Every category's name or table, for messages.
fn listed(name: fn(Category) -> &'static str) -> String {
    Category::ALL.map(name).join(", ")
}

/// The category whose Log Analytics table is `table` (`SigninLogs`, `AADRiskyUsers`, ...).
pub fn table_category(table: &str) -> Option<Category> {
    Category::ALL
        .into_iter()
        .find(|c| c.table().eq_ignore_ascii_case(table.trim()))
}

/// The table a Log Analytics row comes from, read from its columns, for rows whose `Type` does
/// not name it (a query that projected a column of its own named `Type`, or an export without
/// it): the sign-in tables' and provisioning's `Category` value, else the columns only one table
/// has. Service principal and managed identity sign-ins share their columns: without a
/// `Category` they are taken as service principals'.
pub fn columns_category(obj: &Map<String, Value>) -> Option<Category> {
    let get = |k: &str| column(obj, k).filter(|v| !v.is_null() && v.as_str() != Some(""));
    if let Some(c) = get("Category")
        .and_then(Value::as_str)
        .and_then(|c| c.parse::<Category>().ok())
    {
        return Some(c);
    }
    let has = |k: &str| get(k).is_some();
    if let Some(c) = Category::by_column_marker(has) {
        return Some(c);
    }
    if !(has("ResultType") || has("AppId") || has("CreatedDateTime")) {
        return None;
    }
    if has("ServicePrincipalCredentialKeyId")
        || (has("ServicePrincipalId") && !has("UserPrincipalName") && !has("UserId"))
    {
        return Some(Category::ServicePrincipalSignInLogs);
    }
    if !(has("UserPrincipalName") || has("UserId")) {
        return None;
    }
    let interactive = get("IsInteractive").and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.to_ascii_lowercase().parse::<bool>().ok(),
        _ => None,
    });
    Some(match interactive {
        Some(false) => Category::NonInteractiveUserSignInLogs,
        _ => Category::SignInLogs,
    })
}

/// A Log Analytics row's column, whatever the case of its name (exports differ).
fn column<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The Graph resource a record is, from the properties only it has: riskDetection,
/// riskyUser, provisioningObjectSummary, directoryAudit, or a signIn — of the kind its
/// `signInEventTypes` (beta) names, else interactive or not by `isInteractive`, a service
/// principal's when no user signed in, a managed identity's when `managedServiceIdentity`
/// says so.
pub fn graph_category(obj: &Map<String, Value>) -> Result<Category, String> {
    let has = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    if let Some(c) = Category::by_graph_marker(has) {
        return Ok(c);
    }
    if !has("createdDateTime") {
        return Err(
            "not a Graph record this imports: no signIn, directoryAudit, provisioningObjectSummary, riskDetection, riskyUser, servicePrincipalRiskDetection or riskyServicePrincipal properties"
                .into(),
        );
    }
    let event_types: Vec<&str> = obj
        .get("signInEventTypes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, category) in [
        ("interactiveUser", Category::SignInLogs),
        ("nonInteractiveUser", Category::NonInteractiveUserSignInLogs),
        ("managedIdentity", Category::ManagedIdentitySignInLogs),
        ("servicePrincipal", Category::ServicePrincipalSignInLogs),
    ] {
        if event_types.iter().any(|t| t.eq_ignore_ascii_case(name)) {
            return Ok(category);
        }
    }
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    let msi = obj
        .get("managedServiceIdentity")
        .and_then(|m| m.get("msiType"))
        .and_then(Value::as_str)
        .unwrap_or("none");
    if !msi.eq_ignore_ascii_case("none") && !msi.is_empty() {
        return Ok(Category::ManagedIdentitySignInLogs);
    }
    if text("userId").is_empty() && text("userPrincipalName").is_empty() {
        return Ok(Category::ServicePrincipalSignInLogs);
    }
    match obj.get("isInteractive").and_then(Value::as_bool) {
        Some(false) => Ok(Category::NonInteractiveUserSignInLogs),
        _ => Ok(Category::SignInLogs),
    }
}

/// Turns one record into a row, or says why not.
pub fn classify(record: Value, options: &Options) -> Result<Classified, Refusal> {
    let Value::Object(obj) = record else {
        return Err(Refusal::Record(format!(
            "a record must be a JSON object, not {}",
            kind_of(&record)
        )));
    };
    let format = match options.format {
        Some(f) => f,
        None => detect_format(&obj).ok_or_else(|| {
            Refusal::Record(
                "not a record of a format this imports: a Graph record has \"id\" and \"createdDateTime\" (or another event time), a diagnostic-settings record \"category\" and \"properties\", a Log Analytics row \"TimeGenerated\" and \"Type\""
                    .into(),
            )
        })?,
    };
    match format {
        Format::Graph => {
            let category = match options.category {
                Some(c) => c,
                None => graph_category(&obj).map_err(Refusal::Record)?,
            };
            // Graph records do not say their tenant (provisioning's `tenantId` aside): the
            // tenant exported from, when given, holds for the whole export.
            let own = match &options.tenant {
                Some(t) => Some(t.clone()),
                None => obj
                    .get("tenantId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            let tenant = tenant(own.as_deref(), options, "Graph records")?;
            let graph = Value::Object(obj);
            let row = rows::normalise(category, &tenant, &graph).map_err(refused)?;
            Ok(stored(format, category, tenant, row, graph))
        }
        Format::DiagnosticSettings => {
            let named = obj.get("category").and_then(Value::as_str).unwrap_or("");
            let category = match options.category {
                Some(c) => c,
                None => named.parse::<Category>().map_err(|_| {
                    Refusal::Record(format!(
                        "diagnostic-settings category \"{named}\" is not an Entra activity log this imports ({})",
                        listed(Category::name)
                    ))
                })?,
            };
            let own = obj
                .get("tenantId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    obj.get("resourceId")
                        .and_then(Value::as_str)
                        .and_then(tenant_of_resource)
                });
            let tenant = tenant(own.as_deref(), options, "these diagnostic-settings records")?;
            let mut obj = obj;
            let mut graph = match obj.remove("properties") {
                Some(p @ Value::Object(_)) => p,
                _ => {
                    return Err(Refusal::Record(
                        "the diagnostic-settings record has no \"properties\" object (the Graph record)"
                            .into(),
                    ));
                }
            };
            // The categories no Graph API serves fill their columns from the envelope too
            // (`time`, `operationName`, `resultSignature`, …); `properties` wins a clash.
            if category.definition().mapping == crate::model::Mapping::Exported
                && let Value::Object(p) = &mut graph
            {
                for (k, v) in obj {
                    p.entry(k).or_insert(v);
                }
            }
            let row = rows::normalise(category, &tenant, &graph).map_err(refused)?;
            Ok(stored(format, category, tenant, row, graph))
        }
        Format::LogAnalytics => {
            let get = |k: &str| {
                column(&obj, k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let category = match options.category {
                Some(c) => c,
                // `Type` names the table, unless a query overwrote it: then the columns do.
                None => match (get("Type").and_then(table_category), columns_category(&obj)) {
                    (Some(c), _) | (None, Some(c)) => c,
                    (None, None) => match get("Type") {
                        Some(t) => {
                            return Err(Refusal::Record(format!(
                                "table \"{t}\" is not an Entra activity log table this imports ({}), nor do its columns say which one it is",
                                listed(Category::table)
                            )));
                        }
                        None => {
                            return Err(Refusal::NeedsOption(
                                "the Log Analytics rows have no \"Type\" column naming their table, nor columns that tell it: export it with the rows, or give --category".into(),
                            ));
                        }
                    },
                },
            };
            // In Log Analytics, `AADTenantId` is the Entra tenant and `TenantId` the
            // workspace: the workspace stands for the tenant only when nothing else does.
            let own = get("AADTenantId")
                .or_else(|| options.tenant.is_none().then(|| get("TenantId")).flatten())
                .map(str::to_owned);
            let tenant = tenant(own.as_deref(), options, "these Log Analytics rows")?;
            let row = rows::from_table_row(category, &tenant, &obj).map_err(refused)?;
            // The row as its table holds it stands for the record: the same rows exported as
            // JSON (numbers, objects) and as CSV (text) are then the same record.
            let canonical = Value::Object(row.columns.clone());
            Ok(stored(format, category, tenant, row, canonical))
        }
    }
}

fn stored(
    format: Format,
    category: Category,
    tenant: String,
    row: rows::Row,
    raw: Value,
) -> Classified {
    Classified {
        format,
        category,
        tenant,
        row: StoredRow {
            id: row.id,
            time: row.time,
            columns: row.columns,
            raw,
        },
    }
}

fn refused(e: RowError) -> Refusal {
    Refusal::Record(e.to_string())
}

/// The record's own tenant, else `--tenant`; a tenant that is not a GUID or domain is refused.
fn tenant(own: Option<&str>, options: &Options, what: &str) -> Result<String, Refusal> {
    match own.filter(|t| !t.trim().is_empty()) {
        Some(t) => TenantId::parse(t)
            .map(|t| t.to_string())
            .map_err(|e| Refusal::Record(format!("tenant: {e}"))),
        None => options.tenant.clone().ok_or_else(|| {
            Refusal::NeedsOption(format!(
                "{what} do not carry their tenant: give it with --tenant <tenant id>"
            ))
        }),
    }
}

/// `/tenants/<id>/providers/...` → `<id>`.
fn tenant_of_resource(resource: &str) -> Option<String> {
    let mut parts = resource.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("tenants") {
            return parts.next().map(str::to_owned);
        }
    }
    None
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn graph_sign_ins_are_told_apart_by_event_type_interactivity_and_who_signed_in() {
        let base = json!({"id": "1", "createdDateTime": "2026-11-27T10:00:00Z", "userId": "u", "userPrincipalName": "a@b.c"});
        let with = |k: &str, v: Value| {
            let mut o = obj(base.clone());
            o.insert(k.into(), v);
            o
        };
        assert_eq!(graph_category(&obj(base.clone())), Ok(Category::SignInLogs));
        assert_eq!(
            graph_category(&with("isInteractive", json!(false))),
            Ok(Category::NonInteractiveUserSignInLogs)
        );
        assert_eq!(
            graph_category(&with("signInEventTypes", json!(["servicePrincipal"]))),
            Ok(Category::ServicePrincipalSignInLogs)
        );
        assert_eq!(
            graph_category(&with(
                "managedServiceIdentity",
                json!({"msiType": "systemAssigned"})
            )),
            Ok(Category::ManagedIdentitySignInLogs)
        );
        let app = obj(
            json!({"id": "1", "createdDateTime": "2026-11-27T10:00:00Z", "userId": null, "appId": "x", "isInteractive": false}),
        );
        assert_eq!(
            graph_category(&app),
            Ok(Category::ServicePrincipalSignInLogs)
        );
        assert!(graph_category(&obj(json!({"id": "1"}))).is_err());
    }

    #[test]
    fn records_without_a_tenant_need_the_option_and_bad_ones_are_refused_alone() {
        let sign_in = json!({"id": "1", "createdDateTime": "2026-11-27T10:00:00Z", "userPrincipalName": "a@b.c", "userId": "u"});
        let none = Options::default();
        assert!(matches!(
            classify(sign_in.clone(), &none),
            Err(Refusal::NeedsOption(m)) if m.contains("--tenant")
        ));
        let given = Options {
            tenant: Some("11111111-2222-3333-4444-555555555555".into()),
            ..Options::default()
        };
        let c = classify(sign_in, &given).unwrap();
        assert_eq!(
            (c.format, c.category, c.tenant.as_str()),
            (
                Format::Graph,
                Category::SignInLogs,
                "11111111-2222-3333-4444-555555555555"
            )
        );
        assert!(
            matches!(classify(json!([1]), &given), Err(Refusal::Record(m)) if m.contains("an array"))
        );
        let diag = json!({"category": "Administrative", "properties": {}, "tenantId": "11111111-2222-3333-4444-555555555555"});
        assert!(
            matches!(classify(diag, &none), Err(Refusal::Record(m)) if m.contains("\"Administrative\""))
        );
    }

    #[test]
    fn log_analytics_rows_take_their_table_and_tenant_from_their_columns() {
        let row = json!({
            "TenantId": "11111111-2222-3333-4444-555555555555", "Type": "SigninLogs",
            "TimeGenerated": "2026-11-27T10:00:00.123Z", "Id": "abc",
            "UserPrincipalName": "a@b.c", "ResultType": "50126",
            "LocationDetails": "{\"city\":\"Paris\",\"countryOrRegion\":\"FR\"}",
            "Status": "{\"errorCode\":50126}", "IsInteractive": "true", "DurationMs": ""
        });
        let c = classify(row, &Options::default()).unwrap();
        assert_eq!(c.category, Category::SignInLogs);
        assert_eq!(c.row.id, "abc");
        assert_eq!(c.row.columns["LocationDetails"]["city"], "Paris");
        assert_eq!(c.row.columns["Status"]["errorCode"], 50126);
        assert_eq!(c.row.columns["IsInteractive"], true);
        assert_eq!(c.row.columns["DurationMs"], Value::Null);
        assert_eq!(c.row.columns["TimeGenerated"], "2026-11-27T10:00:00.123Z");
    }

    #[test]
    fn a_table_row_whose_type_was_overwritten_is_told_by_its_columns() {
        let tenant = "11111111-2222-3333-4444-555555555555";
        let cases = [
            (
                json!({"Id": "1", "Type": "x", "RiskEventType": "unfamiliarFeatures"}),
                Some(Category::UserRiskEvents),
            ),
            (
                json!({"Id": "1", "RiskLastUpdatedDateTime": "2026-11-27T10:00:00Z"}),
                Some(Category::RiskyUsers),
            ),
            (
                json!({"Id": "1", "RiskEventType": "leakedCredentials", "ServicePrincipalDisplayName": "crm"}),
                Some(Category::ServicePrincipalRiskEvents),
            ),
            (
                json!({"Id": "1", "RiskLastUpdatedDateTime": "2026-11-27T10:00:00Z", "ServicePrincipalType": "Application"}),
                Some(Category::RiskyServicePrincipals),
            ),
            (
                json!({"RequestId": "1", "RequestUri": "https://graph.microsoft.com/v1.0/me", "ResponseStatusCode": 200}),
                Some(Category::MicrosoftGraphActivityLogs),
            ),
            (
                json!({"Id": "1", "UserPrincipalName": "a@contoso.com", "Requirement": "Primary Authentication"}),
                Some(Category::ADFSSignInLogs),
            ),
            (
                json!({"Id": "1", "JobId": "j"}),
                Some(Category::ProvisioningLogs),
            ),
            (
                json!({"Id": "1", "ActivityDisplayName": "Add user"}),
                Some(Category::AuditLogs),
            ),
            (
                json!({"Id": "1", "AppId": "a", "ServicePrincipalId": "sp"}),
                Some(Category::ServicePrincipalSignInLogs),
            ),
            (
                json!({"Id": "1", "AppId": "a", "UserId": "u", "IsInteractive": "False"}),
                Some(Category::NonInteractiveUserSignInLogs),
            ),
            (
                json!({"Id": "1", "AppId": "a", "UserId": "u"}),
                Some(Category::SignInLogs),
            ),
            (
                json!({"Id": "1", "Category": "ManagedIdentitySignInLogs", "AppId": "a"}),
                Some(Category::ManagedIdentitySignInLogs),
            ),
            (json!({"Id": "1", "Name": "a spreadsheet"}), None),
        ];
        for (row, expected) in cases {
            assert_eq!(columns_category(&obj(row.clone())), expected, "{row}");
        }
        // Without TimeGenerated, the row's own time; Graph's camelCase is not a table row.
        let row = json!({"Id": "r1", "Type": "projected", "AADTenantId": tenant, "ActivityDisplayName": "Add user", "ActivityDateTime": "2026-11-27T10:00:00Z"});
        let c = classify(row, &Options::default()).unwrap();
        assert_eq!(
            (c.format, c.category),
            (Format::LogAnalytics, Category::AuditLogs)
        );
        assert_eq!(c.row.columns["TimeGenerated"], "2026-11-27T10:00:00.000Z");
        assert_eq!(
            detect_format(&obj(
                json!({"id": "1", "createdDateTime": "2026-11-27T10:00:00Z", "appId": "a", "userId": "u"})
            )),
            Some(Format::Graph)
        );
    }
}
