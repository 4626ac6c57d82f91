//! How collection runs: its timing (backfill, settle, overlaps, run budget), the functions'
//! schedules, the routes of each category, and the simulated tenant.

use super::read::number;
use super::{FileConfig, overlap_env_var, routes_env_var, schedule_env_var};
use crate::model::{Category, Destination};
use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// Collection's timing.
pub(super) struct Timing {
    pub shutdown_grace: Duration,
    pub backfill: chrono::Duration,
    pub settle: chrono::Duration,
    pub run_budget: Duration,
}

pub(super) fn timing(
    env: &BTreeMap<String, String>,
    file: &FileConfig,
    problem: &mut impl FnMut(&str, String),
) -> Timing {
    let mut n = |var, from_file, default, range, unit| {
        number(env, var, from_file, default, range, unit, problem)
    };
    Timing {
        shutdown_grace: Duration::from_secs(n(
            "ENTRA_MONITOR_SHUTDOWN_GRACE_SECONDS",
            file.shutdown_grace_seconds,
            30,
            0..=3600,
            "seconds",
        )),
        // At most the sign-in retention of a P1/P2 tenant (30 days).
        backfill: chrono::Duration::hours(n(
            "ENTRA_MONITOR_BACKFILL_HOURS",
            file.backfill_hours,
            24,
            1..=720,
            "hours",
        ) as i64),
        settle: chrono::Duration::minutes(n(
            "ENTRA_MONITOR_SETTLE_MINUTES",
            file.settle_minutes,
            2,
            0..=120,
            "minutes",
        ) as i64),
        run_budget: Duration::from_secs(n(
            "ENTRA_MONITOR_RUN_BUDGET_SECONDS",
            file.run_budget_seconds,
            240,
            5..=86_400,
            "seconds",
        )),
    }
}

/// Per-category overlaps: up to the longest latency Entra documents (offline risk, 48 h) and
/// beyond, a week at most.
pub(super) fn overlaps(
    env: &BTreeMap<String, String>,
    from_file: &BTreeMap<String, u64>,
    problem: &mut impl FnMut(&str, String),
) -> BTreeMap<Category, chrono::Duration> {
    let mut texts: Vec<(String, String, u64)> = from_file
        .iter()
        .map(|(c, m)| (format!("overlap_minutes.{c}"), c.clone(), *m))
        .collect();
    for c in Category::ALL {
        if let Some(v) = env.get(&overlap_env_var(c)) {
            match v.trim().parse::<u64>() {
                Ok(m) => texts.push((overlap_env_var(c), c.name().to_string(), m)),
                Err(_) => problem(
                    &overlap_env_var(c),
                    format!("\"{v}\" is not a whole number of minutes"),
                ),
            }
        }
    }
    let mut overlaps = BTreeMap::new();
    for (setting, category, minutes) in texts {
        match category.parse::<Category>() {
            Err(e) => problem(&setting, e),
            Ok(_) if !(1..=7 * 24 * 60).contains(&minutes) => problem(
                &setting,
                format!("{minutes} is out of range; expected 1 to 10080 minutes"),
            ),
            Ok(c) => {
                overlaps.insert(c, chrono::Duration::minutes(minutes as i64));
            }
        }
    }
    overlaps
}

/// The timer functions' schedules that are overridden: the file first, the environment wins.
pub(super) fn schedules(
    env: &BTreeMap<String, String>,
    from_file: BTreeMap<String, String>,
    timer_functions: &[&str],
    problem: &mut impl FnMut(&str, String),
) -> BTreeMap<String, Schedule> {
    let mut texts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (name, text) in from_file {
        texts.insert(name.clone(), (format!("schedules.{name}"), text));
    }
    for name in timer_functions {
        let var = schedule_env_var(name);
        if let Some(text) = env.get(&var) {
            texts.insert(name.to_string(), (var, text.clone()));
        }
    }
    let mut schedules = BTreeMap::new();
    for (name, (setting, text)) in texts {
        if !timer_functions.contains(&name.as_str()) {
            problem(
                &setting,
                format!(
                    "no timer function \"{name}\"; expected one of {}",
                    timer_functions.join(", ")
                ),
            );
            continue;
        }
        match Schedule::parse(&text) {
            Ok(s) => {
                schedules.insert(name, s);
            }
            Err(e) => problem(&setting, e.to_string()),
        }
    }
    schedules
}

