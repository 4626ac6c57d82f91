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

/// What an alert says, whatever the format: a title, a line of text, facts, and the object
/// it is about (sent whole in the generic format, under `about`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub title: String,
    pub text: String,
    pub facts: Vec<(String, String)>,
    /// `detection`, `recommendation`.
    pub about: String,
    pub payload: Value,
}

/// The alert for one detection.
pub fn detection_message(d: &Detection) -> Message {
    Message {
        title: format!("{} ({} risk) — {}", d.name, d.risk_level, d.user),
        text: d.evidence.clone(),
        facts: vec![
            ("First seen".into(), d.first_seen.to_rfc3339()),
            ("Last seen".into(), d.last_seen.to_rfc3339()),
            ("Source address".into(), d.ip.clone().unwrap_or_default()),
        ],
        about: "detection".into(),
        payload: json!(d),
    }
}

/// The body of one alert in a format.
pub fn render(format: AlertFormat, tenant: &str, m: &Message) -> Value {
    match format {
        AlertFormat::Generic => json!({
            "source": "entra-monitor",
            "tenant": tenant,
            m.about.as_str(): m.payload,
        }),
        AlertFormat::Slack => {
            let facts: String = m
                .facts
                .iter()
                .map(|(k, v)| format!("*{k}* {v}\n"))
                .collect();
            json!({
                "text": format!("{}: {}", m.title, m.text),
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": m.title } },
                    { "type": "section", "text": { "type": "mrkdwn", "text": format!("*Tenant* {tenant}\n{facts}{}", m.text) } }
                ]
            })
        }
        AlertFormat::Teams => {
            let mut facts = vec![json!({ "title": "Tenant", "value": tenant })];
            facts.extend(
                m.facts
                    .iter()
                    .map(|(k, v)| json!({ "title": k, "value": v })),
            );
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "version": "1.4",
                        "body": [
                            { "type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": m.title },
                            { "type": "TextBlock", "wrap": true, "text": m.text },
                            { "type": "FactSet", "facts": facts }
                        ]
                    }
                }]
            })
        }
    }
}

/// The body for one detection in a format.
pub fn body(format: AlertFormat, tenant: &str, d: &Detection) -> Value {
    render(format, tenant, &detection_message(d))
}

/// What delivering one claimed alert did.
enum Delivery {
    Sent,
    AlreadySent,
    Suppressed,
    Failed,
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
            let message = detection_message(d);
            match self.deliver(store, tenant, &d.key, &message, now).await? {
                Delivery::Sent => report.sent += 1,
                Delivery::AlreadySent => report.already_sent += 1,
                Delivery::Suppressed => report.suppressed += 1,
                Delivery::Failed => report.failed += 1,
            }
        }
        Ok(report)
    }

    /// Sends one alert unless it was sent already (by its key) or the hour's allowance is
    /// spent; a failure releases the key so a later run tries again.
    async fn deliver(
        &self,
        store: &SqliteState,
        tenant: &str,
        key: &str,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<Delivery, StateError> {
        let since = now - Duration::hours(1);
        match store.claim_alert(tenant, key, since, self.settings.max_per_hour, now)? {
            AlertClaim::AlreadySent => return Ok(Delivery::AlreadySent),
            AlertClaim::RateLimited => return Ok(Delivery::Suppressed),
            AlertClaim::Send => {}
        }
        let resp = self
            .http
            .post(self.settings.url.expose())
            .json(&render(self.settings.format, tenant, message))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => Ok(Delivery::Sent),
            other => {
                let why = match other {
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) => e.without_url().to_string(),
                };
                tracing::warn!(
                    tenant,
                    about = message.about,
                    "the alert webhook failed: {why}"
                );
                store.release_alert(tenant, key)?;
                Ok(Delivery::Failed)
            }
        }
    }

    /// Sends the alerts waiting in `tenant`'s outbox ([`SqliteState::queue_alert`]), oldest
    /// first; each leaves the outbox once sent (or found sent already). One that fails or
    /// exceeds the hour's allowance waits for the next run.
    pub async fn flush(
        &self,
        store: &SqliteState,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<AlertReport, StateError> {
        let mut report = AlertReport::default();
        for (key, message) in store.queued_alerts(tenant)? {
            match self.deliver(store, tenant, &key, &message, now).await? {
                Delivery::Sent => report.sent += 1,
                Delivery::AlreadySent => report.already_sent += 1,
                Delivery::Suppressed => {
                    report.suppressed += 1;
                    continue;
                }
                Delivery::Failed => {
                    report.failed += 1;
                    continue;
                }
            }
            store.dequeue_alert(tenant, &key)?;
        }
        Ok(report)
    }
}
