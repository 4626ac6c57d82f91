//! Recommendation settings (`[recommendations]` in the file, or `ENTRA_MONITOR_RECOMMEND_*`):
//! the thresholds of the conditions (defaults and reasons in [`crate::recommend::Thresholds`]),
//! the lowest priority alerted, and whether actions on Microsoft's recommendations are sent
//! to Graph.

use crate::recommend::Thresholds;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRecommendations {
    stale_app_days: Option<i64>,
    stale_credential_days: Option<i64>,
    expiry_days: Option<i64>,
    sign_in_days: Option<i64>,
    min_global_admins: Option<i64>,
    max_global_admins: Option<i64>,
    inactive_guest_days: Option<i64>,
    long_secret_days: Option<i64>,
    long_certificate_days: Option<i64>,
    alert_min_priority: Option<String>,
    pub(super) write_back: Option<bool>,
}

/// The recommendation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationSettings {
    pub thresholds: Thresholds,
    /// New recommendations and impacted resources of this priority and above are alerted
    /// (to the detections' webhook); `None`: not alerted.
    pub alert_min_priority: Option<&'static str>,
    /// Actions on Microsoft's recommendations are sent to Graph
    /// (`directory/recommendations/{id}/dismiss`, …; needs DirectoryRecommendations.ReadWrite.All).
    pub write_back: bool,
}

impl Default for RecommendationSettings {
    fn default() -> Self {
        RecommendationSettings {
            thresholds: Thresholds::default(),
            alert_min_priority: Some("high"),
            write_back: false,
        }
    }
}

/// The priorities, lowest first.
pub const PRIORITIES: [&str; 3] = ["low", "medium", "high"];

type Field = (
    &'static str,
    std::ops::RangeInclusive<i64>,
    fn(&mut Thresholds) -> &mut i64,
);

/// Each numeric threshold: its name (in the file; the variable is `ENTRA_MONITOR_RECOMMEND_`
/// and the name in capitals), its range, where it goes.
const FIELDS: [Field; 7] = [
    ("stale_app_days", 7..=3650, |t| &mut t.stale_app_days),
    ("stale_credential_days", 7..=3650, |t| {
        &mut t.stale_credential_days
    }),
    ("expiry_days", 1..=365, |t| &mut t.expiry_days),
    ("sign_in_days", 1..=365, |t| &mut t.sign_in_days),
    ("inactive_guest_days", 7..=3650, |t| {
        &mut t.inactive_guest_days
    }),
    ("long_secret_days", 30..=36500, |t| &mut t.long_secret_days),
    ("long_certificate_days", 30..=36500, |t| {
        &mut t.long_certificate_days
    }),
];

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_RECOMMEND_STALE_APP_DAYS",
    "ENTRA_MONITOR_RECOMMEND_STALE_CREDENTIAL_DAYS",
    "ENTRA_MONITOR_RECOMMEND_EXPIRY_DAYS",
    "ENTRA_MONITOR_RECOMMEND_SIGN_IN_DAYS",
    "ENTRA_MONITOR_RECOMMEND_INACTIVE_GUEST_DAYS",
    "ENTRA_MONITOR_RECOMMEND_LONG_SECRET_DAYS",
    "ENTRA_MONITOR_RECOMMEND_LONG_CERTIFICATE_DAYS",
    "ENTRA_MONITOR_RECOMMEND_MIN_GLOBAL_ADMINS",
    "ENTRA_MONITOR_RECOMMEND_MAX_GLOBAL_ADMINS",
    "ENTRA_MONITOR_RECOMMEND_ALERT_MIN_PRIORITY",
    "ENTRA_MONITOR_RECOMMENDATION_WRITE_BACK",
];

fn env_var(name: &str) -> String {
    format!("ENTRA_MONITOR_RECOMMEND_{}", name.to_ascii_uppercase())
}

