//! The query parameters every endpoint shares — time range (`from`, `to`, or `last`), `tenant`,
//! `limit`, `cursor`, `format`, `explain` — and its own, checked strictly: an unknown parameter,
//! a bad date, `from` after `to`, a range before the retention, an oversized page — each is a
//! [`ParamError`] naming the parameter and what is expected.

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// A bad parameter: which, and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

fn bad(parameter: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        parameter: parameter.to_string(),
        message: message.into(),
    }
}

/// Which Log Analytics tables the KQL reads: those Entra diagnostic settings fill
/// (`SigninLogs`, ...), or the custom tables entra-monitor's own Log Analytics destination fills
/// (`SigninLogs_CL`, with `RecordId` for `Id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KqlTables {
    #[default]
    Entra,
    Custom,
}

/// Where a question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    Embedded,
    LogAnalytics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// The parameters every endpoint takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    pub tenant: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: usize,
    /// Rows to skip (from the cursor).
    pub offset: usize,
    pub format: Format,
    pub explain: bool,
    /// The `backend` parameter, when given.
    pub backend: Option<Backend>,
    /// Set from the configuration, not the request.
    pub kql_tables: KqlTables,
}

/// The largest page.
pub const MAX_LIMIT: usize = 1000;
/// The longest retention that can be configured, in days.
pub const MAX_RETENTION_DAYS: i64 = 3650;
/// How far past the server's clock `to` may be (clocks of callers drift).
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
pub const COMMON: [&str; 9] = [
    "from", "to", "last", "tenant", "limit", "cursor", "format", "explain", "backend",
];

/// A parameter's value: at most 256 characters, no control characters.
pub fn text(query: &BTreeMap<String, String>, name: &str) -> Result<Option<String>, ParamError> {
    match query.get(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Err(bad(name, "is empty; give a value or leave it out")),
        Some(v) if v.chars().count() > 256 => Err(bad(name, "is longer than 256 characters")),
        Some(v) if v.chars().any(char::is_control) => Err(bad(name, "contains control characters")),
        Some(v) => Ok(Some(v.trim().to_string())),
    }
}

/// A required parameter.
pub fn required(
    query: &BTreeMap<String, String>,
    name: &str,
    example: &str,
) -> Result<String, ParamError> {
    text(query, name)?.ok_or_else(|| bad(name, format!("is required, e.g. {name}={example}")))
}

fn time(name: &str, v: &str) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(bad(
        name,
        format!("\"{v}\" is not a date; expected e.g. 2026-11-20 or 2026-11-20T08:00:00Z"),
    ))
}

/// `7d`, `24h`, `30m`; at most ten years, so nothing computed from it can overflow.
fn span(v: &str) -> Result<Duration, ParamError> {
    let err = || {
        bad(
            "last",
            format!("\"{v}\" is not a span; expected e.g. 7d, 24h or 30m"),
        )
    };
    // The unit is the last character (not byte: the value may be any text).
    let Some(unit) = v.chars().last() else {
        return Err(err());
    };
    let n: i64 = v[..v.len() - unit.len_utf8()].parse().map_err(|_| err())?;
    if n <= 0 {
        return Err(err());
    }
    let span = match unit {
        'd' => Duration::try_days(n),
        'h' => Duration::try_hours(n),
        'm' => Duration::try_minutes(n),
        _ => return Err(err()),
    };
    span.filter(|s| *s <= Duration::days(MAX_RETENTION_DAYS))
        .ok_or_else(|| {
            bad(
                "last",
                format!("\"{v}\" is longer than any retention ({MAX_RETENTION_DAYS} days at most)"),
            )
        })
}

