//! Time is injected: production code asks a [`Clock`], tests give a fixed one.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// The one way times are written: RFC 3339 in UTC with milliseconds and `Z`
/// (`2026-11-19T15:00:00.000Z`), which sorts as text in time order (the embedded store's
/// columns, cursors, KQL literals and Graph filters rely on it).
pub trait Timestamp {
    fn rfc3339_millis(&self) -> String;
}

impl Timestamp for DateTime<Utc> {
    fn rfc3339_millis(&self) -> String {
        self.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// A source of the current UTC time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A clock that starts at a chosen instant and then runs in real time (the simulated tenant
/// replaying a given day).
#[derive(Debug)]
pub struct StartedClock {
    start: DateTime<Utc>,
    since: std::time::Instant,
}

impl StartedClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            start,
            since: std::time::Instant::now(),
        }
    }
}

impl Clock for StartedClock {
    fn now(&self) -> DateTime<Utc> {
        self.start
            + chrono::Duration::from_std(self.since.elapsed()).unwrap_or(chrono::Duration::zero())
    }
}
