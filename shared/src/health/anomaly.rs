//! Anomalies in a health signal, found against the tenant's own history, each explainable with
//! figures a person can check.
//!
//! **The model.** A signal is a count per 15-minute window ([`Model::width`]), a window starting
//! every 5 minutes ([`Model::step`]: rolling windows, so an incident is judged on whole windows
//! of it however it falls on the clock). Its expected value at a window is the **median** of the
//! same window on the same weekday in the previous weeks (at most [`Model::weeks`]), pooled with
//! the windows a width before and after (a working day does not start on the same quarter hour
//! every week) — with three weeks of history, nine values. The spread
//! is the **median absolute deviation** of those values (×1.4826, the MAD's factor for a normal
//! distribution), never below the square root of the expected count (the noise of a count) nor
//! below one. An interval is unusual when it is more than [`Model::threshold`] spreads above
//! (spike) or below (dip) the expected value. Why this model: a tenant's activity repeats by
//! weekday and hour, so the same slot of past weeks is the best guide to what is normal; the
//! median and MAD are not moved by the incidents of past weeks, where a mean and standard
//! deviation would learn them as normal; the square-root floor keeps a slot that happened to be
//! identical every week (MAD zero) from calling one extra sign-in an anomaly.
//!
//! **Quiet below a volume, and for one or two people.** A spike whose observed count is under
//! [`Model::min_volume`], or a dip where even the expected count is under it, is not unusual: a
//! handful of events says nothing (Microsoft's own alerts need 100 monthly active users for the
//! same reason). Nor is a spike whose events come from fewer than [`Model::min_users`] distinct
//! users (3): one person retrying a failing sign-in a dozen times is that person's problem, not
//! the tenant's, and a health alert says people cannot work.
//!
//! **Confirmation and resolution.** An anomaly is raised when [`Model::confirm`] windows in a
//! row are unusual in the same direction — three windows 5 minutes apart, 25 minutes of unusual
//! activity — and resolved when as many in a row are back inside the band (an open anomaly
//! lasts while the signal stays outside it, whatever the volume): one odd quarter hour neither
//! raises nor ends one (no flapping). An incident whose whole windows are unusual is raised at
//! most 30 minutes after it starts (the first whole window starts within 5 minutes of it, the
//! third ends 25 minutes later), sooner when the windows it only partly covers are unusual too.
//! The first and the third window share five minutes, so a burst in them could fill all three:
//! the distinct-users floor is what keeps one user's burst from raising an alert (with four
//! windows, which share nothing, the bound was 35 minutes).
//!
//! **Rates.** An app's failures are judged as a share of its sign-ins ([`Model::detect_rate`]): a
//! busy Monday brings more failures and more sign-ins alike, and an app with a dozen sign-ins a
//! quarter hour can lose half of them without its failure count ever reaching the volume floor.
//! The expected failure rate is the median over past weeks of each week's rate in the same slot
//! and its neighbours (failures over sign-ins, pooled: a rate of a few sign-ins is mostly zero);
//! at a window with `n` sign-ins the expected failures are that rate times `n`, and the band is
//! the binomial's own: the failure counts at least as likely as a normal value within
//! [`Model::threshold`] spreads (a tail of 3 in 100,000 at 4), computed exactly — at a dozen
//! sign-ins the normal approximation would call five failures unusual where one window in a
//! thousand has them — and never narrower than `threshold` failures either side of the expected
//! count (an app never seen to fail is not alarming at its first failure). The volume floor
//! applies to the sign-ins, not the failures.
//!
//! **Not enough history.** Until a slot has [`Model::min_weeks`] weeks behind it, nothing is
//! judged there.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// The model's settings, with the reasons for the defaults above.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// How often a window starts (5 minutes), and how long it is (15).
    pub step: Duration,
    pub width: Duration,
    /// How many past weeks the baseline reads (4), and how many it needs (3).
    pub weeks: i64,
    pub min_weeks: i64,
    /// How many spreads away is unusual (4: with a normal spread, about one interval in 16,000
    /// by chance).
    pub threshold: f64,
    /// Below this count nothing is unusual (10).
    pub min_volume: f64,
    /// A spike needs events of at least this many distinct users (3).
    pub min_users: f64,
    /// Windows in a row to raise, and to resolve (3).
    pub confirm: usize,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            step: Duration::minutes(5),
            width: Duration::minutes(15),
            weeks: 4,
            min_weeks: 3,
            threshold: 4.0,
            min_volume: 10.0,
            min_users: 3.0,
            confirm: 3,
        }
    }
}

