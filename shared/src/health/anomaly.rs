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
//! **Two windows pooled, for a rate.** An app with a dozen sign-ins a quarter hour losing half
//! of them crosses its band in most windows, not all: three in a row can take 45 minutes. So a
//! rate is also raised when two back-to-back windows (a width apart, sharing nothing: half an
//! hour of sign-ins) each lean [`Model::pair_lean`] spreads the same way (2: a window in 40 by
//! chance) and, pooled — their failures over their sign-ins, against the expected rates
//! weighted by their sign-ins — are unusual at the full threshold. More sign-ins judged at once
//! narrow the binomial band, so the incident is raised within 30 minutes (the first of the two
//! windows starts within 5 minutes of it); both windows must lean, so one burst does not.
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
    /// For a rate: how many spreads each of two back-to-back windows must lean the same way for
    /// the pair, pooled, to raise an anomaly when it is unusual (2; `None`: no pairs).
    pub pair_lean: Option<f64>,
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
            pair_lean: Some(2.0),
        }
    }
}

impl Model {
    /// The model on whole quarter hours: windows of 15 minutes every 15, two to confirm.
    pub fn quarter_hours() -> Self {
        Model {
            step: Duration::minutes(15),
            confirm: 2,
            pair_lean: None,
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
        outside_at(observed, e, self.threshold)
    }

    /// Whether two back-to-back windows of a rate, `a` then `b`, confirm an anomaly together
    /// (module doc): each leans [`Model::pair_lean`] spreads the same way, and both pooled are
    /// unusual. Which way, and the pooled reading.
    fn pair(&self, a: &Reading, b: &Reading) -> Option<Direction> {
        let lean = self.pair_lean?;
        let (ra, rb) = (a.expected.rate?, b.expected.rate?);
        let d = outside_at(a.observed, &a.expected, lean)?;
        if outside_at(b.observed, &b.expected, lean) != Some(d) {
            return None;
        }
        let n = ra.volume + rb.volume;
        let p = if n > 0.0 {
            (ra.expected * ra.volume + rb.expected * rb.volume) / n
        } else {
            0.0
        };
        let pooled = Reading {
            observed: a.observed + b.observed,
            expected: Expected {
                median: p * n,
                spread: (n * p * (1.0 - p)).sqrt().max(1.0),
                samples: a.expected.samples + b.expected.samples,
                rate: Some(Rate {
                    expected: p,
                    volume: n,
                }),
            },
            volume: a.volume + b.volume,
            users: a.users + b.users,
        };
        self.unusual(&pooled).filter(|&p| p == d)
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

    /// The anomaly the unusual `windows` confirm at the window starting at `t`.
    fn raise(
        &self,
        windows: &[(DateTime<Utc>, f64, Expected, Direction)],
        t: DateTime<Utc>,
    ) -> Anomaly {
        let peak = windows
            .iter()
            .max_by(|a, b| a.2.score(a.1).abs().total_cmp(&b.2.score(b.1).abs()))
            .copied()
            .unwrap_or(windows[0]);
        Anomaly {
            direction: peak.3,
            started: windows[0].0,
            raised: t + self.width,
            resolved: None,
            peak_at: peak.0,
            peak_observed: peak.1,
            peak_expected: peak.2,
            peak_score: peak.2.score(peak.1),
        }
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
                (None, verdict) => {
                    match verdict {
                        Some((e, Some(d))) => {
                            if run.last().is_some_and(|r| r.3 != d) {
                                run.clear();
                            }
                            run.push((t, observed, e, d));
                        }
                        _ => run.clear(),
                    }
                    // Three in a row; or, for a rate, this window and the one a width back.
                    let confirmed = if run.len() >= self.confirm {
                        Some(std::mem::take(&mut run))
                    } else {
                        let back = t - self.width;
                        reading.zip(read(back)).and_then(|(b, a)| {
                            let d = self.pair(&a, &b)?;
                            Some(vec![
                                (back, a.observed, a.expected, d),
                                (t, b.observed, b.expected, d),
                            ])
                        })
                    };
                    if let Some(windows) = confirmed {
                        open = Some(self.raise(&windows, t));
                        run.clear();
                    }
                }
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

/// Whether `observed` is outside the band of `e` at `threshold` spreads, and which way.
fn outside_at(observed: f64, e: &Expected, threshold: f64) -> Option<Direction> {
    let (low, high) = e.band(threshold);
    if observed > high {
        Some(Direction::Spike)
    } else if observed < low {
        Some(Direction::Dip)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
