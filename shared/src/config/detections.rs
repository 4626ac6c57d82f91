//! Detection thresholds (`[detections]` in the file, or `ENTRA_MONITOR_DETECT_*`): the defaults
//! and the reasoning behind them are in [`crate::detect::Thresholds`].

use crate::detect::Thresholds;
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
    privileged_roles: Option<Vec<String>>,
    high_privilege_scopes: Option<Vec<String>>,
}

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_DETECT_SPRAY_MIN_USERS",
    "ENTRA_MONITOR_DETECT_BRUTE_MIN_FAILURES",
    "ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH",
    "ENTRA_MONITOR_DETECT_MFA_MIN_DENIALS",
    "ENTRA_MONITOR_VPN_EGRESS",
    "ENTRA_MONITOR_ANONYMOUS_IP_FILE",
];

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
    t.vpn_egress = match env.get("ENTRA_MONITOR_VPN_EGRESS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => file.vpn_egress.unwrap_or_default(),
    };
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