impl Model {
    /// The model on whole quarter hours: windows of 15 minutes every 15, two to confirm.
    pub fn quarter_hours() -> Self {
        Model {
            step: Duration::minutes(15),
            confirm: 2,
            ..Model::default()
        }
    }
}

/// Which way a signal moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Spike,
    Dip,
}

/// What the baseline expected at one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Expected {
    pub median: f64,
    pub spread: f64,
    /// How many past values it was learned from.
    pub samples: usize,
    /// For a rate: the expected rate, and the interval's volume (sign-ins) it applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
}

/// The rate behind an [`Expected`] count of failures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub expected: f64,
    pub volume: f64,
}

/// What the model reads at one interval: the value, what was expected, the volume a spike
/// needs (the value itself for a count, the sign-ins for a rate), and the distinct users behind
/// the value.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub observed: f64,
    pub expected: Expected,
    pub volume: f64,
    pub users: f64,
}

impl Expected {
    /// The band of usual values: median ± threshold × spread (never below zero); for a rate,
    /// the binomial's counts as likely as a normal value within threshold spreads, never
    /// narrower than ± threshold (module doc).
    pub fn band(&self, threshold: f64) -> (f64, f64) {
        let low = (self.median - threshold * self.spread).max(0.0);
        let high = self.median + threshold * self.spread;
        match self.rate {
            Some(r) if r.volume >= 1.0 => {
                let tail = 0.5 * libm::erfc(threshold / std::f64::consts::SQRT_2);
                let (b_low, b_high) = binomial_band(r.volume.round() as u64, r.expected, tail);
                (
                    b_low.min((self.median - threshold).max(0.0)),
                    b_high.max(self.median + threshold),
                )
            }
            _ => (low, high),
        }
    }

    /// How many spreads `observed` is from the median.
    pub fn score(&self, observed: f64) -> f64 {
        (observed - self.median) / self.spread
    }
}

/// One anomaly: when it began (its first unusual window), when it was raised (the end of the
/// window that confirmed it), when it ended (the first window back in the band, once
/// confirmed), and the figures of its most unusual window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    pub direction: Direction,
    pub started: DateTime<Utc>,
    pub raised: DateTime<Utc>,
    pub resolved: Option<DateTime<Utc>>,
    pub peak_at: DateTime<Utc>,
    pub peak_observed: f64,
    pub peak_expected: Expected,
    pub peak_score: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The usual counts of successes in `n` draws at probability `p`: from the smallest `k` with
/// P(X ≤ k) ≥ `tail` to the largest with P(X ≥ k) ≥ `tail` (a count outside is less likely than
/// `tail`). Exact, the probabilities computed in logarithms (no underflow at any `n`).
fn binomial_band(n: u64, p: f64, tail: f64) -> (f64, f64) {
    if p <= 0.0 || p >= 1.0 || n == 0 {
        let at = if p >= 1.0 { n as f64 } else { 0.0 };
        return (at, at);
    }
    // ln P(X = k), from k = 0 by the ratio of neighbours.
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let mut ln_pmf = Vec::with_capacity(n as usize + 1);
    let mut ln = n as f64 * ln_q;
    for k in 0..=n {
        ln_pmf.push(ln);
        ln += ((n - k) as f64 / (k + 1) as f64).ln() + ln_p - ln_q;
    }
    let mut low = 0;
    let mut below = 0.0;
    for (k, l) in ln_pmf.iter().enumerate() {
        below += l.exp();
        if below >= tail {
            low = k;
            break;
        }
    }
    let mut high = n as usize;
    let mut above = 0.0;
    for (k, l) in ln_pmf.iter().enumerate().rev() {
        above += l.exp();
        if above >= tail {
            high = k;
            break;
        }
    }
    (low as f64, high as f64)
}

/// A signal: a value per interval start.
pub type Series = HashMap<DateTime<Utc>, f64>;

/// The distinct users behind `observed` at `t` (as many as the events without a series).
fn users_at(users: Option<&Series>, t: DateTime<Utc>, observed: f64) -> f64 {
    users.map_or(observed, |u| u.get(&t).copied().unwrap_or(0.0))
}

