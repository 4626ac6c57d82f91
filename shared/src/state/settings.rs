//! Where state shared by every instance lives: a Blob container on a storage account (a
//! connection string, or the account's URL reached with the destination credential), or an S3
//! bucket on AWS (with the credentials Lambda gives the function). It holds the collection
//! leases ([`super::lease`]), so that one instance at a time collects a tenant's category, and
//! the durable bookkeeping ([`super::durable`]) that lets any instance — a new one, one whose
//! disk was wiped — go on where the last one stopped. Unset, a single process with its own
//! disk is assumed (local `serve`, one instance).

use super::durable::Durable;
use super::lease::Leases;
use super::objects::Objects;
use super::s3::{AwsCredentials, S3Bucket};
use crate::config::given::{pick, secret, url};
use crate::destinations::storage::config::{AUDIENCE, account_of};
use crate::destinations::storage::service::BlobService;
use crate::destinations::storage::target::StorageTarget;
use crate::secret::Secret;
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
    "ENTRA_MONITOR_STATE_BUCKET",
    "ENTRA_MONITOR_STATE_S3_ENDPOINT",
];

/// The file's `[state]` table (the connection string only through a variable it names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileState {
    connection_string_env: Option<String>,
    account_url: Option<String>,
    container: Option<String>,
    bucket: Option<String>,
    s3_endpoint: Option<String>,
}

/// The shared state's account.
#[derive(Debug, Clone)]
pub enum StateAccount {
    /// With its key, from a connection string.
    Account(StorageTarget),
    /// Reached with the destination credential's bearer token.
    AccountWithIdentity { url: String },
    /// An S3 bucket (the container is then a key prefix-free bucket of its own).
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        credentials: AwsCredentials,
    },
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What the instances share: the leases and the durable bookkeeping, in one place.
#[derive(Clone)]
pub struct Shared {
    pub leases: Leases,
    pub durable: Durable,
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
    let account = match (account, s3(env, file.bucket, file.s3_endpoint, problem)) {
        (Some(_), Some(_)) => {
            problem(
                "ENTRA_MONITOR_STATE_BUCKET",
                "set either a storage account (Azure) or an S3 bucket (AWS) for the shared state, not both".into(),
            );
            None
        }
        (account, bucket) => account.or(bucket),
    };
    StateSettings {
        shared: account.map(|a| (a, container)),
    }
}

/// The S3 bucket of `ENTRA_MONITOR_STATE_BUCKET` / `state.bucket`, with the region and
/// credentials of the environment (Lambda sets `AWS_REGION` and the role's keys).
fn s3(
    env: &BTreeMap<String, String>,
    bucket: Option<String>,
    endpoint: Option<String>,
    problem: &mut impl FnMut(&str, String),
) -> Option<StateAccount> {
    let (setting, bucket) = pick(env, "ENTRA_MONITOR_STATE_BUCKET", bucket, "state.bucket")?;
    // Bucket names: 3-63 lower-case letters, digits, dots and hyphens.
    if !(3..=63).contains(&bucket.len())
        || !bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        problem(
            &setting,
            format!(
                "\"{bucket}\" is not an S3 bucket name; expected 3 to 63 lower-case letters, digits, dots and hyphens"
            ),
        );
        return None;
    }
    let endpoint = pick(
        env,
        "ENTRA_MONITOR_STATE_S3_ENDPOINT",
        endpoint,
        "state.s3_endpoint",
    )
    .map(|(setting, u)| url(&setting, &u, "http://127.0.0.1:5000", problem));
    let var = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let (Some(key_id), Some(secret), Some(region)) = (
        var("AWS_ACCESS_KEY_ID"),
        var("AWS_SECRET_ACCESS_KEY"),
        region,
    ) else {
        problem(
            &setting,
            "the S3 state needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the function's role; elsewhere set them)".into(),
        );
        return None;
    };
    Some(StateAccount::S3 {
        bucket,
        region,
        endpoint,
        credentials: AwsCredentials {
            access_key_id: key_id,
            secret_access_key: Secret::new(secret),
            session_token: var("AWS_SESSION_TOKEN").map(Secret::new),
        },
    })
}

impl StateSettings {
    /// The leases and durable bookkeeping, when instances share state; `tokens` gives the
    /// destination credential's tokens for an audience.
    pub fn shared(
        &self,
        tokens: impl FnOnce(&str) -> Result<Arc<TokenCache>, String>,
    ) -> Result<Option<Shared>, String> {
        let Some((account, container)) = &self.shared else {
            return Ok(None);
        };
        let blob = |service: BlobService| {
            let service = Arc::new(service);
            Shared {
                leases: Leases::new(service.clone(), container, LEASE_SECONDS),
                durable: Durable::new(Objects::blob(service, container)),
            }
        };
        Ok(Some(match account {
            StateAccount::Account(StorageTarget::Account {
                endpoint,
                account,
                key,
            }) => blob(BlobService::new(endpoint, account, key).map_err(|e| e.to_string())?),
            StateAccount::Account(StorageTarget::Folder(_)) => return Ok(None),
            StateAccount::AccountWithIdentity { url } => blob(BlobService::with_tokens(
                url,
                &account_of(url),
                tokens(AUDIENCE)?,
            )),
            StateAccount::S3 {
                bucket,
                region,
                endpoint,
                credentials,
            } => {
                let bucket = Arc::new(S3Bucket::new(
                    bucket,
                    region,
                    endpoint.as_deref(),
                    credentials.clone(),
                ));
                Shared {
                    leases: Leases::on_s3(bucket.clone(), LEASE_SECONDS),
                    durable: Durable::new(Objects::S3(bucket)),
                }
            }
        }))
    }
}
