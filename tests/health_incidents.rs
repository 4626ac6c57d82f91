//! The anomaly model on the simulated tenant's own signals: three weeks of a 1,000-user tenant's
//! interactive sign-ins to learn from, a fourth with three incidents injected (an MFA outage,
//! a compliant-device failure wave, one app failing), in the monitor's rolling windows (15
//! minutes, every 5; an app's failures as a rate of its sign-ins; a spike needs three distinct
//! users, as the monitor judges). Each incident is raised once on the
//! signal it moves, within 30 minutes of its start, and resolved within 30 minutes of its end;
//! nothing else is raised on those signals that week — where the workbook's naive
//! week-over-week rule, on the same series, fires again and again.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use shared::health::anomaly::{Anomaly, Direction, Model, Series, naive};
use shared::model::Category;

#[path = "support/health.rs"]
mod health;

/// A Monday: three weeks to learn from, then the week with the incidents.
fn weeks_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

fn test_week() -> DateTime<Utc> {
    weeks_start() + Duration::weeks(3)
}

#[test]
fn each_incident_is_raised_once_in_time_and_resolved() {
    let incidents = health::week_incidents(test_week());
    let tenant = health::tenant(&incidents);
    let end = test_week() + Duration::weeks(1);
    let records: Vec<Value> = tenant
        .records(Category::SignInLogs, weeks_start(), end, None)
        .into_iter()
        .map(|r| r.json)
        .collect();
    let interactive: Vec<(bool, &Value)> = records.iter().map(|r| (true, r)).collect();
    let model = Model::default();
    let mut naive_alerts = 0;
    let (step, width) = (model.step, model.width);
    let f64s = |s: Vec<(DateTime<Utc>, i64)>| -> Series {
        s.into_iter().map(|(t, v)| (t, v as f64)).collect()
    };
    // A scenario's windows: its values, or the distinct users behind them.
    let series = |scenario: &str, users: bool| {
        let distinct = users || health::distinct(scenario);
        let range = (weeks_start(), end);
        f64s(health::rolling_by(
            &interactive,
            scenario,
            (step, width),
            range,
            distinct,
        ))
    };
    for (scenario, kind, start, minutes) in &incidents {
        let failures = series(scenario, false);
        let users = series(scenario, true);
        // An app's failures are judged as a rate of its sign-ins, as the monitor judges them;
        // a spike needs three distinct users.
        let found = if scenario.starts_with("app") {
            let totals = series("appSignIns", false);
            model.detect_rate(&failures, &totals, Some(&users), test_week(), end)
        } else {
            model.detect(&failures, Some(&users), test_week(), end)
        };
        // Teams fails in the MFA outage too (its sign-ins need MFA): anomalies during another
        // incident are that incident's (the monitor relates them to its alert).
        let during = |a: &Anomaly, (s, m): (DateTime<Utc>, i64)| {
            a.started < s + Duration::minutes(m) && a.resolved.is_none_or(|r| r > s)
        };
        let (mine, other): (Vec<&Anomaly>, Vec<&Anomaly>) =
            found.iter().partition(|a| during(a, (*start, *minutes)));
        assert!(
            other
                .iter()
                .all(|a| incidents.iter().any(|i| during(a, (i.2, i.3)))),
            "{scenario}: raised off any incident: {other:?}"
        );
        assert_eq!(mine.len(), 1, "{scenario} ({kind:?}): {found:?}");
        let a = mine[0];
        let stop = *start + Duration::minutes(*minutes);
        assert_eq!(a.direction, Direction::Spike);
        assert!(
            a.raised > *start && a.raised <= *start + Duration::minutes(30),
            "{scenario}: raised at {} for an incident starting at {start}",
            a.raised
        );
        let resolved = a.resolved.expect("resolved");
        assert!(
            resolved >= stop - Duration::minutes(15) && resolved <= stop + Duration::minutes(30),
            "{scenario}: resolved at {resolved} for an incident ending at {stop}"
        );
        // Its figures: the peak far above what the same slot held in the past weeks.
        assert!(a.peak_score > model.threshold, "{a:?}");
        let (_, high) = a.peak_expected.band(model.threshold);
        assert!(a.peak_observed > high, "{a:?}");
        let quarter = Duration::minutes(15);
        naive_alerts += naive(&failures, quarter, test_week(), end).len();
    }
    // On the same three series, the naive rule fires on every quarter hour that merely
    // doubles a quiet one of the week before.
    assert!(
        naive_alerts > 3 * 10,
        "the naive rule fired {naive_alerts} times"
    );
}
