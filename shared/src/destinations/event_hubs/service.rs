//! One send to the Event Hubs HTTPS API (protocols.md §7.1, §7.2).

use super::config::EventHubsAuth;
use crate::destinations::{CallOutcome, SendFailure, retry_after};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// How long a SAS token we sign stays valid.
const SAS_LIFETIME_SECS: i64 = 3600;

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `SharedAccessSignature sr=..&sig=..&se=..&skn=..` for `resource_uri`, valid until `expiry`
/// (Unix seconds). The key is used as its UTF-8 bytes, not base64-decoded.
pub fn sas_token(resource_uri: &str, key_name: &str, key: &str, expiry: i64) -> String {
    let encoded = percent_encode(&resource_uri.to_ascii_lowercase());
    let to_sign = format!("{encoded}\n{expiry}");
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!(
        "SharedAccessSignature sr={encoded}&sig={}&se={expiry}&skn={}",
        percent_encode(&sig),
        percent_encode(key_name)
    )
}

pub struct SendService {
    http: reqwest::Client,
    /// `{endpoint}/{hub}`.
    resource: String,
    auth: EventHubsAuth,
}

impl SendService {
    pub fn new(endpoint: &str, hub: &str, auth: EventHubsAuth) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            resource: format!("{}/{hub}", endpoint.trim_end_matches('/')),
            auth,
        }
    }

    async fn authorization(&self) -> Result<String, SendFailure> {
        match &self.auth {
            EventHubsAuth::Sas { key_name, key } => Ok(sas_token(
                &self.resource,
                key_name,
                key.expose(),
                chrono::Utc::now().timestamp() + SAS_LIFETIME_SECS,
            )),
            EventHubsAuth::Bearer(tokens) => tokens
                .token()
                .await
                .map(|t| format!("Bearer {}", t.expose()))
                .map_err(|e| SendFailure::Auth(format!("no token for Event Hubs: {e}"))),
        }
    }

    /// Sends one batch body (a JSON array of `{"Body": ..., ...}` elements).
    pub async fn send_batch(&self, body: Vec<u8>) -> Result<CallOutcome, SendFailure> {
        let length = body.len();
        let resp = self
            .http
            .post(format!(
                "{}/messages?timeout=60&api-version=2014-01",
                self.resource
            ))
            .header("Authorization", self.authorization().await?)
            .header("Content-Type", "application/vnd.microsoft.servicebus.json")
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Ok(CallOutcome::Retry(None, e.without_url().to_string())),
        };
        let status = resp.status().as_u16();
        let wait = retry_after(resp.headers());
        Ok(match status {
            200..=299 => CallOutcome::Accepted(length),
            413 => CallOutcome::TooLarge,
            429 | 500..=599 => CallOutcome::Retry(wait, format!("HTTP {status}")),
            _ => CallOutcome::Refused(status, format!("HTTP {status}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_tokens_sign_the_encoded_uri_and_expiry() {
        let t = sas_token(
            "https://Contoso.servicebus.windows.net/entra",
            "send",
            "key",
            1_700_000_000,
        );
        let sr = "https%3A%2F%2Fcontoso.servicebus.windows.net%2Fentra";
        assert!(
            t.starts_with(&format!("SharedAccessSignature sr={sr}&sig=")),
            "{t}"
        );
        assert!(t.ends_with("&se=1700000000&skn=send"), "{t}");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"key").unwrap();
        mac.update(format!("{sr}\n1700000000").as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(t.contains(&format!("sig={}", percent_encode(&sig))));
    }
}
