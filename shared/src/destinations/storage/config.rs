//! Where the archive is written: the settings (a folder, a connection string, or an account URL
//! reached with the destination credential), read and checked here, and the sink they build.

use super::service::BlobService;
use super::sink::{Place, StorageSink};
use super::target::StorageTarget;
use crate::config::given::{pick, secret, url};
use crate::source::token::TokenCache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The token audience of Blob Storage (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/services-id-authentication-support>).
pub const AUDIENCE: &str = "https://storage.azure.com";

/// The environment variables read here.
pub const ENV: &[&str] = &[
    "ENTRA_MONITOR_STORAGE_FOLDER",
    "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
    "ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
];

/// Where the archive goes.
#[derive(Debug, Clone)]
pub enum StorageSetting {
    /// A folder on disk, in the same layout.
    Folder(PathBuf),
    /// A Blob account with its key (from a connection string).
    Account(StorageTarget),
    /// A Blob account reached with the destination credential (bearer token), e.g.
    /// `https://contosologs.blob.core.windows.net`.
    AccountWithIdentity { url: String },
}

/// The file's `[storage]` table (the connection string, which holds the key, only through an
/// environment variable the file names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStorage {
    folder: Option<PathBuf>,
    connection_string_env: Option<String>,
    account_url: Option<String>,
}

/// Storage: a folder, a connection string, or an account URL with the identity.
pub fn read(
    env: &BTreeMap<String, String>,
    file: FileStorage,
    problem: &mut impl FnMut(&str, String),
) -> Option<StorageSetting> {
    let folder = pick(
        env,
        "ENTRA_MONITOR_STORAGE_FOLDER",
        file.folder.map(|p| p.display().to_string()),
        "storage.folder",
    );
    let conn = secret(
        env,
        "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
        file.connection_string_env,
        "storage.connection_string_env",
        problem,
    );
    let account_url = pick(
        env,
        "ENTRA_MONITOR_STORAGE_ACCOUNT_URL",
        file.account_url,
        "storage.account_url",
    );
    let chosen = [&folder, &conn, &account_url]
        .iter()
        .filter(|o| o.is_some())
        .count();
    if chosen > 1 {
        problem(
            "ENTRA_MONITOR_STORAGE_FOLDER",
            "set only one of the storage folder, connection string and account URL".into(),
        );
    }
    if let Some((_, f)) = folder {
        Some(StorageSetting::Folder(PathBuf::from(f)))
    } else if let Some((setting, text)) = conn {
        match StorageTarget::from_connection_string(&text) {
            Ok(t) => Some(StorageSetting::Account(t)),
            Err(e) => {
                problem(&setting, format!("not a storage connection string: {e}"));
                None
            }
        }
    } else {
        account_url.map(|(setting, u)| StorageSetting::AccountWithIdentity {
            url: url(
                &setting,
                &u,
                "https://contosologs.blob.core.windows.net",
                problem,
            ),
        })
    }
}

impl StorageSetting {
    /// The sink these settings describe; `tokens` gives the destination credential's tokens
    /// for an audience, asked only when the account is reached with it.
    pub fn sink(
        &self,
        tokens: impl FnOnce(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<StorageSink, String> {
        match self {
            StorageSetting::Folder(dir) => {
                StorageSink::new(StorageTarget::Folder(dir.clone())).map_err(|e| e.to_string())
            }
            StorageSetting::Account(target) => {
                StorageSink::new(target.clone()).map_err(|e| e.to_string())
            }
            StorageSetting::AccountWithIdentity { url } => Ok(StorageSink::at(Place::Blob(
                BlobService::with_tokens(url, &account_of(url), tokens(AUDIENCE)?),
            ))),
        }
    }
}

/// The account name in a Blob endpoint URL (`https://<account>.blob.core.windows.net`).
pub(crate) fn account_of(url: &str) -> String {
    url.split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .split(['.', '/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_come_from_blob_urls() {
        assert_eq!(
            account_of("https://contosologs.blob.core.windows.net"),
            "contosologs"
        );
    }
}
