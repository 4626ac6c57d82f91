//! One call of the Logs Ingestion API.

use crate::destinations::{CallOutcome, SendFailure, retry_after};
use crate::source::token::TokenCache;
use std::io::Write;
use std::time::Duration;

/// The API's limit on one call, compressed or not (<https://learn.microsoft.com/en-us/azure/azure-monitor/service-limits#logs-ingestion-api>).
pub const MAX_CALL_BYTES: usize = 1_048_576;

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
    pub async fn post(&self, gzipped: Vec<u8>) -> Result<CallOutcome, SendFailure> {
        let length = gzipped.len();
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
            let token = tokens
                .token()
                .await
                .map_err(|e| SendFailure::Auth(format!("no token for Log Analytics: {e}")))?;
            req = req.bearer_auth(token.expose());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(CallOutcome::Retry(None, e.without_url().to_string()));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Ok(match status {
            200..=299 => CallOutcome::Accepted(length),
            413 => CallOutcome::TooLarge,
            429 | 500..=599 => CallOutcome::Retry(retry_after, code),
            _ => CallOutcome::Refused(status, code),
        })
    }
}
