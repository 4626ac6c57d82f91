//! The Log Analytics backend: a question's KQL sent to the Log Analytics query API
//! (`POST {endpoint}/v1/workspaces/{workspace}/query`, body `{"query", "timespan"}`, a bearer
//! token for `https://api.loganalytics.io`), the first table of the answer read back as rows in
//! the plan's columns. Date-times come back in the embedded store's form (UTC, milliseconds) so
//! both backends give the same answer.

use crate::clock::Timestamp;
use crate::source::token::TokenCache;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Log Analytics refused the query ({status}: {code}); {remedy}")]
    Refused {
        status: u16,
        code: String,
        remedy: &'static str,
    },
    #[error("Log Analytics is unavailable ({0}); try again later")]
    Unavailable(String),
    #[error("Log Analytics answered unreadably: {0}")]
    Unreadable(String),
}

pub struct LogAnalyticsQuery {
    http: reqwest::Client,
    url: String,
    tokens: Arc<TokenCache>,
}

impl LogAnalyticsQuery {
    /// `endpoint` is `https://api.loganalytics.io` (sovereign clouds differ).
    pub fn new(endpoint: &str, workspace_id: &str, tokens: Arc<TokenCache>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
            url: format!(
                "{}/v1/workspaces/{workspace_id}/query",
                endpoint.trim_end_matches('/')
            ),
            tokens,
        }
    }

    /// Runs `kql` over `[from, to]`; answers the first table's rows.
    pub async fn run(
        &self,
        kql: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Vec<Value>>, QueryError> {
        let ts = |t: DateTime<Utc>| t.rfc3339_millis();
        let body = json!({ "query": kql, "timespan": format!("{}/{}", ts(from), ts(to)) });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token =
                self.tokens.token().await.map_err(|e| {
                    QueryError::Unavailable(format!("no token for Log Analytics: {e}"))
                })?;
            let resp = self
                .http
                .post(&self.url)
                .bearer_auth(token.expose())
                .json(&body)
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) if attempt < 3 => {
                    tracing::debug!("Log Analytics query: retrying after {}", e.without_url());
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                    continue;
                }
                Err(e) => return Err(QueryError::Unavailable(e.without_url().to_string())),
            };
            let status = resp.status().as_u16();
            let wait = crate::destinations::retry_after(resp.headers());
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            match status {
                200 => return read_table(&answer),
                429 | 500..=599 if attempt < 3 => {
                    tokio::time::sleep(wait.unwrap_or(Duration::from_secs(attempt))).await;
                }
                429 | 500..=599 => return Err(QueryError::Unavailable(format!("HTTP {status}"))),
                _ => {
                    let code = answer["error"]["code"]
                        .as_str()
                        .unwrap_or("no error code")
                        .to_string();
                    let remedy = match status {
                        401 | 403 => {
                            "give the identity the Log Analytics Reader role on the workspace"
                        }
                        404 => {
                            "check ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID (the workspace id, a GUID)"
                        }
                        _ => {
                            "the tables may not exist in the workspace: route the categories there (Entra diagnostic settings, or ENTRA_MONITOR_LOG_ANALYTICS_TABLES=custom for entra-monitor's own tables)"
                        }
                    };
                    return Err(QueryError::Refused {
                        status,
                        code,
                        remedy,
                    });
                }
            }
        }
    }
}

/// The first table of a query answer, date-times normalised.
fn read_table(answer: &Value) -> Result<Vec<Vec<Value>>, QueryError> {
    let table = answer["tables"]
        .as_array()
        .and_then(|t| t.first())
        .ok_or_else(|| QueryError::Unreadable("no tables".into()))?;
    let kinds: Vec<&str> = table["columns"]
        .as_array()
        .ok_or_else(|| QueryError::Unreadable("no columns".into()))?
        .iter()
        .map(|c| c["type"].as_str().unwrap_or("string"))
        .collect();
    let rows = table["rows"]
        .as_array()
        .ok_or_else(|| QueryError::Unreadable("no rows".into()))?;
    Ok(rows
        .iter()
        .map(|r| {
            r.as_array()
                .map(|cells| {
                    cells
                        .iter()
                        .zip(&kinds)
                        .map(|(v, k)| match (*k, v) {
                            ("datetime", Value::String(t)) => DateTime::parse_from_rfc3339(t)
                                .map(|t| json!(t.with_timezone(&Utc).rfc3339_millis()))
                                .unwrap_or_else(|_| v.clone()),
                            _ => v.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect())
}
