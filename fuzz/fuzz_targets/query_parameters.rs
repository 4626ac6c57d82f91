//! Any query string on any question: the parameters are read and checked, the question's plan
//! (SQL and KQL) is built from what passed, and a cursor given back is honoured. Nothing may
//! panic or overflow; a bad value is a 400 naming its parameter.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use shared::query::params::{self, CursorKey};
use shared::query::questions::{self, Question};
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut query = BTreeMap::new();
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.insert(k.to_string(), v.to_string());
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let key = CursorKey::new(b"fuzz");
    let common = |query: &BTreeMap<String, String>, q: &dyn Question| {
        params::common(
            query,
            &q.spec().parameter_names(),
            now,
            Duration::days(7),
            Duration::days(30),
            false,
            &key,
        )
    };
    for question in questions::ALL.iter().copied() {
        match (common(&query, question), question.parse(&query)) {
            (Ok(c), Ok(q)) => {
                assert!(c.from <= c.to && c.limit >= 1 && c.offset <= params::MAX_OFFSET);
                let _ = q.plan("11111111-2222-3333-4444-555555555555", &c);
                // The next page's cursor is accepted with the same parameters.
                let next = params::cursor(c.offset + c.limit, &query, &key);
                let mut again = query.clone();
                again.insert("cursor".into(), next);
                let page = common(&again, question);
                assert!(page.is_ok() || c.offset + c.limit > params::MAX_OFFSET);
            }
            (Err(e), _) | (_, Err(e)) => assert!(!e.message.is_empty()),
        }
    }
});
