//! Where events are sent.

use super::sink::EventHubsSink;
use super::target::{EventHubsAuth, EventHubsTarget};
use crate::config::given::{pick, secret, url};
use crate::secret::Secret;
use crate::source::token::TokenCache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The token audience of Event Hubs (<https://learn.microsoft.com/en-us/rest/api/eventhub/send-batch-events>).
pub const AUDIENCE: &str = "https://eventhubs.azure.net";

/// The environment variables read here.
pub const ENV: &[&str] = &[
    "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
    "ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL",
    "ENTRA_MONITOR_EVENT_HUB",
    "ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES",
];

/// The Event Hubs settings: the namespace, the hub, and a SAS key or (None) the destination
/// credential.
#[derive(Debug, Clone)]
pub struct EventHubsSetting {
    pub endpoint: String,
    pub hub: Option<String>,
    /// From a connection string; None: the destination credential's bearer token.
    pub sas: Option<(String, Secret)>,
    pub max_request_bytes: usize,
}

/// The file's `[event_hubs]` table (the connection string, which holds the key, only through
/// an environment variable the file names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEventHubs {
    connection_string_env: Option<String>,
    namespace_url: Option<String>,
    hub: Option<String>,
    max_request_bytes: Option<u64>,
}

/// Event Hubs: a connection string (SAS) or a namespace URL with the identity.
pub fn read(
    env: &BTreeMap<String, String>,
    file: FileEventHubs,
    problem: &mut impl FnMut(&str, String),
) -> Option<EventHubsSetting> {
    let eh_conn = secret(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
        file.connection_string_env,
        "event_hubs.connection_string_env",
        problem,
    );
    let namespace = pick(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_NAMESPACE_URL",
        file.namespace_url,
        "event_hubs.namespace_url",
    );
    let hub = pick(env, "ENTRA_MONITOR_EVENT_HUB", file.hub, "event_hubs.hub");
    let max_request_bytes = match pick(
        env,
        "ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES",
        file.max_request_bytes.map(|n| n.to_string()),
        "event_hubs.max_request_bytes",
    ) {
        None => 1_048_576,
        Some((setting, text)) => match text.parse::<usize>() {
            Ok(n) if (4096..=1_048_576).contains(&n) => n,
            _ => {
                problem(
                    &setting,
                    format!(
                        "\"{text}\" is out of range; expected 4096 to 1048576 bytes (1048576 on Standard and above, 262144 on Basic)"
                    ),
                );
                1_048_576
            }
        },
    };
    match (eh_conn, namespace) {
        (Some(_), Some((setting, _))) => {
            problem(
                &setting,
                "set either the Event Hubs connection string or the namespace URL, not both".into(),
            );
            None
        }
        (Some((setting, text)), None) => match EventHubsTarget::from_connection_string(&text) {
            Ok(t) => {
                let sas = match t.auth {
                    EventHubsAuth::Sas { key_name, key } => Some((key_name, key)),
                    _ => None,
                };
                Some(EventHubsSetting {
                    endpoint: t.endpoint,
                    hub: hub.map(|(_, h)| h).or(t.hub),
                    sas,
                    max_request_bytes,
                })
            }
            Err(e) => {
                problem(
                    &setting,
                    format!("not an Event Hubs connection string: {e}"),
                );
                None
            }
        },
        (None, Some((setting, u))) => Some(EventHubsSetting {
            endpoint: url(
                &setting,
                &u,
                "https://contoso-logs.servicebus.windows.net",
                problem,
            ),
            hub: hub.map(|(_, h)| h),
            sas: None,
            max_request_bytes,
        }),
        (None, None) => None,
    }
}

impl EventHubsSetting {
    /// The sink these settings describe; `tokens` is asked only without a SAS key.
    pub fn sink(
        &self,
        tokens: impl FnOnce(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<EventHubsSink, String> {
        let auth = match &self.sas {
            Some((key_name, key)) => EventHubsAuth::Sas {
                key_name: key_name.clone(),
                key: key.clone(),
            },
            None => EventHubsAuth::Bearer(tokens(AUDIENCE)?),
        };
        Ok(EventHubsSink::new(EventHubsTarget {
            endpoint: self.endpoint.clone(),
            hub: self.hub.clone(),
            auth,
            max_request_bytes: self.max_request_bytes,
        }))
    }
}
