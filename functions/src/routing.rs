//! The router built from the destination settings: each configured destination's sink, with
//! the credential it needs, and the spool.

use crate::app::App;
use crate::invocation::FunctionError;
use shared::config::{SpoolSetting, StorageSetting};
use shared::destinations::Sink;
use shared::destinations::event_hubs::{EventHubsAuth, EventHubsSink, EventHubsTarget};
use shared::destinations::log_analytics::{LogAnalyticsSink, LogAnalyticsTarget};
use shared::destinations::router::Router;
use shared::destinations::spool::Spool;
use shared::destinations::storage::service::BlobService;
use shared::destinations::storage::sink::Place;
use shared::destinations::storage::{StorageSink, StorageTarget};

/// Token audiences (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>, <https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>, <https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/services-id-authentication-support>).
const MONITOR: &str = "https://monitor.azure.com";
const EVENT_HUBS: &str = "https://eventhubs.azure.net";
const STORAGE: &str = "https://storage.azure.com";

fn failed(what: &str, e: impl std::fmt::Display) -> FunctionError {
    FunctionError::Failed(format!("{what}: {e}"))
}

/// The account name in a Blob endpoint URL (`https://<account>.blob.core.windows.net`).
fn account_of(url: &str) -> String {
    url.split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .split(['.', '/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn build(app: &App) -> Result<Router, FunctionError> {
    let settings = &app.config().destinations;
    let storage = match &settings.storage {
        None => None,
        Some(StorageSetting::Folder(dir)) => Some(
            StorageSink::new(StorageTarget::Folder(dir.clone()))
                .map_err(|e| failed("storage", e))?,
        ),
        Some(StorageSetting::Account(target)) => {
            Some(StorageSink::new(target.clone()).map_err(|e| failed("storage", e))?)
        }
        Some(StorageSetting::AccountWithIdentity { url }) => Some(StorageSink::at(Place::Blob(
            BlobService::with_tokens(url, &account_of(url), app.destination_tokens(STORAGE)?),
        ))),
    };
    let log_analytics = match &settings.log_analytics {
        None => None,
        Some(la) => Some(LogAnalyticsSink::new(
            LogAnalyticsTarget {
                endpoint: la.endpoint.clone(),
                dcr_immutable_id: la.dcr_immutable_id.clone(),
            },
            Some(app.destination_tokens(MONITOR)?),
        )),
    };
    let event_hubs = match &settings.event_hubs {
        None => None,
        Some(eh) => {
            let auth = match &eh.sas {
                Some((key_name, key)) => EventHubsAuth::Sas {
                    key_name: key_name.clone(),
                    key: key.clone(),
                },
                None => EventHubsAuth::Bearer(app.destination_tokens(EVENT_HUBS)?),
            };
            Some(EventHubsSink::new(EventHubsTarget {
                endpoint: eh.endpoint.clone(),
                hub: eh.hub.clone(),
                auth,
                max_request_bytes: eh.max_request_bytes,
            }))
        }
    };
    let spool = match &settings.spool {
        SpoolSetting::Folder(dir) => Spool::Folder(dir.clone()),
        SpoolSetting::Container { account, container } => {
            let StorageTarget::Account {
                endpoint,
                account,
                key,
            } = account
            else {
                return Err(failed("spool", "the connection string names no account"));
            };
            Spool::Blob {
                service: BlobService::new(endpoint, account, key)
                    .map_err(|e| failed("spool", e))?,
                container: container.clone(),
            }
        }
    };
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(s) = storage {
        sinks.push(Box::new(s));
    }
    if let Some(s) = log_analytics {
        sinks.push(Box::new(s));
    }
    if let Some(s) = event_hubs {
        sinks.push(Box::new(s));
    }
    Ok(Router::new(app.config().routes.clone(), sinks, spool))
}

#[cfg(test)]
mod tests {
    #[test]
    fn account_names_come_from_blob_urls() {
        assert_eq!(
            super::account_of("https://contosologs.blob.core.windows.net"),
            "contosologs"
        );
    }
}
