//! Timer schedules in Azure Functions' NCRONTAB dialect.
//!
//! Azure timer triggers use six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`,
//! evaluated in UTC, with day-of-week 0 = Sunday and month/day names allowed
//! (<https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-timer#ncrontab-expressions>). NCrontab requires *both* day fields to match when both are restricted,
//! unlike Vixie cron's "either". Five-field cron copied from elsewhere is a classic mistake, so
//! it is refused with a hint instead of being silently reinterpreted.

mod eventbridge;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::fmt;
use std::str::FromStr;

/// A parsed, valid 6-field NCRONTAB schedule.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl Schedule {
    /// Parses an NCRONTAB expression such as `0 */5 * * * *`.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let fields = trimmed.split_whitespace().count();
        if fields != 6 {
            let hint = if fields == 5 {
                format!(" (looks like 5-field cron: prepend a seconds field, e.g. \"0 {trimmed}\")")
            } else {
                String::new()
            };
            return Err(ScheduleError(format!(
                "\"{trimmed}\" has {fields} fields; expected 6: second minute hour day month day-of-week{hint}"
            )));
        }
        // NCrontab knows none of these extensions; refuse them rather than run on other days.
        // (Month and day names such as JUL and WED hold these letters too: they are not it.)
        if let Some(c) = without_names(trimmed)
            .chars()
            .find(|c| matches!(c, 'L' | 'W' | '#' | '?' | '+' | '@'))
        {
            return Err(ScheduleError(format!(
                "\"{trimmed}\" uses '{c}', which NCRONTAB does not support; use values, ranges a-b, lists a,b and steps */n"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .dom_and_dow(true)
            .build()
            .parse(trimmed)
            .map_err(|e| {
                ScheduleError(format!(
                    "\"{trimmed}\" is not a valid NCRONTAB schedule: {e}"
                ))
            })?;
        // A pattern that never fires (e.g. 30 February) is a mistake, not a schedule.
        let probe = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
        if cron.find_next_occurrence(&probe, false).is_err() {
            return Err(ScheduleError(format!("\"{trimmed}\" never fires")));
        }
        Ok(Self {
            text: trimmed.to_string(),
            cron,
        })
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same schedule as an Amazon EventBridge `cron(...)` expression, or why it has none.
    pub fn eventbridge(&self) -> Result<String, ScheduleError> {
        eventbridge::to_eventbridge(&self.text)
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// The expression with the month and day-of-week names taken out.
fn without_names(text: &str) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let mut out = text.to_ascii_uppercase();
    for name in MONTHS.iter().chain(&eventbridge::DAY_NAMES) {
        out = out.replace(name, "");
    }
    out
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn every_five_minutes_fires_on_the_minute_boundary() {
        let s = Schedule::parse("0 */5 * * * *").unwrap();
        assert_eq!(
            s.next_after(at(2026, 11, 27, 10, 1, 30)),
            Some(at(2026, 11, 27, 10, 5, 0))
        );
        // Strictly after: an occurrence at `after` itself is not returned.
        assert_eq!(
            s.next_after(at(2026, 11, 27, 10, 5, 0)),
            Some(at(2026, 11, 27, 10, 10, 0))
        );
    }

    #[test]
    fn seconds_field_is_honoured() {
        let s = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 0, 1)),
            Some(at(2026, 1, 1, 0, 0, 10))
        );
    }

    #[test]
    fn weekday_zero_is_sunday_and_weekdays_exclude_it() {
        // 2026-11-29 is a Sunday.
        let sunday = Schedule::parse("0 0 9 * * 0").unwrap();
        assert_eq!(
            sunday.next_after(at(2026, 11, 27, 0, 0, 0)),
            Some(at(2026, 11, 29, 9, 0, 0))
        );
        let weekdays = Schedule::parse("0 30 9 * * 1-5").unwrap();
        // From Friday evening the next weekday slot is Monday, not Saturday or Sunday.
        assert_eq!(
            weekdays.next_after(at(2026, 11, 27, 18, 0, 0)),
            Some(at(2026, 11, 30, 9, 30, 0))
        );
        let named = Schedule::parse("0 30 9 * * Mon-Fri").unwrap();
        assert_eq!(
            named.next_after(at(2026, 11, 27, 18, 0, 0)),
            Some(at(2026, 11, 30, 9, 30, 0))
        );
    }

    #[test]
    fn both_day_fields_must_match_as_in_ncrontab() {
        // Friday the 13th: 2027-08-13 is the first after 2026-11-27.
        let s = Schedule::parse("0 0 0 13 * 5").unwrap();
        assert_eq!(
            s.next_after(at(2026, 11, 27, 0, 0, 0)),
            Some(at(2027, 8, 13, 0, 0, 0))
        );
    }

    #[test]
    fn five_field_cron_is_refused_with_a_hint() {
        let e = Schedule::parse("*/5 * * * *").unwrap_err().to_string();
        assert!(e.contains("expected 6"), "{e}");
        assert!(e.contains("\"0 */5 * * * *\""), "{e}");
    }

    #[test]
    fn month_and_day_names_are_not_taken_for_extensions() {
        // JUL holds an L, WED a W: names, not the L and W extensions.
        let s = Schedule::parse("0 0 9 1 JUL *").unwrap();
        assert_eq!(
            s.next_after(at(2026, 11, 27, 0, 0, 0)),
            Some(at(2027, 7, 1, 9, 0, 0))
        );
        let s = Schedule::parse("0 0 9 * * wed").unwrap();
        assert_eq!(
            s.next_after(at(2026, 11, 27, 0, 0, 0)),
            Some(at(2026, 12, 2, 9, 0, 0))
        );
        assert!(Schedule::parse("0 0 0 15W * *").is_err());
        assert!(Schedule::parse("0 0 0 * * 5L").is_err());
    }

    #[test]
    fn malformed_schedules_are_refused() {
        for bad in [
            "",
            "0 61 * * * *",
            "0 * * * * 8",
            "a b c d e f",
            "0 0 0 L * *",
            "0 0 0 30 2 *",
            "0 * * * * * 2026",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