impl Model {
    /// What the history expected at `at`, if enough weeks lie behind it. An interval missing
    /// from the series counts as zero (the signals answer every interval).
    pub fn expected(&self, series: &Series, at: DateTime<Utc>) -> Option<Expected> {
        let mut values: Vec<f64> = self
            .history(series, at)?
            .into_iter()
            .map(|t| series.get(&t).copied().unwrap_or(0.0))
            .collect();
        let samples = values.len();
        let m = median(&mut values);
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
        let mad = median(&mut deviations) * 1.4826;
        Some(Expected {
            median: m,
            spread: mad.max(m.sqrt()).max(1.0),
            samples,
            rate: None,
        })
    }

    /// The intervals of the baseline at `at` — the same slot and its neighbours in each past
    /// week the series holds — if enough weeks lie behind it.
    fn history(&self, series: &Series, at: DateTime<Utc>) -> Option<Vec<DateTime<Utc>>> {
        let mut out = Vec::new();
        let mut weeks = 0;
        for w in 1..=self.weeks {
            let same = at - Duration::weeks(w);
            if !series.contains_key(&same) {
                continue;
            }
            weeks += 1;
            out.extend([-1, 0, 1].map(|shift| same + self.width * shift));
        }
        (weeks >= self.min_weeks).then_some(out)
    }

    /// What the history expected of `failures` at `at`, as a rate of `totals` (module doc).
    pub fn expected_rate(
        &self,
        failures: &Series,
        totals: &Series,
        at: DateTime<Utc>,
    ) -> Option<Expected> {
        let slots = self.history(totals, at)?;
        // Each week's slots pooled (a rate of a few sign-ins is mostly zero), then the median
        // of the weeks (an incident in one past week moves one value).
        let mut rates: Vec<f64> = slots
            .chunks(3)
            .filter_map(|week| {
                let (f, n) = week.iter().fold((0.0, 0.0), |(f, n), t| {
                    let total = totals.get(t).copied().unwrap_or(0.0);
                    let failed = failures.get(t).copied().unwrap_or(0.0).min(total);
                    (f + failed, n + total)
                });
                (n > 0.0).then_some(f / n)
            })
            .collect();
        let samples = slots.len();
        let p = if rates.is_empty() {
            0.0
        } else {
            median(&mut rates)
        };
        let n = totals.get(&at).copied().unwrap_or(0.0);
        Some(Expected {
            median: p * n,
            spread: (n * p * (1.0 - p)).sqrt().max(1.0),
            samples,
            rate: Some(Rate {
                expected: p,
                volume: n,
            }),
        })
    }

    /// Whether `observed` is outside the band of `e`, and which way.
    pub fn outside(&self, observed: f64, e: &Expected) -> Option<Direction> {
        let (low, high) = e.band(self.threshold);
        if observed > high {
            Some(Direction::Spike)
        } else if observed < low {
            Some(Direction::Dip)
        } else {
            None
        }
    }

    /// Whether a reading is unusual enough to raise an anomaly (outside the band, with the
    /// volume to mean something), and which way.
    pub fn unusual(&self, r: &Reading) -> Option<Direction> {
        match self.outside(r.observed, &r.expected)? {
            Direction::Spike if r.volume >= self.min_volume && r.users >= self.min_users => {
                Some(Direction::Spike)
            }
            Direction::Dip if r.expected.median >= self.min_volume => Some(Direction::Dip),
            _ => None,
        }
    }

