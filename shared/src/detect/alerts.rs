//! Alerts for new detections to a webhook: generic JSON, a Microsoft Teams workflow (an
//! Adaptive Card message) or a Slack incoming webhook. Each detection is alerted once (by its
//! key), at most `max_per_hour` alerts go out per hour (the rest are counted as suppressed and
//! stay listed at `/api/risk/detections`), and only from `min_level` up. The webhook URL holds
//! a secret (Slack's and Teams' do): it is never logged.

use super::{Detection, RiskLevel};
use crate::secret::Secret;
use crate::state::RiskStore;
use crate::state::{AlertClaim, SqliteState, StateError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    Generic,
    Teams,
    Slack,
}

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub url: Secret,
    pub format: AlertFormat,
    /// Detections below this level are not alerted.
    pub min_level: RiskLevel,
    pub max_per_hour: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertReport {
    pub sent: usize,
    pub below_level: usize,
    pub already_sent: usize,
    pub suppressed: usize,
    pub failed: usize,
}

/// The body for one detection in a format.
pub fn body(format: AlertFormat, tenant: &str, d: &Detection) -> Value {
    let title = format!("{} ({} risk) — {}", d.name, d.risk_level, d.user);
    match format {
        AlertFormat::Generic => json!({
            "source": "entra-monitor",
            "tenant": tenant,
            "detection": d,
        }),
        AlertFormat::Slack => json!({
            "text": format!("{title}: {}", d.evidence),
            "blocks": [
                { "type": "header", "text": { "type": "plain_text", "text": title } },
                { "type": "section", "text": { "type": "mrkdwn", "text": format!("*Tenant* {tenant}\n*Seen* {} – {}\n{}", d.first_seen, d.last_seen, d.evidence) } }
            ]
        }),
        AlertFormat::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [
                        { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": title },
                        { "type": "TextBlock", "wrap": true, "text": d.evidence },
                        { "type": "FactSet", "facts": [
                            { "title": "Tenant", "value": tenant },
                            { "title": "First seen", "value": d.first_seen.to_rfc3339() },
                            { "title": "Source address", "value": d.ip.clone().unwrap_or_default() }
                        ] }
                    ]
                }
            }]
        }),
    }
}

pub struct Alerter {
    settings: AlertSettings,
    http: reqwest::Client,
}

impl Alerter {
    pub fn new(settings: AlertSettings) -> Self {
        Self {
            settings,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Alerts the new detections of a tenant.
    pub async fn send(
        &self,
        store: &SqliteState,
        tenant: &str,
        detections: &[Detection],
        now: DateTime<Utc>,
    ) -> Result<AlertReport, StateError> {
        let mut report = AlertReport::default();
        for d in detections {
            if d.risk_level < self.settings.min_level {
                report.below_level += 1;
                continue;
            }
            match store.claim_alert(
                tenant,
                &d.key,
                now - Duration::hours(1),
                self.settings.max_per_hour,
                now,
            )? {
                AlertClaim::AlreadySent => report.already_sent += 1,
                AlertClaim::RateLimited => report.suppressed += 1,
                AlertClaim::Send => {
                    let resp = self
                        .http
                        .post(self.settings.url.expose())
                        .json(&body(self.settings.format, tenant, d))
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status().is_success() => report.sent += 1,
                        other => {
                            let why = match other {
                                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                                Err(e) => e.without_url().to_string(),
                            };
                            tracing::warn!(
                                tenant,
                                detection = d.name.name(),
                                "the alert webhook failed: {why}"
                            );
                            store.release_alert(tenant, &d.key)?;
                            report.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(report)
    }
}