/// The key cursors are signed with: a caller comes back only with cursors it was given, each
/// for the query it came from (a forged offset, or a cursor moved to another query, is refused).
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }

    /// The signature of `offset` for `query` (every parameter but the cursor), in hex.
    fn sign(&self, offset: usize, query: &BTreeMap<String, String>) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(offset.to_string().as_bytes());
        mac.update(&[0]);
        for (k, v) in query.iter().filter(|(k, _)| k.as_str() != "cursor") {
            mac.update(k.as_bytes());
            mac.update(&[0]);
            mac.update(v.as_bytes());
            mac.update(&[0]);
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// The most rows a cursor skips: far more than any answer holds (answers are bounded), and
/// small enough that nothing computed from it overflows.
pub const MAX_OFFSET: usize = 100_000_000;

/// A cursor: the offset of the next page, signed for the query it came from.
pub fn cursor(offset: usize, query: &BTreeMap<String, String>, key: &CursorKey) -> String {
    format!("{offset}.{}", key.sign(offset, query))
}

/// The offset a cursor stands for, when it is one this key signed for this query.
fn cursor_offset(c: &str, query: &BTreeMap<String, String>, key: &CursorKey) -> Option<usize> {
    let (offset, signature) = c.split_once('.')?;
    let offset = offset.parse::<usize>().ok().filter(|o| *o <= MAX_OFFSET)?;
    crate::auth::same_hash(&key.sign(offset, query), signature).then_some(offset)
}

/// The range asked for (`from`/`to` or `last`, or the endpoint's default): not in the
/// future, not before the retention.
fn range(
    query: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    default_span: Duration,
    retention: Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ParamError> {
    let last = text(query, "last")?;
    let from = text(query, "from")?;
    let to = text(query, "to")?;
    if last.is_some() && (from.is_some() || to.is_some()) {
        return Err(bad("last", "give either last or from/to, not both"));
    }
    let to = match to {
        Some(t) => time("to", &t)?,
        None => now,
    };
    if to > now + CLOCK_SKEW {
        return Err(bad(
            "to",
            format!("{to} is in the future; expected at most now ({now}); leave to out for now"),
        ));
    }
    let oldest = now - retention;
    if to < oldest {
        return Err(bad(
            "to",
            format!(
                "{to} is before the retention ({} days): nothing is kept that old",
                retention.num_days()
            ),
        ));
    }
    let (from, asked) = match (from, last) {
        (Some(f), _) => (time("from", &f)?, Some("from")),
        (None, Some(l)) => (to - span(&l)?, Some("last")),
        // The endpoint's default range, clipped to the retention.
        (None, None) => ((to - default_span).max(oldest), None),
    };
    if from > to {
        return Err(bad("from", format!("{from} is after to ({to})")));
    }
    if let Some(parameter) = asked
        && from < oldest
    {
        return Err(bad(
            parameter,
            format!(
                "the range starts at {from}, before the retention ({} days, since {oldest}): nothing older is kept; ask for at most {}d, or raise ENTRA_MONITOR_RETENTION_DAYS",
                retention.num_days(),
                retention.num_days()
            ),
        ));
    }
    Ok((from, to))
}

/// Reads the common parameters and checks that no parameter is unknown. `own` are the
/// endpoint's own parameter names; `default_span` the range when none is given; `retention`
/// how far back data is kept; `key` what cursors are signed with.
pub fn common(
    query: &BTreeMap<String, String>,
    own: &[&str],
    now: DateTime<Utc>,
    default_span: Duration,
    retention: Duration,
    accept_csv: bool,
    key: &CursorKey,
) -> Result<Common, ParamError> {
    for k in query.keys() {
        if !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()) {
            let mut known: Vec<&str> = own.to_vec();
            known.extend(COMMON);
            return Err(bad(
                k,
                format!("unknown parameter; expected one of {}", known.join(", ")),
            ));
        }
    }
    let (from, to) = range(query, now, default_span, retention)?;
    let limit = match text(query, "limit")? {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    format!("\"{l}\" is not a page size; expected 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let offset = match text(query, "cursor")? {
        None => 0,
        Some(c) => match cursor_offset(&c, query, key) {
            Some(o) => o,
            None => {
                return Err(bad(
                    "cursor",
                    "is not a cursor of this query; use next_cursor from the previous page with the same parameters",
                ));
            }
        },
    };
    let format = match text(query, "format")?.as_deref() {
        None if accept_csv => Format::Csv,
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(f) => {
            return Err(bad(
                "format",
                format!("\"{f}\" is not a format; expected json or csv"),
            ));
        }
    };
    let explain = match text(query, "explain")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(bad("explain", format!("\"{v}\" is not true or false"))),
    };
    let backend = match text(query, "backend")?.as_deref() {
        None => None,
        Some("embedded") => Some(Backend::Embedded),
        Some("log-analytics") => Some(Backend::LogAnalytics),
        Some(b) => {
            return Err(bad(
                "backend",
                format!("\"{b}\" is not a backend; expected embedded or log-analytics"),
            ));
        }
    };
    Ok(Common {
        backend,
        kql_tables: KqlTables::Entra,
        tenant: text(query, "tenant")?,
        from,
        to,
        limit,
        offset,
        format,
        explain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bad_parameters_are_named() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let key = CursorKey::new(b"test key");
        let run = |pairs: &[(&str, &str)]| {
            common(
                &q(pairs),
                &["user"],
                now,
                Duration::days(7),
                Duration::days(30),
                false,
                &key,
            )
        };
        let c = run(&[("last", "24h"), ("user", "a@b")]).unwrap();
        assert_eq!((c.from, c.to), (now - Duration::hours(24), now));
        for (pairs, parameter, text) in [
            (
                vec![("color", "red")],
                "color",
                "unknown parameter; expected one of user, from",
            ),
            (vec![("from", "yesterday")], "from", "not a date"),
            (
                vec![("from", "2026-11-26"), ("to", "2026-11-20")],
                "from",
                "is after to",
            ),
            (
                vec![("to", "2026-01-01")],
                "to",
                "before the retention (30 days)",
            ),
            (vec![("limit", "5000")], "limit", "expected 1 to 1000"),
            (vec![("last", "7w")], "last", "not a span"),
            (
                vec![("last", "7d"), ("from", "2026-11-20")],
                "last",
                "not both",
            ),
            (
                vec![("cursor", "10.abc")],
                "cursor",
                "not a cursor of this query",
            ),
            (vec![("format", "xml")], "format", "json or csv"),
            (vec![("tenant", "a\u{0}b")], "tenant", "control characters"),
            // Huge or far values are refused before anything is computed from them.
            (
                vec![("last", "99999999d")],
                "last",
                "longer than any retention",
            ),
            (
                vec![("last", "9223372036854775807m")],
                "last",
                "longer than any retention",
            ),
            (
                vec![("last", "99999999999999999999d")],
                "last",
                "not a span",
            ),
            (vec![("to", "9999-12-31")], "to", "in the future"),
            (
                vec![("from", "2026-11-05"), ("to", "9999-12-31")],
                "to",
                "in the future",
            ),
            (
                vec![("last", "100d")],
                "last",
                "before the retention (30 days",
            ),
            (
                vec![("from", "2026-01-01")],
                "from",
                "before the retention (30 days",
            ),
        ] {
            let e = run(&pairs).unwrap_err();
            assert_eq!(e.parameter, parameter, "{pairs:?}");
            assert!(e.message.contains(text), "{pairs:?}: {e}");
        }
        // The endpoint's own default range is clipped to the retention, not refused.
        let c = common(
            &q(&[]),
            &[],
            now,
            Duration::days(30),
            Duration::days(7),
            false,
            &key,
        )
        .unwrap();
        assert_eq!(c.from, now - Duration::days(7));
        // A little clock skew in `to` is accepted.
        let skewed = (now + Duration::minutes(2)).to_rfc3339();
        assert!(run(&[("to", skewed.as_str())]).is_ok());
    }

    #[test]
    fn a_cursor_is_good_for_its_own_query_and_key_only() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let key = CursorKey::new(b"test key");
        let first = q(&[("last", "7d")]);
        let page = |cursor: String, query: &BTreeMap<String, String>| {
            let mut next = query.clone();
            next.insert("cursor".into(), cursor);
            common(
                &next,
                &[],
                now,
                Duration::days(7),
                Duration::days(30),
                false,
                &key,
            )
        };
        assert_eq!(page(cursor(100, &first, &key), &first).unwrap().offset, 100);
        // A cursor is good for its own query, with its own offset, from this key only.
        let refused = |r: Result<Common, ParamError>| {
            r.is_err_and(|e| e.parameter == "cursor" && e.message.contains("not a cursor"))
        };
        let signed = cursor(100, &first, &key);
        let (_, signature) = signed.split_once('.').unwrap();
        assert!(refused(page(format!("1000.{signature}"), &first)));
        assert!(refused(page(signed.clone(), &q(&[("last", "6d")]))));
        assert!(refused(page(
            cursor(100, &first, &CursorKey::new(b"another")),
            &first
        )));
        let huge = MAX_OFFSET + 1;
        assert!(refused(page(cursor(huge, &first, &key), &first)));
        assert!(refused(page(format!("{}.{signature}", usize::MAX), &first)));
    }
}
