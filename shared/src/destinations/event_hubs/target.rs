//! Where events are sent: the namespace, the hub per category, and how requests are authorised.

use crate::model::Category;
use crate::secret::Secret;
use crate::source::token::TokenCache;
use std::sync::Arc;

/// How requests are authorised.
#[derive(Clone)]
pub enum EventHubsAuth {
    /// A shared access policy with the Send claim.
    Sas { key_name: String, key: Secret },
    /// A token for `https://eventhubs.azure.net/.default` (Azure Event Hubs Data Sender role).
    Bearer(Arc<TokenCache>),
}

impl std::fmt::Debug for EventHubsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventHubsAuth::Sas { key_name, .. } => write!(f, "Sas({key_name})"),
            EventHubsAuth::Bearer(_) => f.write_str("Bearer"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EventHubsTarget {
    /// `https://<namespace>.servicebus.windows.net`.
    pub endpoint: String,
    /// One hub for every category, or (None) one per category named like diagnostic settings
    /// name them: `insights-logs-<category>`.
    pub hub: Option<String>,
    pub auth: EventHubsAuth,
    /// The largest request: 1 MB on Standard and above, 256 KB on Basic.
    pub max_request_bytes: usize,
}

impl EventHubsTarget {
    /// The hub a category's events go to.
    pub fn hub_for(&self, category: Category) -> String {
        self.hub
            .clone()
            .unwrap_or_else(|| format!("insights-logs-{}", category.name().to_ascii_lowercase()))
    }

    /// Reads a connection string: `Endpoint=sb://<ns>.servicebus.windows.net/;
    /// SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=<hub>]`. An `http://` or
    /// `https://` endpoint is kept as written (a local test server); `sb://` becomes `https://`.
    pub fn from_connection_string(text: &str) -> Result<Self, String> {
        let parts = crate::destinations::connection_string_parts(text)?;
        let endpoint = parts.get("endpoint").ok_or("Endpoint is missing")?;
        let endpoint = match endpoint.split_once("://") {
            Some(("sb", rest)) => format!("https://{rest}"),
            Some(("http" | "https", _)) => endpoint.clone(),
            _ => {
                return Err(format!(
                    "Endpoint \"{endpoint}\" is not an sb:// or https:// address"
                ));
            }
        };
        let key_name = parts
            .get("sharedaccesskeyname")
            .cloned()
            .ok_or("SharedAccessKeyName is missing")?;
        let key = parts
            .get("sharedaccesskey")
            .cloned()
            .ok_or("SharedAccessKey is missing")?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            hub: parts.get("entitypath").cloned(),
            auth: EventHubsAuth::Sas {
                key_name,
                key: Secret::new(key),
            },
            max_request_bytes: 1_048_576,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_read() {
        let t = EventHubsTarget::from_connection_string(
            "Endpoint=sb://contoso-logs.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=;EntityPath=entra",
        )
        .unwrap();
        assert_eq!(t.endpoint, "https://contoso-logs.servicebus.windows.net");
        assert_eq!(t.hub_for(Category::AuditLogs), "entra");
        assert!(
            matches!(t.auth, EventHubsAuth::Sas { ref key_name, ref key } if key_name == "send" && key.expose() == "abc=")
        );
        let t = EventHubsTarget::from_connection_string(
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k",
        )
        .unwrap();
        assert_eq!(
            t.hub_for(Category::NonInteractiveUserSignInLogs),
            "insights-logs-noninteractiveusersigninlogs"
        );
        assert!(
            EventHubsTarget::from_connection_string("Endpoint=sb://x/;SharedAccessKeyName=a")
                .unwrap_err()
                .contains("SharedAccessKey is missing")
        );
    }
}
