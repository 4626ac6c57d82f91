//! Limits of the HTTP listener (`serve` and the Azure custom handler): how long a client may
//! take to send a request, and how many connections may be open at once.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A connection must send a complete request head within this long after it opens, and
    /// after each answer (so it is also how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// A request body must arrive within this long once its head is in.
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHttp {
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    max_connections: Option<u64>,
}

pub(super) const ENV: &[&str] = &[
    "ENTRA_MONITOR_HTTP_HEADER_TIMEOUT_SECONDS",
    "ENTRA_MONITOR_HTTP_BODY_TIMEOUT_SECONDS",
    "ENTRA_MONITOR_HTTP_MAX_CONNECTIONS",
];

pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: FileHttp,
    problem: &mut impl FnMut(&str, String),
) -> HttpLimits {
    let mut number = |var: &str, key: &str, from_file: Option<u64>, default: u64, max: u64| {
        let (setting, value) = match env.get(var) {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => (var.to_string(), n),
                Err(_) => {
                    problem(var, format!("\"{v}\" is not a whole number"));
                    return default;
                }
            },
            None => (format!("http.{key}"), from_file.unwrap_or(default)),
        };
        if !(1..=max).contains(&value) {
            problem(
                &setting,
                format!("{value} is out of range; expected 1 to {max}"),
            );
            return default;
        }
        value
    };
    HttpLimits {
        header_timeout: Duration::from_secs(number(
            "ENTRA_MONITOR_HTTP_HEADER_TIMEOUT_SECONDS",
            "header_timeout_seconds",
            file.header_timeout_seconds,
            10,
            600,
        )),
        body_timeout: Duration::from_secs(number(
            "ENTRA_MONITOR_HTTP_BODY_TIMEOUT_SECONDS",
            "body_timeout_seconds",
            file.body_timeout_seconds,
            30,
            600,
        )),
        max_connections: number(
            "ENTRA_MONITOR_HTTP_MAX_CONNECTIONS",
            "max_connections",
            file.max_connections,
            256,
            65_536,
        ) as usize,
    }
}
