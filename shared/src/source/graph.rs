//! One Graph page at a time, with the retries Graph asks for (<https://learn.microsoft.com/en-us/graph/paging>, <https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-reports-service-limits>):
//! 429 honours `Retry-After` or backs off exponentially with jitter (Identity Protection sends
//! none); 5xx, timeouts, dropped connections and truncated bodies are retried within limits;
//! licence and permission refusals are returned at once, named, never retried.

use super::budget::Budget;
use super::token::{TokenCache, TokenError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// One page of a Graph list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub value: Vec<Value>,
    pub next_link: Option<String>,
    /// A delta round's last page: where the next round starts (`@odata.deltaLink`).
    pub delta_link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The tenant lacks a licence or the app a permission; retrying cannot help.
    #[error("Graph refused the request ({code}): {message}; {remedy}")]
    Refused {
        status: u16,
        code: String,
        message: String,
        remedy: String,
    },
    #[error("Graph rejected the request with {status} ({code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Graph kept failing after {attempts} attempts; last: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error("no access token for Graph: {0}")]
    Token(#[from] TokenError),
    /// The task fetching the page ended without an answer (the process is shutting down).
    #[error("the page's fetch was interrupted: {0}")]
    Interrupted(String),
}

impl GraphError {
    /// A next-page link Graph no longer accepts ("Invalid Skip Token": kept too long); the
    /// read can start again from where it got to.
    pub fn is_expired_page_link(&self) -> bool {
        matches!(self, GraphError::Rejected { status: 400, message, .. }
            if message.to_ascii_lowercase().contains("skip token")
                || message.to_ascii_lowercase().contains("skiptoken"))
    }

    /// A delta link Graph no longer accepts (`syncStateNotFound`: older than seven days, or
    /// the directory's sync state reset): the round starts again with a full listing.
    /// <https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/>
    pub fn is_expired_delta_link(&self) -> bool {
        matches!(self, GraphError::Rejected { status: 400 | 410, code, .. }
            if code.eq_ignore_ascii_case("syncStateNotFound") || code.eq_ignore_ascii_case("resyncRequired"))
    }
}

/// Graph's error code for a tenant without the licence a resource needs.
pub const NO_LICENCE: &str = "Authentication_RequestFromNonPremiumTenantOrB2CTenant";

/// What a refusal of `url` needs, by Graph error code.
fn remedy(url: &str, code: &str, status: u16) -> Option<String> {
    // Identity Protection for workload identities is licensed and permitted on its own.
    let workload_risk = url.contains("identityProtection/servicePrincipalRiskDetections")
        || url.contains("identityProtection/riskyServicePrincipals");
    Some(match code {
        NO_LICENCE if workload_risk => {
            "the tenant needs Microsoft Entra Workload ID Premium to read service principals' risk through Graph; the category is paused".into()
        }
        NO_LICENCE => {
            "the tenant needs a Microsoft Entra ID P1 or P2 licence to read sign-in logs through Graph; the category is paused".into()
        }
        "Authorization_RequestDenied" | "Forbidden" | "AccessDenied" if workload_risk => {
            "grant the app IdentityRiskEvent.Read.All (service principal risk detections) and IdentityRiskyServicePrincipal.Read.All (risky service principals), with admin consent; the category is paused".into()
        }
        "Authorization_RequestDenied" | "Forbidden" | "AccessDenied" => {
            "grant the app AuditLog.Read.All (sign-ins, audits, provisioning) or IdentityRiskEvent.Read.All / IdentityRiskyUser.Read.All (risk), with admin consent; the category is paused".into()
        }
        "InvalidAuthenticationToken" | "Authentication_MissingOrMalformed" => {
            "the access token was refused; check the tenant's credentials; the category is paused".into()
        }
        _ if status == 401 || status == 403 => format!("HTTP {status}: check the app's permissions and the tenant's licence; the category is paused"),
        _ => return None,
    })
}

/// Retry limits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Counters a collector reports in health.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub throttled: u64,
    pub retried: u64,
}

/// A Graph client for one tenant. Budgets are shared: the tenant's by every collector of
/// that tenant, the app's by every tenant.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    tenant_budget: Arc<Budget>,
    app_budget: Arc<Budget>,
    retry: RetryPolicy,
    tokens: Option<Arc<TokenCache>>,
}

