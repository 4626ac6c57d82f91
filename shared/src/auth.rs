//! Who is calling, and which tenants they may read.
//!
//! Two ways in, in every host: an API key (`x-api-key`), compared by its SHA-256 with the
//! configured hashes; or an Entra access token (`Authorization: Bearer`), validated against the
//! signing keys of the tenant that issued it (`tid`, which must be a configured tenant):
//! signature (RS256, key by `kid` from the tenant's JWKS), issuer, audience, expiry, and the app
//! role (or delegated scope). A key reads the tenants it is configured for; a token reads its
//! own tenant. Nothing here logs or returns a key or a token.

use crate::config::AuthSettings;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name, or the token's app or user (`appid`/`azp`/`oid`).
    pub name: String,
    /// The tenant keys (ids) the caller may read; None: all.
    pub tenants: Option<BTreeSet<String>>,
    /// Whether the caller showed a credential (a key, a token, the function key). The local
    /// host's trust in any loopback caller is not one: it allows reads, never state changes.
    pub credentialed: bool,
}

impl Caller {
    /// Everyone, for hosts where no authentication is configured and the caller is local.
    pub fn local() -> Self {
        Self {
            name: "local".into(),
            tenants: None,
            credentialed: false,
        }
    }

    /// A caller who showed a credential.
    pub fn with_credential(name: impl Into<String>, tenants: Option<BTreeSet<String>>) -> Self {
        Self {
            name: name.into(),
            tenants,
            credentialed: true,
        }
    }

    pub fn may_read(&self, tenant: &str) -> bool {
        self.tenants
            .as_ref()
            .is_none_or(|t| t.iter().any(|x| x.eq_ignore_ascii_case(tenant)))
    }
}

/// Why a request is not authenticated (401). The message names what is wrong, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unauthenticated(pub String);

/// A configured tenant: its key (id or domain, as rows are stored) and name.
#[derive(Debug, Clone)]
pub struct KnownTenant {
    pub id: String,
    pub name: String,
}

pub struct Authenticator {
    settings: AuthSettings,
    tenants: Vec<KnownTenant>,
    authority: String,
    http: reqwest::Client,
    /// Signing keys per issuing tenant. Held only for moments, never across a fetch.
    keys: std::sync::Mutex<BTreeMap<String, TenantKeys>>,
    /// One fetch at a time per tenant; callers whose key is cached never wait for it.
    fetching: std::sync::Mutex<BTreeMap<String, Arc<Mutex<()>>>>,
}

/// What is known of one tenant's signing keys.
#[derive(Default)]
struct TenantKeys {
    set: Option<JwkSet>,
    /// When the set was fetched.
    fetched: Option<Instant>,
    /// When a fetch was last tried (successful or not).
    tried: Option<Instant>,
    /// Key ids the tenant did not have at the last fetch, with when that was seen.
    unknown: BTreeMap<String, Instant>,
}

/// What the cache says of a key id.
enum Lookup {
    Found(Box<jsonwebtoken::jwk::Jwk>),
    /// Unknown, and asking again now would not be allowed yet.
    Refused,
    Fetch,
}

#[derive(Deserialize)]
struct Claims {
    tid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    scp: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
    oid: Option<String>,
}

/// How long a fetched key set is used before it is read again.
const JWKS_LIFETIME: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one tenant's keys (keys roll over rarely; a flood of
/// tokens naming made-up key ids must not become a flood of fetches).
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// How long a key id found missing is refused without looking again.
const UNKNOWN_KID_TTL: Duration = Duration::from_secs(300);
/// Unknown key ids remembered per tenant (the oldest are forgotten first).
const UNKNOWN_KIDS_MAX: usize = 1024;

fn unauthenticated(msg: impl Into<String>) -> Unauthenticated {
    Unauthenticated(msg.into())
}