    /// The anomalies of `series` over `[from, to)`, judged interval by interval as a
    /// detector running every interval would, with the history before each. `users`: the
    /// distinct users behind each value (`None`: as many as the value).
    pub fn detect(
        &self,
        series: &Series,
        users: Option<&Series>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Anomaly> {
        self.detect_by(from, to, |t| {
            let observed = series.get(&t).copied().unwrap_or(0.0);
            Some(Reading {
                observed,
                expected: self.expected(series, t)?,
                volume: observed,
                users: users_at(users, t, observed),
            })
        })
    }

    /// The anomalies of `failures` as a rate of `totals` over `[from, to)` (module doc).
    pub fn detect_rate(
        &self,
        failures: &Series,
        totals: &Series,
        users: Option<&Series>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Anomaly> {
        self.detect_by(from, to, |t| {
            let observed = failures.get(&t).copied().unwrap_or(0.0);
            Some(Reading {
                observed,
                expected: self.expected_rate(failures, totals, t)?,
                volume: totals.get(&t).copied().unwrap_or(0.0),
                users: users_at(users, t, observed),
            })
        })
    }

    /// The anomalies over `[from, to)` of the readings `read` gives per interval.
    fn detect_by(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        read: impl Fn(DateTime<Utc>) -> Option<Reading>,
    ) -> Vec<Anomaly> {
        let mut out: Vec<Anomaly> = Vec::new();
        let mut open: Option<Anomaly> = None;
        // The run of unusual intervals not yet confirmed, and of usual ones while open.
        let mut run: Vec<(DateTime<Utc>, f64, Expected, Direction)> = Vec::new();
        let mut calm = 0;
        let mut t = from;
        while t < to {
            // An open anomaly lasts while the signal stays outside the band (the volume floor is
            // for raising one); a new one needs the volume.
            let reading = read(t);
            let observed = reading.map_or(0.0, |r| r.observed);
            let verdict = reading.map(|r| {
                let d = if open.is_some() {
                    self.outside(r.observed, &r.expected)
                } else {
                    self.unusual(&r)
                };
                (r.expected, d)
            });
            match (&mut open, verdict) {
                (Some(a), Some((e, Some(d)))) if d == a.direction => {
                    calm = 0;
                    let score = e.score(observed);
                    if score.abs() > a.peak_score.abs() {
                        a.peak_at = t;
                        a.peak_observed = observed;
                        a.peak_expected = e;
                        a.peak_score = score;
                    }
                }
                (Some(a), _) => {
                    calm += 1;
                    if calm >= self.confirm {
                        // The first window back in the band (never before it was raised).
                        a.resolved =
                            Some((t - self.step * (self.confirm as i32 - 1)).max(a.raised));
                        out.extend(open.take());
                        calm = 0;
                    }
                }
                (None, Some((e, Some(d)))) => {
                    if run.last().is_some_and(|r| r.3 != d) {
                        run.clear();
                    }
                    run.push((t, observed, e, d));
                    if run.len() >= self.confirm {
                        let peak = run
                            .iter()
                            .max_by(|a, b| a.2.score(a.1).abs().total_cmp(&b.2.score(b.1).abs()))
                            .copied()
                            .unwrap_or(run[0]);
                        open = Some(Anomaly {
                            direction: d,
                            started: run[0].0,
                            raised: t + self.width,
                            resolved: None,
                            peak_at: peak.0,
                            peak_observed: peak.1,
                            peak_expected: peak.2,
                            peak_score: peak.2.score(peak.1),
                        });
                        run.clear();
                    }
                }
                (None, _) => run.clear(),
            }
            t += self.step;
        }
        out.extend(open);
        out
    }
}

/// The naive rule the App sign-in health workbook draws: an interval more than twice (or less
/// than half) the same interval a week earlier is an alert — no volume floor, no confirmation.
/// Kept to measure ours against, on the same data.
pub fn naive(
    series: &Series,
    step: Duration,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Direction)> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let now = series.get(&t).copied().unwrap_or(0.0);
        let before = series
            .get(&(t - Duration::weeks(1)))
            .copied()
            .unwrap_or(0.0);
        if now > 2.0 * before && now > 0.0 {
            out.push((t, Direction::Spike));
        } else if now < before / 2.0 {
            out.push((t, Direction::Dip));
        }
        t += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    /// Four weeks and a week to test of a working-hours signal: busy on weekdays 08–18 (about
    /// 60 per 15 minutes), quiet at night and at weekends (about 3), with count noise.
    fn seasonal(seed: u64) -> (Series, DateTime<Utc>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let start = Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap(); // a Monday
        let mut s = Series::new();
        let mut t = start;
        while t < start + Duration::weeks(5) {
            let working = t.weekday().num_days_from_monday() < 5 && (8..18).contains(&t.hour());
            let mean: f64 = if working { 60.0 } else { 3.0 };
            // Poisson-like noise: the sum of uniform draws around the mean.
            let noise = (0..12).map(|_| rng.f64()).sum::<f64>() - 6.0;
            s.insert(t, (mean + noise * mean.sqrt()).round().max(0.0));
            t += Duration::minutes(15);
        }
        (s, start + Duration::weeks(4))
    }

    #[test]
    fn a_week_of_ordinary_activity_raises_nothing_where_the_naive_rule_raises_plenty() {
        let m = Model::quarter_hours();
        for seed in 1..=5 {
            let (s, test_week) = seasonal(seed);
            let found = m.detect(&s, None, test_week, test_week + Duration::weeks(1));
            assert!(found.is_empty(), "seed {seed}: {found:?}");
            let naive = naive(&s, m.step, test_week, test_week + Duration::weeks(1));
            assert!(
                naive.len() > 20,
                "seed {seed}: the naive rule fires {} times",
                naive.len()
            );
        }
    }

    #[test]
    fn a_spike_is_raised_within_two_intervals_and_resolved_when_it_ends() {
        let m = Model::quarter_hours();
        let (mut s, test_week) = seasonal(7);
        // Wednesday 10:07 to 10:52: three times the usual (an outage's failures).
        let start = test_week + Duration::days(2) + Duration::hours(10);
        for q in 0..3 {
            let t = start + Duration::minutes(15 * q);
            *s.get_mut(&t).unwrap() += 120.0;
        }
        let found = m.detect(&s, None, test_week, test_week + Duration::weeks(1));
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.direction, Direction::Spike);
        assert_eq!(a.started, start);
        assert_eq!(a.raised, start + Duration::minutes(30));
        assert_eq!(a.resolved, Some(start + Duration::minutes(45)));
        assert!(
            a.peak_score > m.threshold && a.peak_observed > 150.0,
            "{a:?}"
        );
        let (low, high) = a.peak_expected.band(m.threshold);
        assert!(
            low < 60.0 && 60.0 < high,
            "the band holds the usual value: {low}..{high}"
        );
    }