/// A number from the variable, else the file, checked against its range.
fn number(
    env: &BTreeMap<String, String>,
    name: &str,
    from_file: Option<i64>,
    range: &std::ops::RangeInclusive<i64>,
    problem: &mut impl FnMut(&str, String),
) -> Option<i64> {
    let var = env_var(name);
    let (setting, value) = match (env.get(&var), from_file) {
        (Some(v), _) => (var, v.trim().parse::<i64>().ok()),
        (None, Some(n)) => (format!("recommendations.{name}"), Some(n)),
        (None, None) => return None,
    };
    match value.filter(|n| range.contains(n)) {
        Some(n) => Some(n),
        None => {
            problem(
                &setting,
                format!(
                    "is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileRecommendations,
    problem: &mut impl FnMut(&str, String),
) -> RecommendationSettings {
    let mut s = RecommendationSettings::default();
    let from_file = [
        file.stale_app_days,
        file.stale_credential_days,
        file.expiry_days,
        file.sign_in_days,
        file.inactive_guest_days,
        file.long_secret_days,
        file.long_certificate_days,
    ];
    for ((name, range, place), given) in FIELDS.iter().zip(from_file) {
        if let Some(n) = number(env, name, given, range, problem) {
            *place(&mut s.thresholds) = n;
        }
    }
    let admins = 1..=1000;
    let t = &mut s.thresholds;
    if let Some(n) = number(
        env,
        "min_global_admins",
        file.min_global_admins,
        &admins,
        problem,
    ) {
        t.min_global_admins = n as usize;
    }
    if let Some(n) = number(
        env,
        "max_global_admins",
        file.max_global_admins,
        &admins,
        problem,
    ) {
        t.max_global_admins = n as usize;
    }
    if t.max_global_admins <= t.min_global_admins {
        problem(
            "recommendations.max_global_admins",
            format!(
                "({}) must be more than min_global_admins ({})",
                t.max_global_admins, t.min_global_admins
            ),
        );
    }
    let var = "ENTRA_MONITOR_RECOMMEND_ALERT_MIN_PRIORITY";
    let (setting, priority) = match (env.get(var), file.alert_min_priority) {
        (Some(v), _) => (var.to_string(), Some(v.trim().to_string())),
        (None, v) => ("recommendations.alert_min_priority".to_string(), v),
    };
    match priority.as_deref() {
        None => {}
        Some("none") => s.alert_min_priority = None,
        Some(p) => match PRIORITIES.iter().find(|k| **k == p) {
            Some(k) => s.alert_min_priority = Some(k),
            None => problem(
                &setting,
                format!("\"{p}\" is not a priority; expected low, medium, high or none"),
            ),
        },
    }
    // (`write_back` is read beside the risk write-back, in `Config::load`.)
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(vars: &[(&str, &str)]) -> (RecommendationSettings, Vec<String>) {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut problems = Vec::new();
        let s = load(&env, FileRecommendations::default(), &mut |k: &str, m| {
            problems.push(format!("{k}: {m}"))
        });
        (s, problems)
    }

    #[test]
    fn thresholds_come_from_the_variables_and_are_checked() {
        let (s, problems) = load_env(&[
            ("ENTRA_MONITOR_RECOMMEND_STALE_APP_DAYS", "180"),
            ("ENTRA_MONITOR_RECOMMEND_MAX_GLOBAL_ADMINS", "8"),
            ("ENTRA_MONITOR_RECOMMEND_ALERT_MIN_PRIORITY", "medium"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.thresholds.stale_app_days, 180);
        assert_eq!(s.thresholds.max_global_admins, 8);
        assert_eq!(
            s.thresholds.expiry_days, 30,
            "the others keep their defaults"
        );
        assert_eq!(s.alert_min_priority, Some("medium"));
        let (s, problems) = load_env(&[
            ("ENTRA_MONITOR_RECOMMEND_EXPIRY_DAYS", "0"),
            ("ENTRA_MONITOR_RECOMMEND_MIN_GLOBAL_ADMINS", "6"),
            ("ENTRA_MONITOR_RECOMMEND_ALERT_MIN_PRIORITY", "urgent"),
        ]);
        assert_eq!(s.thresholds.expiry_days, 30);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with(
            "ENTRA_MONITOR_RECOMMEND_EXPIRY_DAYS: is not a whole number from 1 to 365"
        ));
        assert!(problems[1].contains("must be more than min_global_admins (6)"));
        assert!(problems[2].contains("\"urgent\" is not a priority"));
        let (s, problems) = load_env(&[("ENTRA_MONITOR_RECOMMEND_ALERT_MIN_PRIORITY", "none")]);
        assert!(problems.is_empty());
        assert_eq!(s.alert_min_priority, None);
    }
}