impl Authenticator {
    pub fn new(settings: AuthSettings, tenants: Vec<KnownTenant>, authority: &str) -> Self {
        Self {
            settings,
            tenants,
            authority: authority.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: std::sync::Mutex::new(BTreeMap::new()),
            fetching: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    pub fn configured(&self) -> bool {
        self.settings.configured()
    }

    /// The tenant keys a list of ids or names refers to.
    fn resolve(&self, names: &[String]) -> Option<BTreeSet<String>> {
        if names.is_empty() {
            return None;
        }
        Some(
            names
                .iter()
                .map(|n| {
                    self.tenants
                        .iter()
                        .find(|t| t.id.eq_ignore_ascii_case(n) || t.name == *n)
                        .map(|t| t.id.clone())
                        .unwrap_or_else(|| n.to_ascii_lowercase())
                })
                .collect(),
        )
    }

    /// Authenticates a request by its headers (names in lower case).
    pub async fn authenticate(
        &self,
        headers: &BTreeMap<String, String>,
    ) -> Result<Caller, Unauthenticated> {
        if let Some(key) = headers.get("x-api-key") {
            let hash: String = sha2::Sha256::digest(key.trim().as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            return self
                .settings
                .api_keys
                .iter()
                .find(|k| constant_time_eq(k.sha256.as_bytes(), hash.as_bytes()))
                .map(|k| Caller::with_credential(k.name.clone(), self.resolve(&k.tenants)))
                .ok_or_else(|| unauthenticated("the API key is not one of the configured keys"));
        }
        match headers.get("authorization") {
            // `get`, not slicing: the header may hold any text, and byte 7 may fall inside a
            // character.
            Some(h)
                if h.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("bearer ")) =>
            {
                self.bearer(h.get(7..).unwrap_or_default().trim()).await
            }
            Some(_) => Err(unauthenticated(
                "the Authorization header is not \"Bearer <token>\"",
            )),
            None => Err(unauthenticated(
                "no credential: send an API key in x-api-key or an Entra access token in Authorization: Bearer",
            )),
        }
    }

    fn lookup(&self, tenant: &str, kid: &str) -> Lookup {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let Some(k) = keys.get(tenant) else {
            return Lookup::Fetch;
        };
        let fresh = k.fetched.is_some_and(|at| at.elapsed() < JWKS_LIFETIME);
        if fresh && let Some(jwk) = k.set.as_ref().and_then(|s| s.find(kid)) {
            return Lookup::Found(Box::new(jwk.clone()));
        }
        let recently_tried = k.tried.is_some_and(|at| at.elapsed() < JWKS_MIN_REFRESH);
        let known_unknown = k
            .unknown
            .get(kid)
            .is_some_and(|at| at.elapsed() < UNKNOWN_KID_TTL);
        if fresh && (known_unknown || recently_tried) {
            return Lookup::Refused;
        }
        if !fresh && recently_tried {
            // The last fetch failed moments ago: do not hammer the key server.
            return match k.set.as_ref().and_then(|s| s.find(kid)) {
                Some(jwk) => Lookup::Found(Box::new(jwk.clone())),
                None => Lookup::Refused,
            };
        }
        Lookup::Fetch
    }

    /// The signing key `kid` of `tenant`: from the cache, or fetched (one fetch at a time per
    /// tenant, at most one per [`JWKS_MIN_REFRESH`]; a key id found missing is refused for
    /// [`UNKNOWN_KID_TTL`] without asking again).
    async fn signing_key(
        &self,
        tenant: &str,
        kid: &str,
    ) -> Result<jsonwebtoken::jwk::Jwk, Unauthenticated> {
        let missing =
            || unauthenticated("the bearer token's signing key is not one of the tenant's keys");
        match self.lookup(tenant, kid) {
            Lookup::Found(jwk) => return Ok(*jwk),
            Lookup::Refused => return Err(missing()),
            Lookup::Fetch => {}
        }
        let gate = self
            .fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = gate.lock().await;
        // Another caller may have fetched while this one waited.
        match self.lookup(tenant, kid) {
            Lookup::Found(jwk) => return Ok(*jwk),
            Lookup::Refused => return Err(missing()),
            Lookup::Fetch => {}
        }
        let fetched = self.fetch_jwks(tenant).await;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let k = keys.entry(tenant.to_string()).or_default();
        k.tried = Some(Instant::now());
        match fetched {
            Ok(set) => {
                k.set = Some(set);
                k.fetched = k.tried;
                k.unknown.clear();
            }
            Err(e) => {
                tracing::warn!(tenant, "cannot read the tenant's signing keys: {e}");
                if k.set.is_none() {
                    return Err(unauthenticated(
                        "the token cannot be checked now: the tenant's signing keys are unavailable",
                    ));
                }
            }
        }
        match k.set.as_ref().and_then(|s| s.find(kid)) {
            Some(jwk) => Ok(jwk.clone()),
            None => {
                if k.unknown.len() >= UNKNOWN_KIDS_MAX
                    && let Some(oldest) = k
                        .unknown
                        .iter()
                        .min_by_key(|(_, at)| **at)
                        .map(|(id, _)| id.clone())
                {
                    k.unknown.remove(&oldest);
                }
                k.unknown.insert(kid.to_string(), Instant::now());
                Err(missing())
            }
        }
    }

    async fn fetch_jwks(&self, tenant: &str) -> Result<JwkSet, String> {
        let url = format!("{}/{tenant}/discovery/v2.0/keys", self.authority);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        // A key set is a few kilobytes; refuse to buffer a hostile answer.
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > 1024 * 1024 {
            return Err("the key set is larger than 1 MiB".into());
        }
        serde_json::from_slice::<JwkSet>(&body).map_err(|e| e.to_string())
    }

    async fn bearer(&self, token: &str) -> Result<Caller, Unauthenticated> {
        let Some(audience) = &self.settings.audience else {
            return Err(unauthenticated(
                "bearer tokens are not accepted here (ENTRA_MONITOR_AUTH_AUDIENCE is not set)",
            ));
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthenticated("the bearer token is not a JWT"))?;
        if header.alg != Algorithm::RS256 {
            return Err(unauthenticated("the bearer token is not signed with RS256"));
        }
        let kid = header
            .kid
            .ok_or_else(|| unauthenticated("the bearer token names no signing key (kid)"))?;
        // Which tenant issued it decides whose keys check it; only configured tenants count.
        let unverified: Claims = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| unauthenticated("the bearer token's claims are unreadable"))?;
        let tid = unverified
            .tid
            .map(|t| t.to_ascii_lowercase())
            .ok_or_else(|| unauthenticated("the bearer token has no tenant (tid)"))?;
        if !self.tenants.iter().any(|t| t.id.eq_ignore_ascii_case(&tid)) {
            return Err(unauthenticated(
                "the bearer token was issued by a tenant that is not configured",
            ));
        }
        // Keys roll over: an unknown key id makes one fetch (rate-limited), then is refused.
        let jwk = self.signing_key(&tid, &kid).await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| unauthenticated("the tenant's signing key is unusable"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 300;
        validation.validate_nbf = true;
        validation.set_audience(&[audience.as_str()]);
        validation.set_issuer(&[
            format!("{}/{tid}/v2.0", self.authority),
            format!("https://sts.windows.net/{tid}/"),
        ]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            unauthenticated(match e.kind() {
                K::ExpiredSignature => "the bearer token has expired",
                K::ImmatureSignature => "the bearer token is not valid yet",
                K::InvalidAudience => "the bearer token is for another audience",
                K::InvalidIssuer => "the bearer token has an unexpected issuer",
                K::InvalidSignature | K::Base64(_) => "the bearer token's signature is not valid",
                K::MissingRequiredClaim(_) => "the bearer token lacks exp, aud or iss",
                _ => "the bearer token is not valid",
            })
        })?;
        let c = data.claims;
        let role = &self.settings.role;
        let has_role = c.roles.iter().any(|r| r == role)
            || c.scp
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|x| x == role));
        if !has_role {
            return Err(unauthenticated(format!(
                "the bearer token lacks the {role} role; assign it to the caller in the API's app registration"
            )));
        }
        let name = c
            .appid
            .or(c.azp)
            .or(c.oid)
            .unwrap_or_else(|| "token".into());
        Ok(Caller::with_credential(name, Some(BTreeSet::from([tid]))))
    }
}