    #[test]
    fn a_dip_in_a_busy_hour_is_raised_a_quiet_one_is_not() {
        let m = Model::quarter_hours();
        let (mut s, test_week) = seasonal(11);
        // Thursday 14:00–15:00: nothing (blocked users drop to zero after a policy is disabled).
        let busy = test_week + Duration::days(3) + Duration::hours(14);
        // Saturday 03:00–04:00: nothing either, but a handful is usual there.
        let quiet = test_week + Duration::days(5) + Duration::hours(3);
        for q in 0..4 {
            s.insert(busy + Duration::minutes(15 * q), 0.0);
            s.insert(quiet + Duration::minutes(15 * q), 0.0);
        }
        let found = m.detect(&s, None, test_week, test_week + Duration::weeks(1));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].direction, found[0].started),
            (Direction::Dip, busy)
        );
        assert_eq!(found[0].resolved, Some(busy + Duration::hours(1)));
    }

    #[test]
    fn one_odd_interval_neither_raises_nor_ends_an_anomaly() {
        let m = Model::quarter_hours();
        let (mut s, test_week) = seasonal(3);
        let at = test_week + Duration::days(1) + Duration::hours(9);
        *s.get_mut(&at).unwrap() += 200.0;
        assert!(
            m.detect(&s, None, test_week, test_week + Duration::weeks(1))
                .is_empty()
        );
        // A long spike with one ordinary interval in the middle stays one anomaly.
        for q in [2, 3, 5, 6] {
            *s.get_mut(&(at + Duration::minutes(15 * q))).unwrap() += 200.0;
        }
        let found = m.detect(&s, None, test_week, test_week + Duration::weeks(1));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].started, at + Duration::minutes(30));
        assert_eq!(found[0].resolved, Some(at + Duration::minutes(105)));
    }

    #[test]
    fn a_rates_band_is_the_binomials_exact_tail() {
        // 17 sign-ins failing at 4.4%: five failures happen in about one window in 700 — usual
        // at four spreads (a tail of 3.2e-5); seven do not (4e-6).
        assert_eq!(binomial_band(17, 0.044, 3.17e-5), (0.0, 6.0));
        // Large counts: the normal approximation's band, near enough (1,000 ± 4 × 30).
        let (low, high) = binomial_band(100_000, 0.01, 3.17e-5);
        assert!((870.0..=885.0).contains(&low) && (1115.0..=1130.0).contains(&high));
        let e = Expected {
            median: 0.0,
            spread: 1.0,
            samples: 9,
            rate: Some(Rate {
                expected: 0.0,
                volume: 20.0,
            }),
        };
        // Never seen to fail: up to four failures are within the band, five are not.
        assert_eq!(e.band(4.0), (0.0, 4.0));
    }

    #[test]
    fn one_users_burst_raises_nothing_however_many_failures() {
        let m = Model::default();
        // Rolling windows every 5 minutes of a quiet signal (about 2 a window), then one user
        // failing 40 times from Tuesday 10:00 to 10:40: every window holding the burst is far
        // above the band, with a single user behind it.
        let start = Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap();
        let test_week = start + Duration::weeks(4);
        let burst = test_week + Duration::days(1) + Duration::hours(10);
        let mut s = Series::new();
        let mut users = Series::new();
        let mut t = start;
        while t < test_week + Duration::weeks(1) {
            let in_burst = t > burst - m.width && t < burst + Duration::minutes(40);
            let v = if in_burst { 42.0 } else { 2.0 };
            s.insert(t, v);
            // The usual two users, or the burst's user and one other.
            users.insert(t, 2.0);
            t += m.step;
        }
        let week = (test_week, test_week + Duration::weeks(1));
        assert!(m.detect(&s, Some(&users), week.0, week.1).is_empty());
        // The same failures spread over many users are an incident.
        let found = m.detect(&s, None, week.0, week.1);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].raised <= burst + Duration::minutes(30),
            "{found:?}"
        );
    }

    /// An app's sign-ins (a working-hours signal of about 15 a quarter hour, twice that on the
    /// test week's Tuesday when `busy`) and its failures, each sign-in failing with probability
    /// 5%, or `incident` within `[at, at + 45 min)`.
    fn app(
        seed: u64,
        at: DateTime<Utc>,
        incident: f64,
        busy: bool,
    ) -> (Series, Series, DateTime<Utc>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (mut totals, test_week) = seasonal(seed);
        let tuesday = test_week + Duration::days(1);
        for (t, v) in totals.iter_mut() {
            let twice = busy && *t >= tuesday && *t < tuesday + Duration::days(1);
            *v = (*v / 4.0).round() * if twice { 2.0 } else { 1.0 };
        }
        // In time order: the draws are the same at every run.
        let mut times: Vec<(&DateTime<Utc>, &f64)> = totals.iter().collect();
        times.sort_by_key(|(t, _)| **t);
        let failures = times
            .into_iter()
            .map(|(t, n)| {
                let p = if *t >= at && *t < at + Duration::minutes(45) {
                    incident
                } else {
                    0.05
                };
                (
                    *t,
                    (0..*n as usize).filter(|_| rng.f64() < p).count() as f64,
                )
            })
            .collect();
        (failures, totals, test_week)
    }

    #[test]
    fn an_app_losing_most_of_its_sign_ins_is_raised_by_its_rate_where_its_failure_count_is_not() {
        let m = Model::quarter_hours();
        let (_, test_week) = seasonal(1);
        let at = test_week + Duration::days(3) + Duration::hours(11);
        // Three in four of its sign-ins fail (at a dozen sign-ins a quarter hour, half failing
        // is at the edge of the band: six of twelve at 6% happen once in 20,000 windows).
        let (failures, totals, _) = app(21, at, 0.75, false);
        let counted = m.detect(&failures, None, test_week, test_week + Duration::weeks(1));
        assert!(counted.is_empty(), "{counted:?}");
        let found = m.detect_rate(
            &failures,
            &totals,
            None,
            test_week,
            test_week + Duration::weeks(1),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].started, at);
        assert!(found[0].resolved.is_some());
        let rate = found[0].peak_expected.rate.expect("a rate");
        assert!(
            rate.expected < 0.2 && rate.volume >= m.min_volume,
            "{rate:?}"
        );
    }

    #[test]
    fn an_apps_ordinary_weeks_and_a_busier_day_at_the_usual_rate_raise_nothing() {
        let m = Model::quarter_hours();
        let never = DateTime::<Utc>::MIN_UTC;
        for seed in 1..=10 {
            for busy in [false, true] {
                let (failures, totals, test_week) = app(30 + seed, never, 0.0, busy);
                let week = test_week..test_week + Duration::weeks(1);
                let found = m.detect_rate(&failures, &totals, None, week.start, week.end);
                assert!(
                    found.is_empty(),
                    "seed {seed}, busy Tuesday {busy}: {found:?}"
                );
            }
        }
    }

    #[test]
    fn without_three_weeks_behind_it_nothing_is_judged() {
        let m = Model::quarter_hours();
        let (mut s, test_week) = seasonal(5);
        let early = test_week - Duration::weeks(2) + Duration::hours(10);
        *s.get_mut(&early).unwrap() += 500.0;
        *s.get_mut(&(early + Duration::minutes(15))).unwrap() += 500.0;
        assert_eq!(m.expected(&s, early), None);
        assert!(
            m.detect(
                &s,
                None,
                early - Duration::hours(1),
                early + Duration::hours(1)
            )
            .is_empty()
        );
    }
}
