//! Writing values into KQL: string literals escaped (so a user name such as `x" | take 1` stays
//! a string), date-times in `datetime(...)`.

use crate::clock::Timestamp;
use chrono::{DateTime, Utc};

/// A KQL string literal: double quotes, with `\`, `"` and control characters escaped.
pub fn lit(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `datetime(2026-11-27T10:00:00.000Z)`.
pub fn time(t: DateTime<Utc>) -> String {
    format!("datetime({})", t.rfc3339_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_cannot_end_early() {
        assert_eq!(lit("x' or 1=1 --"), r#""x' or 1=1 --""#);
        assert_eq!(lit(r#""| take 1"#), r#""\"| take 1""#);
        assert_eq!(lit("a\\\"b\nc"), r#""a\\\"b\nc""#);
    }
}
