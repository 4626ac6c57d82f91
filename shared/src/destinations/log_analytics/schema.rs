//! The custom `_CL` tables and the data collection rule rows are ingested through, generated
//! from the table definitions in [`crate::model::tables`] — one source of truth.
//!
//! A custom table cannot use the Entra tables' exact columns: Log Analytics reserves `TenantId`,
//! `Type` and `id` among others (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/create-custom-table>; compared without case here, to be safe). So
//! `TenantId` becomes `EntraTenantId`, `Id` becomes `RecordId` (the Graph id, for query-time
//! dedupe), and `Type` is dropped (Log Analytics sets it to the table name). Everything else keeps
//! its name and type, so existing queries need only the table name changed.

use crate::model::Category;
use crate::model::tables::{ColumnType, columns};
use serde_json::{Map, Value, json};

/// Names Log Analytics reserves in custom tables.
const RESERVED: [&str; 7] = [
    "_ResourceId",
    "id",
    "_SubscriptionId",
    "TenantId",
    "Type",
    "UniqueId",
    "Title",
];

/// The custom table a category's rows land in: `<Entra table>_CL`.
pub fn table_name(category: Category) -> String {
    format!("{}_CL", category.table())
}

/// The name an Entra column has in the custom table, or None when it is dropped.
pub fn custom_column(name: &'static str) -> Option<&'static str> {
    match name {
        "TenantId" => Some("EntraTenantId"),
        "Id" => Some("RecordId"),
        n if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(n)) => None,
        n => Some(n),
    }
}

/// The custom table's columns, in the Entra table's order.
pub fn custom_columns(category: Category) -> Vec<(&'static str, ColumnType)> {
    columns(category)
        .iter()
        .filter_map(|(name, ty)| custom_column(name).map(|n| (n, *ty)))
        .collect()
}

/// A table-shaped row → the custom table's row.
pub fn custom_row(category: Category, row: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, _) in columns(category) {
        if let (Some(custom), Some(v)) = (custom_column(name), row.get(*name))
            && !v.is_null()
        {
            out.insert(custom.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The type name in a table definition (Tables API) and in a DCR stream declaration.
fn type_names(ty: ColumnType) -> (&'static str, &'static str) {
    match ty {
        ColumnType::String => ("string", "string"),
        ColumnType::DateTime => ("dateTime", "datetime"),
        ColumnType::Bool => ("boolean", "boolean"),
        ColumnType::Long => ("long", "long"),
        ColumnType::Int => ("int", "int"),
        ColumnType::Dynamic => ("dynamic", "dynamic"),
    }
}

/// An ARM template creating the custom tables (one per category) in a workspace and one DCR (kind
/// `Direct`, so it has its own logs-ingestion endpoint) with a stream per category. Its outputs
/// are the two settings entra-monitor needs: the endpoint and the DCR's immutable id.
pub fn arm_template() -> Value {
    let workspace_name = "split(parameters('workspaceResourceId'), '/')[8]";
    let mut resources = Vec::new();
    let mut streams = Map::new();
    let mut flows = Vec::new();
    let mut depends = Vec::new();
    for category in Category::ALL {
        let table = table_name(category);
        let stream = super::LogAnalyticsTarget::stream(category);
        let cols = custom_columns(category);
        let table_cols: Vec<Value> = cols
            .iter()
            .map(|(n, t)| json!({ "name": n, "type": type_names(*t).0 }))
            .collect();
        let stream_cols: Vec<Value> = cols
            .iter()
            .map(|(n, t)| json!({ "name": n, "type": type_names(*t).1 }))
            .collect();
        resources.push(json!({
            "type": "Microsoft.OperationalInsights/workspaces/tables",
            "apiVersion": "2022-10-01",
            "name": format!("[concat({workspace_name}, '/{table}')]"),
            "properties": {
                "retentionInDays": "[parameters('retentionInDays')]",
                "schema": { "name": table, "columns": table_cols }
            }
        }));
        depends.push(Value::String(format!(
            "[resourceId('Microsoft.OperationalInsights/workspaces/tables', {workspace_name}, '{table}')]"
        )));
        streams.insert(stream.clone(), json!({ "columns": stream_cols }));
        flows.push(json!({
            "streams": [stream],
            "destinations": ["workspace"],
            "transformKql": "source",
            "outputStream": stream,
        }));
    }
    resources.push(json!({
        "type": "Microsoft.Insights/dataCollectionRules",
        "apiVersion": "2023-03-11",
        "name": "[parameters('dcrName')]",
        "location": "[parameters('location')]",
        "kind": "Direct",
        "dependsOn": depends,
        "properties": {
            "streamDeclarations": streams,
            "destinations": { "logAnalytics": [{
                "workspaceResourceId": "[parameters('workspaceResourceId')]",
                "name": "workspace"
            }] },
            "dataFlows": flows,
        }
    }));
    let dcr = "reference(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dcrName')), '2023-03-11')";
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": { "description": "Generated by `entra-monitor log-analytics-template`; do not edit. Custom tables and the DCR entra-monitor ingests Entra logs through." },
        "parameters": {
            "workspaceResourceId": { "type": "string", "metadata": { "description": "The Log Analytics workspace, in this deployment's resource group." } },
            "location": { "type": "string", "defaultValue": "[resourceGroup().location]", "metadata": { "description": "The workspace's region (DCR and workspace must share it)." } },
            "dcrName": { "type": "string", "defaultValue": "entra-monitor" },
            "retentionInDays": { "type": "int", "defaultValue": 90 }
        },
        "resources": resources,
        "outputs": {
            "logsIngestionEndpoint": { "type": "string", "value": format!("[{dcr}.endpoints.logsIngestion]") },
            "dcrImmutableId": { "type": "string", "value": format!("[{dcr}.immutableId]") }
        }
    })
}

/// The template as committed under `infra/log-analytics/`: pretty JSON and a final newline.
pub fn arm_template_text() -> String {
    let mut text = serde_json::to_string_pretty(&arm_template()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_renamed_or_dropped() {
        for c in Category::ALL {
            let cols = custom_columns(c);
            // The record's id: `Id` renamed, or the table's own key (a Graph call's request id).
            let key = c.definition().key_column;
            assert!(
                cols.iter().any(|(n, _)| *n == "RecordId" || *n == key),
                "{c}"
            );
            assert!(cols.iter().any(|(n, _)| *n == "TimeGenerated"), "{c}");
            for (n, _) in &cols {
                assert!(
                    !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(n)),
                    "{c}: {n}"
                );
                assert!(n.len() <= 45 && n.chars().next().unwrap().is_ascii_alphabetic());
            }
        }
        let row: Map<String, Value> = serde_json::from_value(
            json!({ "Id": "x", "TenantId": "t", "Type": "AADRiskyUsers", "RiskLevel": "high", "TimeGenerated": null }),
        )
        .unwrap();
        assert_eq!(
            custom_row(Category::RiskyUsers, &row),
            json!({ "RecordId": "x", "EntraTenantId": "t", "RiskLevel": "high" })
        );
    }
}
