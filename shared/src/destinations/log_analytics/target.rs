//! Where rows are ingested: the DCR and its endpoint.

use crate::model::Category;

#[derive(Debug, Clone)]
pub struct LogAnalyticsTarget {
    /// The DCR's logs-ingestion endpoint or a DCE, e.g.
    /// `https://my-dce.westeurope-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The DCR's immutable id, `dcr-...`.
    pub dcr_immutable_id: String,
}

impl LogAnalyticsTarget {
    /// The stream a category's rows are posted to: `Custom-<Table>_CL`.
    pub fn stream(category: Category) -> String {
        format!("Custom-{}_CL", category.table())
    }
}
