//! Any query string on any question: the parameters are read and checked, the question's plan
//! (SQL and KQL) is built from what passed, and a cursor given back is honoured. Nothing may
//! panic or overflow; a bad value is a 400 naming its parameter.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use shared::query::params::{self, CursorKey};
use shared::query::questions::{Question, own_parameters, plan};
use std::collections::BTreeMap;

const QUESTIONS: [&str; 11] = [
    "admin-access",
    "app-users",
    "password-resets",
    "sign-in-pattern",
    "weekly-users",
    "sign-in-status",
    "logs",
    "provisioning",
    "users-removed",
    "groups-created",
    "users-created",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut query = BTreeMap::new();
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.insert(k.to_string(), v.to_string());
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let key = CursorKey::new(b"fuzz");
    let common = |query: &BTreeMap<String, String>, name: &str| {
        params::common(
            query,
            own_parameters(name),
            now,
            Duration::days(7),
            Duration::days(30),
            false,
            &key,
        )
    };
    for name in QUESTIONS {
        let question = Question::parse(name, &query);
        match (common(&query, name), question) {
            (Ok(c), Ok(q)) => {
                assert!(c.from <= c.to && c.limit >= 1 && c.offset <= params::MAX_OFFSET);
                let _ = plan(&q, "11111111-2222-3333-4444-555555555555", &c);
                // The next page's cursor is accepted with the same parameters.
                let next = params::cursor(c.offset + c.limit, &query, &key);
                let mut again = query.clone();
                again.insert("cursor".into(), next);
                let page = common(&again, name);
                assert!(page.is_ok() || c.offset + c.limit > params::MAX_OFFSET);
            }
            (Err(e), _) | (_, Err(e)) => assert!(!e.message.is_empty()),
        }
    }
});