impl GraphClient {
    pub fn new(tenant_budget: Arc<Budget>, app_budget: Arc<Budget>, retry: RetryPolicy) -> Self {
        let http = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            tenant_budget,
            app_budget,
            retry,
            tokens: None,
        }
    }

    /// Sends a bearer token from `tokens` with every request.
    pub fn with_tokens(mut self, tokens: Arc<TokenCache>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Fetches one page, retrying what is transient.
    pub async fn page(&self, url: &str, counters: &mut Counters) -> Result<Page, GraphError> {
        self.call(reqwest::Method::GET, url, None, counters, parse_page)
            .await
    }

    /// Posts an action (e.g. `riskyUsers/dismiss`), retrying what is transient; any 2xx is
    /// success.
    pub async fn post(
        &self,
        url: &str,
        body: &Value,
        counters: &mut Counters,
    ) -> Result<(), GraphError> {
        self.call(reqwest::Method::POST, url, Some(body), counters, |_| Ok(()))
            .await
    }

    /// A POST whose answer is the object changed (an action such as a recommendation's
    /// `dismiss`, which sets a state and so may be retried).
    pub async fn post_for_object(
        &self,
        url: &str,
        body: &Value,
        counters: &mut Counters,
    ) -> Result<Value, GraphError> {
        self.call(reqwest::Method::POST, url, Some(body), counters, |text| {
            serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| "the answer is not a JSON object".to_string())
        })
        .await
    }

    /// One request with its retries; `read` turns a 2xx body into the answer (an unreadable
    /// one is retried like a truncated page).
    async fn call<T>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        counters: &mut Counters,
        read: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, GraphError> {
        let mut last = String::new();
        let mut token_renewed = false;
        for attempt in 1..=self.retry.max_attempts {
            // The tenant's budget first, the app's last: the app-wide slot is taken right
            // before the request goes out, not while this tenant waits for its own (which
            // would let several tenants' requests bunch up past the app's limit).
            self.tenant_budget.acquire().await;
            self.app_budget.acquire().await;
            counters.requests += 1;
            let mut req = self
                .http
                .request(method.clone(), url)
                .header("Prefer", "include-unknown-enum-members")
                .header("Accept", "application/json");
            if let Some(body) = body {
                req = req.json(body);
            }
            if let Some(tokens) = &self.tokens {
                req = req.bearer_auth(tokens.token().await?.expose());
            }
            let wait = match req.send().await {
                Err(e) => {
                    last = if e.is_timeout() {
                        "the request timed out".into()
                    } else {
                        format!("connection failed: {}", without_url(&e))
                    };
                    self.backoff(attempt)
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = resp.text().await;
                    match (status, body) {
                        (200..=299, Ok(text)) => match read(&text) {
                            Ok(answer) => return Ok(answer),
                            Err(e) => {
                                last = format!("an unreadable page ({e})");
                                self.backoff(attempt)
                            }
                        },
                        (200..=299, Err(e)) => {
                            last = format!("the body was cut off ({})", without_url(&e));
                            self.backoff(attempt)
                        }
                        (429, _) => {
                            counters.throttled += 1;
                            last = "throttled (429)".into();
                            retry_after.unwrap_or_else(|| self.backoff(attempt))
                        }
                        (500..=599, _) => {
                            last = format!("HTTP {status}");
                            retry_after.unwrap_or_else(|| self.backoff(attempt))
                        }
                        (401, _) if !token_renewed && self.tokens.is_some() => {
                            // A token revoked or expired early: get a new one, once.
                            token_renewed = true;
                            if let Some(tokens) = &self.tokens {
                                tokens.invalidate().await;
                            }
                            last = "the access token was refused (401)".into();
                            Duration::ZERO
                        }
                        (status, body) => {
                            let (code, message) = error_of(&body.unwrap_or_default());
                            if let Some(remedy) = remedy(url, &code, status) {
                                return Err(GraphError::Refused {
                                    status,
                                    code,
                                    message,
                                    remedy,
                                });
                            }
                            return Err(GraphError::Rejected {
                                status,
                                code,
                                message,
                            });
                        }
                    }
                }
            };
            if attempt < self.retry.max_attempts {
                counters.retried += 1;
                tracing::debug!(
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "retrying Graph: {last}"
                );
                tokio::time::sleep(wait).await;
            }
        }
        Err(GraphError::GaveUp {
            attempts: self.retry.max_attempts,
            last,
        })
    }

    /// Exponential backoff with full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .retry
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.retry.max_delay);
        cap.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// A reqwest error's text without the URL (which may carry a skiptoken or a tenant detail).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// Whether `link` (a page's `@odata.nextLink`) has the scheme, host and port of `base`, the
/// Graph endpoint configured: a next-page link elsewhere is never followed, so the bearer token
/// never goes to a host a page names.
pub fn same_origin(base: &str, link: &str) -> bool {
    match (reqwest::Url::parse(base), reqwest::Url::parse(link)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// A Graph list page: `value` and `@odata.nextLink`.
pub fn parse_page(text: &str) -> Result<Page, String> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    // Taken, not copied: a page of a thousand sign-ins is some 20 MB as JSON values.
    let value = match v.get_mut("value").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => return Err("no \"value\" array".into()),
    };
    let link = |name: &str| v.get(name).and_then(Value::as_str).map(String::from);
    Ok(Page {
        value,
        next_link: link("@odata.nextLink"),
        delta_link: link("@odata.deltaLink"),
    })
}

fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = v
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect();
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_links_are_followed_on_the_configured_host_only() {
        let base = "https://graph.microsoft.com";
        assert!(same_origin(
            base,
            "https://graph.microsoft.com/v1.0/users?$skiptoken=x"
        ));
        assert!(!same_origin(
            base,
            "https://graph.microsoft.com.evil.example/v1.0/users"
        ));
        assert!(!same_origin(base, "http://graph.microsoft.com/v1.0/users"));
        assert!(!same_origin(
            base,
            "https://graph.microsoft.com:8443/v1.0/users"
        ));
        assert!(!same_origin(base, "/v1.0/users"));
        assert!(same_origin(
            "http://127.0.0.1:4000/",
            "http://127.0.0.1:4000/v1.0/users"
        ));
    }
}