/// Whether two hashes are equal, compared in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hash to configure for an API key (hex SHA-256).
pub fn hash_key(key: &str) -> String {
    sha2::Sha256::digest(key.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKey;

    #[tokio::test]
    async fn api_keys_are_checked_by_hash_and_limited_to_their_tenants() {
        let settings = AuthSettings {
            api_keys: vec![ApiKey {
                name: "msp-contoso".into(),
                sha256: hash_key("s3cret-key"),
                tenants: vec!["contoso".into()],
            }],
            audience: None,
            role: "Reports.Read".into(),
        };
        let tenants = vec![
            KnownTenant {
                id: "aaaa".into(),
                name: "contoso".into(),
            },
            KnownTenant {
                id: "bbbb".into(),
                name: "fabrikam".into(),
            },
        ];
        let a = Authenticator::new(settings, tenants, "https://login.microsoftonline.com");
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let caller = a.authenticate(&h("x-api-key", "s3cret-key")).await.unwrap();
        assert!(caller.may_read("aaaa") && !caller.may_read("bbbb"));
        let e = a.authenticate(&h("x-api-key", "guess")).await.unwrap_err();
        assert!(!e.0.contains("guess"));
        assert!(
            a.authenticate(&BTreeMap::new())
                .await
                .unwrap_err()
                .0
                .contains("no credential")
        );
        // A character across byte 7 is not a panic.
        assert!(
            a.authenticate(&h("authorization", "Bearer\u{e9}x"))
                .await
                .is_err()
        );
        assert!(
            a.authenticate(&h("authorization", "Bearer x.y.z"))
                .await
                .unwrap_err()
                .0
                .contains("not accepted here")
        );
    }
}
