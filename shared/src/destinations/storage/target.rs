//! Where the archive is written: a folder or a Blob account, from a connection string.

use crate::secret::Secret;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum StorageTarget {
    /// A local folder holding `<container>/<blob path>` files.
    Folder(PathBuf),
    /// A Blob account: its endpoint (`https://<account>.blob.core.windows.net`, or Azurite's
    /// path-style `http://127.0.0.1:10000/devstoreaccount1`), name and Shared Key.
    Account {
        endpoint: String,
        account: String,
        key: Secret,
    },
}

impl StorageTarget {
    /// Reads an Azure Storage connection string (`DefaultEndpointsProtocol=...;AccountName=...;
    /// AccountKey=...;BlobEndpoint=...` or `UseDevelopmentStorage=true`).
    pub fn from_connection_string(text: &str) -> Result<Self, String> {
        let parts = crate::destinations::connection_string_parts(text)?;
        if parts
            .get("usedevelopmentstorage")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(StorageTarget::Account {
                endpoint: "http://127.0.0.1:10000/devstoreaccount1".into(),
                account: "devstoreaccount1".into(),
                key: Secret::new(AZURITE_KEY),
            });
        }
        let account = parts
            .get("accountname")
            .cloned()
            .ok_or("AccountName is missing")?;
        let key = parts
            .get("accountkey")
            .cloned()
            .ok_or("AccountKey is missing")?;
        let endpoint = match parts.get("blobendpoint") {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => {
                let protocol = parts
                    .get("defaultendpointsprotocol")
                    .map(String::as_str)
                    .unwrap_or("https");
                let suffix = parts
                    .get("endpointsuffix")
                    .map(String::as_str)
                    .unwrap_or("core.windows.net");
                format!("{protocol}://{account}.blob.{suffix}")
            }
        };
        Ok(StorageTarget::Account {
            endpoint,
            account,
            key: Secret::new(key),
        })
    }
}

/// Azurite's well-known development account key (<https://learn.microsoft.com/en-us/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key>); not a secret.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_read() {
        let t = StorageTarget::from_connection_string("DefaultEndpointsProtocol=https;AccountName=contosologs;AccountKey=a2V5;EndpointSuffix=core.windows.net").unwrap();
        let StorageTarget::Account {
            endpoint, account, ..
        } = t
        else {
            panic!()
        };
        assert_eq!(
            (endpoint.as_str(), account.as_str()),
            ("https://contosologs.blob.core.windows.net", "contosologs")
        );
        assert!(
            matches!(StorageTarget::from_connection_string("UseDevelopmentStorage=true").unwrap(), StorageTarget::Account { account, .. } if account == "devstoreaccount1")
        );
        assert!(
            StorageTarget::from_connection_string("AccountName=x")
                .unwrap_err()
                .contains("AccountKey")
        );
    }
}