/// Each category's destinations: the embedded store unless told otherwise.
pub(super) fn routes(
    env: &BTreeMap<String, String>,
    from_file: BTreeMap<String, Vec<String>>,
    problem: &mut impl FnMut(&str, String),
) -> BTreeMap<Category, Vec<Destination>> {
    let mut routes: BTreeMap<Category, Vec<Destination>> = Category::ALL
        .iter()
        .map(|c| (*c, vec![Destination::Embedded]))
        .collect();
    let mut texts: Vec<(String, String, Vec<String>)> = from_file
        .into_iter()
        .map(|(cat, dests)| (format!("routes.{cat}"), cat, dests))
        .collect();
    for cat in Category::ALL {
        let var = routes_env_var(cat);
        if let Some(text) = env.get(&var) {
            let dests = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            texts.push((var, cat.name().to_string(), dests));
        }
    }
    for (setting, cat, dests) in texts {
        let category = match cat.parse::<Category>() {
            Ok(c) => c,
            Err(e) => {
                problem(&setting, e);
                continue;
            }
        };
        let mut parsed = Vec::new();
        for d in dests {
            match d.parse::<Destination>() {
                Ok(d) if !parsed.contains(&d) => parsed.push(d),
                Ok(_) => {}
                Err(e) => problem(&setting, e),
            }
        }
        routes.insert(category, parsed);
    }
    routes
}

/// The simulated tenant's settings.
pub(super) struct Simulated {
    pub seed: u64,
    pub users: usize,
    pub budget: usize,
    pub start: Option<DateTime<Utc>>,
    /// A simulated tenant already serving elsewhere (`entra-monitor simulate`, or a
    /// benchmark's page server), instead of starting one in this process.
    pub graph_url: Option<String>,
}

pub(super) fn simulated(
    env: &BTreeMap<String, String>,
    file: &FileConfig,
    tenant_configured: bool,
    problem: &mut impl FnMut(&str, String),
) -> Simulated {
    let seed = number(
        env,
        "ENTRA_MONITOR_SIMULATED_SEED",
        file.simulated_seed,
        1,
        0..=u64::MAX,
        "",
        problem,
    );
    let users = number(
        env,
        "ENTRA_MONITOR_SIMULATED_USERS",
        file.simulated_users,
        300,
        1..=100_000,
        "users",
        problem,
    ) as usize;
    let budget = number(
        env,
        "ENTRA_MONITOR_SIMULATED_BUDGET",
        file.simulated_budget,
        5,
        1..=100_000,
        "requests per 10 s",
        problem,
    ) as usize;
    let graph_url = match env.get("ENTRA_MONITOR_SIMULATED_GRAPH_URL") {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            Some(u.trim_end_matches('/').to_string())
        }
        Some(u) => {
            problem(
                "ENTRA_MONITOR_SIMULATED_GRAPH_URL",
                format!("\"{u}\" is not an http(s) address; expected e.g. http://127.0.0.1:7072"),
            );
            None
        }
        None => None,
    };
    let start_text = env
        .get("ENTRA_MONITOR_SIMULATED_START")
        .map(|v| ("ENTRA_MONITOR_SIMULATED_START", v.clone()))
        .or(file.simulated_start.clone().map(|v| ("simulated_start", v)));
    let start = start_text.and_then(|(setting, text)| {
        if tenant_configured {
            problem(
                setting,
                "applies only to the simulated tenant, and a tenant is configured; remove it"
                    .to_string(),
            );
            return None;
        }
        match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => Some(t.to_utc()),
            Err(_) => {
                problem(
                    setting,
                    format!(
                        "\"{text}\" is not a time; expected RFC 3339 such as 2026-11-25T12:00:00Z"
                    ),
                );
                None
            }
        }
    });
    Simulated {
        seed,
        users,
        budget,
        start,
        graph_url,
    }
}
