//! One call of the Logs Ingestion API.

use crate::source::token::{TokenCache, TokenError};
use std::io::Write;
use std::time::Duration;

/// The API's limit on one call, compressed or not (protocols.md §4.3).
pub const MAX_CALL_BYTES: usize = 1_048_576;

#[derive(Debug)]
pub enum CallOutcome {
    Accepted,
    /// 413: the body must be split.
    TooLarge,
    /// 429 or 5xx or a network failure: try again after the pause.
    Retry(Duration, String),
    /// Anything else: the call cannot succeed as it is.
    Refused(u16, String),
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no token for Log Analytics: {0}")]
    Token(#[from] TokenError),
}

pub struct IngestionService {
    http: reqwest::Client,
    url: String,
    tokens: Option<std::sync::Arc<TokenCache>>,
}

impl IngestionService {
    pub fn new(
        endpoint: &str,
        dcr_immutable_id: &str,
        stream: &str,
        tokens: Option<std::sync::Arc<TokenCache>>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        let url = format!(
            "{}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version=2023-01-01",
            endpoint.trim_end_matches('/')
        );
        Self { http, url, tokens }
    }

    /// gzip of a JSON array body.
    pub fn compress(body: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(body);
        gz.finish().unwrap_or_default()
    }

    /// Posts one compressed JSON array.
    pub async fn post(&self, gzipped: Vec<u8>) -> Result<CallOutcome, CallError> {
        let mut req = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .header(
                "x-ms-client-request-id",
                format!("{:032x}", fastrand::u128(..)),
            )
            .body(gzipped);
        if let Some(tokens) = &self.tokens {
            req = req.bearer_auth(tokens.token().await?.expose());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(CallOutcome::Retry(
                    Duration::from_secs(1),
                    e.without_url().to_string(),
                ));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Ok(match status {
            200..=299 => CallOutcome::Accepted,
            413 => CallOutcome::TooLarge,
            429 | 500..=599 => {
                CallOutcome::Retry(Duration::from_secs(retry_after.unwrap_or(2)), code)
            }
            _ => CallOutcome::Refused(status, code),
        })
    }
}
