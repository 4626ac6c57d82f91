//! Access tokens for Microsoft Graph (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>): client credentials with a secret or a
//! certificate (a signed client assertion) at the v2.0 token endpoint
//! (`https://graph.microsoft.com/.default`), or the host's managed identity
//! (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`). Tokens are cached and refreshed five minutes before
//! they expire. Neither the secret nor a token ever appears in an error or a log line.

use crate::secret::Secret;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Where a token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    ClientSecret {
        authority_host: String,
        tenant: String,
        client_id: String,
        secret: Secret,
        scope: String,
    },
    /// A PEM file holding the app's private key and its certificate.
    Certificate {
        authority_host: String,
        tenant: String,
        client_id: String,
        pem_path: std::path::PathBuf,
        scope: String,
    },
    ManagedIdentity {
        endpoint: String,
        header: Secret,
        resource: String,
        client_id: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The identity platform answered with an error (wrong secret, unknown app or tenant, ...).
    #[error("the token request was refused ({code}): {description}; {remedy}")]
    Refused {
        code: String,
        description: String,
        remedy: String,
    },
    #[error("the token endpoint could not be reached or answered unreadably: {0}")]
    Unavailable(String),
}

/// What to do about an AADSTS error (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>).
fn remedy(code: &str) -> &'static str {
    match code {
        c if c.contains("7000215") => {
            "the client secret is wrong; set the current secret value (not its id)"
        }
        c if c.contains("7000222") => {
            "the client secret has expired; create a new one and update the setting"
        }
        c if c.contains("700016") => {
            "the application id is not known in this tenant; check the client id, or consent the app in the tenant"
        }
        c if c.contains("90002") => "the tenant was not found; check the tenant id or domain",
        c if c.contains("65001") || c.contains("90094") => {
            "admin consent is missing for the app's permissions"
        }
        _ => "check the tenant's credentials",
    }
}

/// A token source with its cached token.
#[derive(Debug)]
pub struct TokenCache {
    source: TokenSource,
    http: reqwest::Client,
    cached: Mutex<Option<(Secret, Instant)>>,
}

/// How long before expiry a token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl TokenCache {
    pub fn new(source: TokenSource) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            source,
            http,
            cached: Mutex::new(None),
        }
    }

    /// A valid token, from the cache or freshly acquired.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, _)) = cached
            .as_ref()
            .filter(|(_, expires)| Instant::now() + REFRESH_MARGIN < *expires)
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.acquire().await?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Forgets the cached token (after Graph refused it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The client-credentials grant, with the app's proof (a secret or an assertion).
    async fn client_credentials(
        &self,
        url: &str,
        client_id: &str,
        scope: &str,
        proof: &[(&str, &str)],
    ) -> Result<reqwest::Response, TokenError> {
        let mut form = vec![
            ("client_id", client_id),
            ("scope", scope),
            ("grant_type", "client_credentials"),
        ];
        form.extend_from_slice(proof);
        self.http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.without_url().to_string()))
    }

    async fn acquire(&self) -> Result<(Secret, Duration), TokenError> {
        let unavailable = |e: reqwest::Error| TokenError::Unavailable(e.without_url().to_string());
        let response = match &self.source {
            TokenSource::ClientSecret {
                authority_host,
                tenant,
                client_id,
                secret,
                scope,
            } => {
                let url = token_url(authority_host, tenant);
                self.client_credentials(
                    &url,
                    client_id,
                    scope,
                    &[("client_secret", secret.expose())],
                )
                .await?
            }
            TokenSource::Certificate {
                authority_host,
                tenant,
                client_id,
                pem_path,
                scope,
            } => {
                let url = token_url(authority_host, tenant);
                let assertion = client_assertion(pem_path, client_id, &url)?;
                let proof = [
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose()),
                ];
                self.client_credentials(&url, client_id, scope, &proof)
                    .await?
            }
            TokenSource::ManagedIdentity {
                endpoint,
                header,
                resource,
                client_id,
            } => {
                let mut query = vec![
                    ("resource", resource.as_str()),
                    ("api-version", "2019-08-01"),
                ];
                if let Some(id) = client_id {
                    query.push(("client_id", id.as_str()));
                }
                self.http
                    .get(endpoint)
                    .query(&query)
                    .header("X-IDENTITY-HEADER", header.expose())
                    .send()
                    .await
                    .map_err(unavailable)?
            }
        };
        let status = response.status();
        let body: Value = response.json().await.map_err(unavailable)?;
        if !status.is_success() {
            let description = body["error_description"]
                .as_str()
                .or(body["message"].as_str())
                .unwrap_or("no description");
            // The first line carries the AADSTS code and the reason; trace ids follow.
            let description: String = description
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            let code = description
                .split(':')
                .next()
                .filter(|c| c.starts_with("AADSTS"))
                .map(String::from)
                .or_else(|| body["error"].as_str().map(String::from))
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(TokenError::Refused {
                remedy: remedy(&code).to_string(),
                code,
                description,
            });
        }
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::Unavailable("the answer carries no access_token".into()))?;
        // Client credentials answer expires_in (seconds); managed identity expires_on (epoch seconds, as text).
        let lifetime = match (body.get("expires_in"), body.get("expires_on")) {
            (Some(v), _) => number(v).map(Duration::from_secs),
            (None, Some(v)) => number(v).map(|at| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                Duration::from_secs(at.saturating_sub(now))
            }),
            _ => None,
        }
        .unwrap_or(Duration::from_secs(3599));
        Ok((Secret::new(token), lifetime))
    }
}

fn token_url(authority_host: &str, tenant: &str) -> String {
    format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority_host.trim_end_matches('/')
    )
}

/// A client assertion: a JWT signed (RS256) with the app's certificate key, naming the
/// certificate by its SHA-1 thumbprint (`x5t`), valid for ten minutes, for the token endpoint.
fn client_assertion(
    pem_path: &std::path::Path,
    client_id: &str,
    audience: &str,
) -> Result<Secret, TokenError> {
    use base64::Engine;
    let bad = |what: String| TokenError::Refused {
        code: "certificate".into(),
        description: format!("{}: {what}", pem_path.display()),
        remedy: "give a PEM file holding the app's private key and its certificate".into(),
    };
    let text =
        std::fs::read_to_string(pem_path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let blocks = pem::parse_many(&text).map_err(|e| bad(format!("not PEM ({e})")))?;
    let cert = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| bad("no CERTIFICATE block".into()))?;
    let key = blocks
        .iter()
        .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
        .ok_or_else(|| bad("no PRIVATE KEY block".into()))?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem::encode(key).as_bytes())
        .map_err(|e| bad(format!("the key is not an RSA key ({e})")))?;
    let thumbprint = <sha1::Sha1 as sha1::Digest>::digest(cert.contents());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(thumbprint));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": format!("{:032x}", fastrand::u128(..)),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Secret::new)
        .map_err(|e| bad(format!("cannot sign ({e})")))
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}
