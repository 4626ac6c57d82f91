//! NCRONTAB → Amazon EventBridge cron, for the schedules on AWS
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html>).
//!
//! EventBridge's `cron(Minutes Hours Day-of-month Month Day-of-week Year)` has no seconds, counts
//! the days of the week 1–7 from Sunday, takes no step in the day-of-week field, and cannot
//! restrict both day fields (one of them must be `?`). A schedule it cannot express the same
//! way — a second other than 0, both day fields restricted (NCRONTAB then needs both to match)
//! — is refused with the reason, never run at other times.

use super::ScheduleError;
use std::collections::BTreeSet;

/// The days of the week from Sunday, as both dialects name them.
pub(super) const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The EventBridge expression (`cron(...)`) firing when the NCRONTAB `text` (already valid)
/// fires.
pub fn to_eventbridge(text: &str) -> Result<String, ScheduleError> {
    let refuse = |why: String| {
        Err(ScheduleError(format!(
            "\"{text}\" cannot run on EventBridge: {why}"
        )))
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [second, minute, hour, day, month, weekday] = fields[..] else {
        return refuse("expected 6 fields".into());
    };
    if second != "0" {
        return refuse(format!(
            "it fires at second {second}; EventBridge schedules to the minute (write 0 for the seconds)"
        ));
    }
    let day_restricted = day != "*";
    let weekday_restricted = weekday != "*";
    if day_restricted && weekday_restricted {
        return refuse(
            "both the day of the month and the day of the week are restricted (NCRONTAB needs both to match; EventBridge allows only one)".into(),
        );
    }
    let (day, weekday) = if weekday_restricted {
        (
            "?".to_string(),
            weekdays(weekday).map_err(|e| ScheduleError(format!("\"{text}\": {e}")))?,
        )
    } else {
        (start_steps(day, 1), "?".to_string())
    };
    Ok(format!(
        "cron({} {} {day} {} {weekday} *)",
        start_steps(minute, 0),
        start_steps(hour, 0),
        start_steps(month, 1)
    ))
}

/// `*/n` → `<first>/n`, the form EventBridge documents for increments.
fn start_steps(field: &str, first: u32) -> String {
    field
        .split(',')
        .map(|part| match part.strip_prefix("*/") {
            Some(step) => format!("{first}/{step}"),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The day-of-week field in EventBridge's numbering (1 = Sunday), as a list of values and
/// ranges (EventBridge takes no step there).
fn weekdays(field: &str) -> Result<String, String> {
    let mut days = BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in {part}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("bad step in {part}"));
        }
        let (from, to) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                None if step > 1 => (day_number(r)?, 6),
                None => (day_number(r)?, day_number(r)?),
            },
        };
        let mut d = from;
        while d <= to {
            // NCRONTAB's 7 is Sunday again.
            days.insert(d % 7);
            d += step;
        }
    }
    Ok(compress(
        &days.into_iter().map(|d| d + 1).collect::<Vec<_>>(),
    ))
}

fn day_number(text: &str) -> Result<u32, String> {
    if let Some(i) = DAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32);
    }
    match text.parse::<u32>() {
        Ok(n) if n <= 7 => Ok(n),
        _ => Err(format!("\"{text}\" is not a day of the week")),
    }
}

/// `1,2,3,5` → `1-3,5`.
fn compress(values: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        out.push(if j > i + 1 {
            format!("{}-{}", values[i], values[j])
        } else if j == i + 1 {
            format!("{},{}", values[i], values[j])
        } else {
            values[i].to_string()
        });
        i = j + 1;
    }
    out.join(",")
}

/// An EventBridge expression read back as a 6-field cron croner evaluates (`?` → `*`, days of
/// the week from 0, no year), for tests that compare the fire times of both.
#[cfg(test)]
pub(crate) fn from_eventbridge(expression: &str) -> String {
    let inner = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .expect("a cron expression");
    let f: Vec<&str> = inner.split_whitespace().collect();
    assert_eq!(f.len(), 6, "{expression}");
    assert_eq!(f[5], "*", "{expression}");
    // `?` is any; croner writes EventBridge's `a/n` as `a-<last>/n`.
    let any = |s: &str, last: u32| match s {
        "?" => "*".to_string(),
        s => s
            .split(',')
            .map(|part| match part.split_once('/') {
                Some((from, step)) if !from.contains('-') => format!("{from}-{last}/{step}"),
                _ => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
    };
    let weekday = if f[4] == "?" {
        "*".to_string()
    } else {
        f[4].split(',')
            .map(|part| {
                part.split('-')
                    .map(|d| (d.parse::<u32>().expect("a day number") - 1).to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "0 {} {} {} {} {weekday}",
        any(f[0], 59),
        any(f[1], 23),
        any(f[2], 31),
        any(f[3], 12)
    )
}

#[cfg(test)]
mod tests {
    use super::super::Schedule;
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    /// The next `n` fire times after a Friday afternoon.
    fn fires(s: &Schedule, n: usize) -> Vec<DateTime<Utc>> {
        let mut t = Utc.with_ymd_and_hms(2026, 11, 27, 15, 7, 30).unwrap();
        (0..n)
            .map(|_| {
                t = s.next_after(t).expect("fires");
                t
            })
            .collect()
    }

    #[test]
    fn schedules_convert_to_expressions_firing_at_the_same_times() {
        for (ncrontab, expected) in [
            ("0 */5 * * * *", "cron(0/5 * * * ? *)"),
            ("0 0 * * * *", "cron(0 * * * ? *)"),
            ("0 30 2 * * *", "cron(30 2 * * ? *)"),
            ("0 15 */6 * * *", "cron(15 0/6 * * ? *)"),
            ("0 0 9 * * 1-5", "cron(0 9 ? * 2-6 *)"),
            ("0 0 9 * * MON-FRI", "cron(0 9 ? * 2-6 *)"),
            ("0 0 0 * * 0", "cron(0 0 ? * 1 *)"),
            ("0 0 0 * * 7", "cron(0 0 ? * 1 *)"),
            ("0 0 0 * * */2", "cron(0 0 ? * 1,3,5,7 *)"),
            ("0 0 0 * * 5,6,0", "cron(0 0 ? * 1,6,7 *)"),
            ("0 0 3 1 * *", "cron(0 3 1 * ? *)"),
            ("0 0 3 */10 JAN,JUL *", "cron(0 3 1/10 JAN,JUL ? *)"),
            ("0 10,40 8-17 * * *", "cron(10,40 8-17 * * ? *)"),
        ] {
            let converted = to_eventbridge(ncrontab).unwrap();
            assert_eq!(converted, expected, "{ncrontab}");
            // The same fire times, a few hundred of them, as croner evaluates both.
            let ours = Schedule::parse(ncrontab).unwrap();
            let back = Schedule::parse(&from_eventbridge(&converted)).unwrap();
            assert_eq!(fires(&ours, 300), fires(&back, 300), "{ncrontab}");
        }
    }

    #[test]
    fn what_eventbridge_cannot_express_is_refused_with_the_reason() {
        for (ncrontab, says) in [
            ("30 */5 * * * *", "second 30"),
            ("*/10 * * * * *", "second */10"),
            (
                "0 0 0 13 * 5",
                "both the day of the month and the day of the week",
            ),
        ] {
            let e = to_eventbridge(ncrontab).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains("EventBridge"),
                "{ncrontab}: {e}"
            );
        }
    }
}
