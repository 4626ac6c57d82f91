//! Where state shared by every instance lives: a Blob container on a storage account (a
//! connection string, or the account's URL reached with the destination credential). Today
//! it holds the collection leases ([`super::lease`]), so that one instance at a time collects a
//! tenant's category; unset, a single process is assumed (local `serve`, one instance).

use super::lease::Leases;
use crate::config::given::{pick, secret, url};
use crate::destinations::storage::config::{AUDIENCE, account_of};
use crate::destinations::storage::service::BlobService;
use crate::destinations::storage::target::StorageTarget;
use crate::source::token::TokenCache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long a lease lasts unless renewed: a writer that dies frees it within this time.
const LEASE_SECONDS: u32 = 30;

/// The environment variables read here.
pub const ENV: &[&str] = &[
    "ENTRA_MONITOR_STATE_CONNECTION_STRING",
    "ENTRA_MONITOR_STATE_ACCOUNT_URL",
    "ENTRA_MONITOR_STATE_CONTAINER",
];

/// The file's `[state]` table (the connection string only through a variable it names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileState {
    connection_string_env: Option<String>,
    account_url: Option<String>,
    container: Option<String>,
}

/// The shared state's account.
#[derive(Debug, Clone)]
pub enum StateAccount {
    /// With its key, from a connection string.
    Account(StorageTarget),
    /// Reached with the destination credential's bearer token.
    AccountWithIdentity { url: String },
}

#[derive(Debug, Clone, Default)]
pub struct StateSettings {
    /// The account and container, when instances share state.
    pub shared: Option<(StateAccount, String)>,
}

/// Reads `[state]` / `ENTRA_MONITOR_STATE_*`.
pub fn read(
    env: &BTreeMap<String, String>,
    file: FileState,
    problem: &mut impl FnMut(&str, String),
) -> StateSettings {
    let conn = secret(
        env,
        "ENTRA_MONITOR_STATE_CONNECTION_STRING",
        file.connection_string_env,
        "state.connection_string_env",
        problem,
    );
    let account_url = pick(
        env,
        "ENTRA_MONITOR_STATE_ACCOUNT_URL",
        file.account_url,
        "state.account_url",
    );
    let container = pick(
        env,
        "ENTRA_MONITOR_STATE_CONTAINER",
        file.container,
        "state.container",
    );
    let container = match container {
        None => "entra-monitor-state".to_string(),
        Some((setting, name)) => {
            // Blob container names: 3-63 lower-case letters, digits and single hyphens.
            let valid = (3..=63).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--");
            if !valid {
                problem(
                    &setting,
                    format!(
                        "\"{name}\" is not a container name; expected 3 to 63 lower-case letters, digits and single hyphens"
                    ),
                );
            }
            name
        }
    };
    let account = match (conn, account_url) {
        (Some(_), Some((setting, _))) => {
            problem(
                &setting,
                "set either the state connection string or the account URL, not both".into(),
            );
            None
        }
        (Some((setting, text)), None) => match StorageTarget::from_connection_string(&text) {
            Ok(t @ StorageTarget::Account { .. }) => Some(StateAccount::Account(t)),
            Ok(StorageTarget::Folder(_)) => None,
            Err(e) => {
                problem(&setting, format!("not a storage connection string: {e}"));
                None
            }
        },
        (None, Some((setting, u))) => Some(StateAccount::AccountWithIdentity {
            url: url(
                &setting,
                &u,
                "https://contosostate.blob.core.windows.net",
                problem,
            ),
        }),
        (None, None) => None,
    };
    StateSettings {
        shared: account.map(|a| (a, container)),
    }
}

impl StateSettings {
    /// The collection leases, when instances share state; `tokens` gives the destination
    /// credential's tokens for an audience.
    pub fn leases(
        &self,
        tokens: impl FnOnce(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<Option<Leases>, String> {
        let Some((account, container)) = &self.shared else {
            return Ok(None);
        };
        let service = match account {
            StateAccount::Account(StorageTarget::Account {
                endpoint,
                account,
                key,
            }) => BlobService::new(endpoint, account, key).map_err(|e| e.to_string())?,
            StateAccount::Account(StorageTarget::Folder(_)) => return Ok(None),
            StateAccount::AccountWithIdentity { url } => {
                BlobService::with_tokens(url, &account_of(url), tokens(AUDIENCE)?)
            }
        };
        Ok(Some(Leases::new(
            Arc::new(service),
            container,
            LEASE_SECONDS,
        )))
    }
}
