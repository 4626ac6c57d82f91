//! Detection thresholds (`[detections]` in the file, or `ENTRA_MONITOR_DETECT_*`): the defaults
//! and the reasoning behind them are in [`crate::detect::Thresholds`].

use crate::detect::alerts::{AlertFormat, AlertSettings};
use crate::detect::{RiskLevel, Thresholds};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDetections {
    spray_min_users: Option<u64>,
    brute_min_failures: Option<u64>,
    travel_max_kmh: Option<u64>,
    mfa_min_denials: Option<u64>,
    vpn_egress: Option<Vec<String>>,
    anonymous_ip_file: Option<std::path::PathBuf>,
    /// The environment variable holding the webhook URL (it carries a secret).
    alert_webhook_env: Option<String>,
    alert_format: Option<String>,
    alert_min_level: Option<String>,
    alert_max_per_hour: Option<u64>,
    privileged_roles: Option<Vec<String>>,
    privileged_groups: Option<Vec<String>>,
    pub(super) risk_write_back: Option<bool>,
    high_privilege_scopes: Option<Vec<String>>,
}

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_DETECT_SPRAY_MIN_USERS",
    "ENTRA_MONITOR_DETECT_BRUTE_MIN_FAILURES",
    "ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH",
    "ENTRA_MONITOR_DETECT_MFA_MIN_DENIALS",
    "ENTRA_MONITOR_VPN_EGRESS",
    "ENTRA_MONITOR_DETECT_PRIVILEGED_GROUPS",
    "ENTRA_MONITOR_RISK_WRITE_BACK",
    "ENTRA_MONITOR_ANONYMOUS_IP_FILE",
    "ENTRA_MONITOR_ALERT_WEBHOOK",
    "ENTRA_MONITOR_ALERT_FORMAT",
    "ENTRA_MONITOR_ALERT_MIN_LEVEL",
    "ENTRA_MONITOR_ALERT_MAX_PER_HOUR",
];

/// The alert webhook, when one is configured.
pub(super) fn load_alerts(
    env: &BTreeMap<String, String>,
    file: &FileDetections,
    problem: &mut impl FnMut(&str, String),
) -> Option<AlertSettings> {
    let url = match env.get("ENTRA_MONITOR_ALERT_WEBHOOK") {
        Some(u) => u.clone(),
        None => {
            let var = file.alert_webhook_env.as_ref()?;
            match env.get(var) {
                Some(u) => u.clone(),
                None => {
                    problem(
                        "detections.alert_webhook_env",
                        format!("names the environment variable {var}, which is not set"),
                    );
                    return None;
                }
            }
        }
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        // The URL carries a secret: say what is wrong without repeating it.
        problem(
            "ENTRA_MONITOR_ALERT_WEBHOOK",
            "is not an http(s) URL".into(),
        );
        return None;
    }
    let text = |var: &str, from_file: &Option<String>| env.get(var).cloned().or(from_file.clone());
    let format = match text("ENTRA_MONITOR_ALERT_FORMAT", &file.alert_format).as_deref() {
        None | Some("generic") => AlertFormat::Generic,
        Some("teams") => AlertFormat::Teams,
        Some("slack") => AlertFormat::Slack,
        Some(f) => {
            problem(
                "ENTRA_MONITOR_ALERT_FORMAT",
                format!("\"{f}\" is not a format; expected generic, teams or slack"),
            );
            AlertFormat::Generic
        }
    };
    let min_level = match text("ENTRA_MONITOR_ALERT_MIN_LEVEL", &file.alert_min_level) {
        None => RiskLevel::Medium,
        Some(l) => match l.parse::<RiskLevel>() {
            Ok(level) if level != RiskLevel::None => level,
            _ => {
                problem(
                    "ENTRA_MONITOR_ALERT_MIN_LEVEL",
                    format!("\"{l}\" is not a level; expected low, medium or high"),
                );
                RiskLevel::Medium
            }
        },
    };
    let max_per_hour = match env.get("ENTRA_MONITOR_ALERT_MAX_PER_HOUR") {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                problem(
                    "ENTRA_MONITOR_ALERT_MAX_PER_HOUR",
                    format!("\"{v}\" is out of range; expected 1 to 10000"),
                );
                30
            }
        },
        None => file.alert_max_per_hour.map(|n| n as usize).unwrap_or(30),
    };
    Some(AlertSettings {
        url: super::Secret::new(url),
        format,
        min_level,
        max_per_hour,
    })
}

pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileDetections,
    problem: &mut impl FnMut(&str, String),
) -> Thresholds {
    let mut t = Thresholds::default();
    let mut number = |var: &str,
                      from_file: Option<u64>,
                      range: std::ops::RangeInclusive<u64>,
                      default: u64|
     -> u64 {
        match env.get(var) {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => n,
                _ => {
                    problem(
                        var,
                        format!(
                            "\"{v}\" is out of range; expected {} to {}",
                            range.start(),
                            range.end()
                        ),
                    );
                    default
                }
            },
            None => from_file.filter(|n| range.contains(n)).unwrap_or(default),
        }
    };
    t.spray_min_users = number(
        "ENTRA_MONITOR_DETECT_SPRAY_MIN_USERS",
        file.spray_min_users,
        2..=10_000,
        t.spray_min_users as u64,
    ) as usize;
    t.brute_min_failures = number(
        "ENTRA_MONITOR_DETECT_BRUTE_MIN_FAILURES",
        file.brute_min_failures,
        2..=10_000,
        t.brute_min_failures as u64,
    ) as usize;
    t.travel_max_kmh = number(
        "ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH",
        file.travel_max_kmh,
        100..=100_000,
        t.travel_max_kmh as u64,
    ) as f64;
    t.mfa_min_denials = number(
        "ENTRA_MONITOR_DETECT_MFA_MIN_DENIALS",
        file.mfa_min_denials,
        2..=1000,
        t.mfa_min_denials as u64,
    ) as usize;
    let list = |var: &str, from_file: Option<Vec<String>>| match env.get(var) {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => from_file.unwrap_or_default(),
    };
    t.vpn_egress = list("ENTRA_MONITOR_VPN_EGRESS", file.vpn_egress);
    t.privileged_groups = list(
        "ENTRA_MONITOR_DETECT_PRIVILEGED_GROUPS",
        file.privileged_groups,
    );
    // One address or prefix per line (e.g. Tor exit nodes); `#` starts a comment.
    let list = env
        .get("ENTRA_MONITOR_ANONYMOUS_IP_FILE")
        .map(|p| {
            (
                "ENTRA_MONITOR_ANONYMOUS_IP_FILE".to_string(),
                std::path::PathBuf::from(p),
            )
        })
        .or(file
            .anonymous_ip_file
            .map(|p| ("detections.anonymous_ip_file".to_string(), p)));
    if let Some((setting, path)) = list {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                t.anonymous_ips = text
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
            }
            Err(e) => problem(
                &setting,
                format!(
                    "cannot read {} ({e}); expected a file with one address or prefix per line",
                    path.display()
                ),
            ),
        }
    }
    if let Some(r) = file.privileged_roles {
        t.privileged_roles = r;
    }
    if let Some(s) = file.high_privilege_scopes {
        t.high_privilege_scopes = s;
    }
    t
}
