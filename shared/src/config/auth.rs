//! Who may call the question endpoints: API keys (configured as SHA-256 hashes, never the keys),
//! and Entra access tokens for an API app registration (audience and app role).

use serde::Deserialize;
use std::collections::BTreeMap;

/// An API key: its name (for logs), the SHA-256 of the key (hex), and the tenants it may read
/// (ids or names; empty: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub sha256: String,
    pub tenants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthSettings {
    pub api_keys: Vec<ApiKey>,
    /// The `aud` Entra access tokens must carry (the API app's id URI or client id); None: bearer
    /// tokens are not accepted.
    pub audience: Option<String>,
    /// The app role (or delegated scope) a token must carry.
    pub role: String,
}

impl AuthSettings {
    /// Whether any way to authenticate is configured.
    pub fn configured(&self) -> bool {
        !self.api_keys.is_empty() || self.audience.is_some()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuth {
    audience: Option<String>,
    role: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileApiKey {
    name: Option<String>,
    sha256: Option<String>,
    #[serde(default)]
    tenants: Vec<String>,
}

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_API_KEYS",
    "ENTRA_MONITOR_AUTH_AUDIENCE",
    "ENTRA_MONITOR_AUTH_ROLE",
];

fn key(
    setting: &str,
    name: &str,
    hash: &str,
    tenants: Vec<String>,
    problem: &mut impl FnMut(&str, String),
) -> Option<ApiKey> {
    let hash = hash.trim().to_ascii_lowercase();
    let hash = hash.strip_prefix("sha256:").unwrap_or(&hash).to_string();
    if name.trim().is_empty() {
        problem(
            setting,
            "an API key has no name; expected name=<sha256 hex>".into(),
        );
        return None;
    }
    if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        problem(
            setting,
            format!(
                "the key {name} is not given as a SHA-256 hash (64 hex digits); hash it with `entra-monitor hash-key` and configure the hash, never the key"
            ),
        );
        return None;
    }
    Some(ApiKey {
        name: name.trim().to_string(),
        sha256: hash,
        tenants,
    })
}

pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileAuth,
    file_keys: Vec<FileApiKey>,
    problem: &mut impl FnMut(&str, String),
) -> AuthSettings {
    let mut api_keys = Vec::new();
    for (i, k) in file_keys.into_iter().enumerate() {
        let setting = format!("api_keys[{i}]");
        if let Some(k) = key(
            &setting,
            k.name.as_deref().unwrap_or_default(),
            k.sha256.as_deref().unwrap_or_default(),
            k.tenants,
            problem,
        ) {
            api_keys.push(k);
        }
    }
    // name=<hash>[@tenant|tenant];...
    if let Some(text) = env.get("ENTRA_MONITOR_API_KEYS") {
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, rest) = part.split_once('=').unwrap_or(("", part));
            let (hash, tenants) = match rest.split_once('@') {
                Some((hash, list)) => {
                    let tenants: Vec<String> = list
                        .split('|')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect();
                    // An `@` promises a restriction: an empty or `*` list would silently
                    // mean every tenant.
                    if tenants.is_empty() || tenants.iter().any(|t| t == "*") {
                        problem(
                            "ENTRA_MONITOR_API_KEYS",
                            format!(
                                "the key {} names no tenant after @ (or *); list its tenants after @ (tenant|tenant), or leave out the @ for every tenant",
                                name.trim()
                            ),
                        );
                        continue;
                    }
                    (hash, tenants)
                }
                None => (rest, Vec::new()),
            };
            if let Some(k) = key("ENTRA_MONITOR_API_KEYS", name, hash, tenants, problem) {
                api_keys.push(k);
            }
        }
    }
    let audience = env
        .get("ENTRA_MONITOR_AUTH_AUDIENCE")
        .cloned()
        .or(file.audience)
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    let role = env
        .get("ENTRA_MONITOR_AUTH_ROLE")
        .cloned()
        .or(file.role)
        .unwrap_or_else(|| "Reports.Read".into());
    AuthSettings {
        api_keys,
        audience,
        role,
    }
}
