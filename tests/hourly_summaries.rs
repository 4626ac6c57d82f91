//! The week-long questions (app users, weekly users, sign-in status, password resets) read the
//! hourly and daily summaries the store keeps with triggers, and the rows for the parts of an
//! hour or day at the range's ends. Their answers must be what the records say — computed here
//! from the records, not by the query code — for any range (whole hours or days, minutes into
//! an hour, shorter than an hour, across midnight), and stay so when records are read again
//! changed, when retention deletes rows, when a bulk load builds the summaries at its end (and
//! while it runs), and when a store written before the summaries existed is opened.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Category;
use shared::model::rows::normalise;
use shared::query::params::{Common, Format};
use shared::query::questions::{self, Asked};
use shared::query::{Answer, finish, run_embedded};
use shared::simulated::SimulatedTenant;
use shared::state::{PageRouting, SqliteState, StoredRow};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const TENANT: &str = "t1";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap()
}

fn end() -> DateTime<Utc> {
    start() + Duration::days(7)
}

fn ms(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The records the store should hold, by category and id, as Graph sent them.
#[derive(Clone)]
struct Truth {
    records: BTreeMap<Category, BTreeMap<String, Value>>,
}

/// What the questions read of a record, taken from Graph's JSON by this test's own reading:
/// the event time (to the millisecond, as the tables keep it), app, user, result code and, for
/// audit events, the activity.
struct Fact {
    time: DateTime<Utc>,
    app: String,
    user: String,
    result: String,
    activity: String,
}

fn fact(category: Category, r: &Value) -> Fact {
    use chrono::SubsecRound;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let field = if category == Category::AuditLogs {
        "activityDateTime"
    } else {
        "createdDateTime"
    };
    let time = DateTime::parse_from_rfc3339(r[field].as_str().unwrap())
        .unwrap()
        .to_utc()
        .trunc_subsecs(3);
    Fact {
        time,
        app: text(&r["appDisplayName"]),
        user: text(&r["userPrincipalName"]),
        result: r["status"]["errorCode"]
            .as_i64()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        activity: text(&r["activityDisplayName"]),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl Truth {
    /// The facts of `category`'s records whose time is in `[from, to]`.
    fn rows(&self, category: Category, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Fact> {
        self.records[&category]
            .values()
            .map(|r| fact(category, r))
            .filter(|f| f.time >= from && f.time <= to)
            .collect()
    }

    fn app_users(&self, app: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Vec<Value>> {
        let mut users: BTreeMap<String, (i64, DateTime<Utc>)> = BTreeMap::new();
        for f in self.rows(Category::SignInLogs, from, to) {
            if f.app != app {
                continue;
            }
            let e = users.entry(f.user).or_insert((0, f.time));
            e.0 += 1;
            e.1 = e.1.max(f.time);
        }
        let mut rows: Vec<Vec<Value>> = users
            .into_iter()
            .map(|(u, (n, last))| vec![json!(u), json!(n), json!(ms(last))])
            .collect();
        rows.sort_by(|a, b| {
            b[1].as_i64()
                .cmp(&a[1].as_i64())
                .then(a[0].as_str().cmp(&b[0].as_str()))
        });
        rows
    }

    /// Per day: distinct users (without case) and sign-ins; then over the range.
    fn weekly_users(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> (BTreeMap<String, (i64, i64)>, (i64, i64)) {
        let mut days: BTreeMap<String, (BTreeSet<String>, i64)> = BTreeMap::new();
        let mut all = (BTreeSet::new(), 0);
        for f in self.rows(Category::SignInLogs, from, to) {
            let user = f.user.to_lowercase();
            let d = days.entry(day(f.time)).or_default();
            d.0.insert(user.clone());
            d.1 += 1;
            all.0.insert(user);
            all.1 += 1;
        }
        (
            days.into_iter()
                .map(|(d, (u, n))| (d, (u.len() as i64, n)))
                .collect(),
            (all.0.len() as i64, all.1),
        )
    }

    fn status(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeMap<String, i64> {
        let mut codes = BTreeMap::new();
        for f in self.rows(Category::SignInLogs, from, to) {
            *codes.entry(f.result).or_default() += 1;
        }
        codes
    }

    /// Days with resets: (self-service, by an admin).
    fn resets(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeMap<String, (i64, i64)> {
        let mut days: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for f in self.rows(Category::AuditLogs, from, to) {
            match f.activity.as_str() {
                "Reset password (self-service)" => days.entry(day(f.time)).or_default().0 += 1,
                "Reset user password" => days.entry(day(f.time)).or_default().1 += 1,
                _ => {}
            }
        }
        days
    }
}

/// A record as collection stores it (the code under test's mapping: used to fill the store,
/// never to compute what the answers should be).
fn stored(category: Category, r: &Value) -> StoredRow {
    let row = normalise(category, TENANT, r).unwrap();
    StoredRow {
        id: row.id,
        time: row.time,
        columns: row.columns,
        raw: r.clone(),
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("entra-hourly-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A week of the simulated tenant's sign-ins and audit events.
fn week() -> Truth {
    let tenant = SimulatedTenant::new(33, 120);
    let mut records = BTreeMap::new();
    for category in [Category::SignInLogs, Category::AuditLogs] {
        let by_id: BTreeMap<String, Value> = tenant
            .records(category, start(), end() - Duration::milliseconds(1), None)
            .into_iter()
            .map(|r| (r.json["id"].as_str().unwrap().to_string(), r.json))
            .collect();
        records.insert(category, by_id);
    }
    Truth { records }
}

/// Stores records as collection does: a page at a time, recognised by id and digest.
fn collect(store: &SqliteState, category: Category, records: &[&Value]) {
    for chunk in records.chunks(500) {
        let rows: Vec<StoredRow> = chunk.iter().map(|r| stored(category, r)).collect();
        store
            .store_page(
                TENANT,
                category,
                &rows,
                &PageRouting::embedded_only(),
                None,
                start(),
                end(),
            )
            .unwrap();
    }
}

fn ask(store: &SqliteState, q: &dyn Asked, from: DateTime<Utc>, to: DateTime<Utc>) -> Answer {
    let c = Common {
        tenant: Some(TENANT.into()),
        from,
        to,
        limit: 1000,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: Default::default(),
    };
    let p = q.plan(TENANT, &c);
    finish(q, &p, &c, run_embedded(store, &p).unwrap())
}

/// The busiest app of the week.
fn busiest_app(truth: &Truth) -> String {
    let mut apps: BTreeMap<String, usize> = BTreeMap::new();
    for r in truth.records[&Category::SignInLogs].values() {
        *apps
            .entry(r["appDisplayName"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    apps.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

/// Ranges that start and end on the hour or the day, minutes into one, inside a single hour,
/// across midnight.
fn ranges() -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let odd = |d: i64, h: i64, m: i64, s: i64, milli: i64| {
        start()
            + Duration::days(d)
            + Duration::hours(h)
            + Duration::minutes(m)
            + Duration::seconds(s)
            + Duration::milliseconds(milli)
    };
    vec![
        (start(), end()),
        (odd(0, 7, 13, 27, 123), odd(6, 16, 2, 0, 999)),
        (odd(1, 9, 0, 0, 0), odd(3, 14, 0, 0, 0)),
        (odd(2, 10, 5, 0, 0), odd(2, 10, 55, 0, 0)),
        (odd(2, 10, 30, 0, 0), odd(2, 11, 45, 0, 0)),
        (odd(4, 8, 59, 59, 999), odd(4, 18, 0, 0, 1)),
        (odd(2, 20, 0, 0, 0), odd(3, 5, 30, 0, 0)),
        (odd(1, 0, 0, 0, 0), odd(4, 0, 0, 0, 0)),
    ]
}

/// An answer's row (day, count, count).
fn day_counts(r: &[Value]) -> (String, (i64, i64)) {
    let n = |v: &Value| v.as_i64().unwrap();
    (r[0].as_str().unwrap().to_string(), (n(&r[1]), n(&r[2])))
}

/// Every question over every range is what `truth` says.
fn answers_match(store: &SqliteState, truth: &Truth, app: &str, when: &str) {
    for (from, to) in ranges() {
        let at = format!("{when}, {} .. {}", ms(from), ms(to));

        let a = ask(
            store,
            &*questions::ask("app-users", &[("app", app)]).unwrap(),
            from,
            to,
        );
        assert_eq!(a.rows, truth.app_users(app, from, to), "app users, {at}");

        let a = ask(
            store,
            &*questions::ask("weekly-users", &[]).unwrap(),
            from,
            to,
        );
        let (days, all) = truth.weekly_users(from, to);
        let got: BTreeMap<String, (i64, i64)> = a.rows.iter().map(|r| day_counts(r)).collect();
        assert_eq!(got, days, "users per day, {at}");
        let summary = a.summary.unwrap();
        assert_eq!(
            (
                summary["distinct_users"].as_i64().unwrap(),
                summary["sign_ins"].as_i64().unwrap()
            ),
            all,
            "users over the range, {at}"
        );

        let a = ask(
            store,
            &*questions::ask("sign-in-status", &[]).unwrap(),
            from,
            to,
        );
        let got: BTreeMap<String, i64> = a
            .rows
            .iter()
            .map(|r| (r[1].as_str().unwrap().to_string(), r[3].as_i64().unwrap()))
            .collect();
        assert_eq!(got, truth.status(from, to), "status, {at}");

        let a = ask(
            store,
            &*questions::ask("password-resets", &[]).unwrap(),
            from,
            to,
        );
        let got: BTreeMap<String, (i64, i64)> = a
            .rows
            .iter()
            .map(|r| day_counts(r))
            .filter(|(_, v)| *v != (0, 0))
            .collect();
        assert_eq!(got, truth.resets(from, to), "password resets, {at}");
    }
}

#[test]
fn collected_changed_and_expired_records_are_counted_as_the_records_say() {
    let mut truth = week();
    let app = busiest_app(&truth);
    let d = dir("collected");
    let store = SqliteState::open(&d).unwrap();
    for category in [Category::SignInLogs, Category::AuditLogs] {
        let records: Vec<&Value> = truth.records[&category].values().collect();
        collect(&store, category, &records);
    }
    // The week-long plans read the summaries.
    let c = Common {
        tenant: Some(TENANT.into()),
        from: start(),
        to: end(),
        limit: 10,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: Default::default(),
    };
    assert!(
        questions::ask("weekly-users", &[])
            .unwrap()
            .plan(TENANT, &c)
            .sql
            .contains("SigninLogs_daily_users")
    );
    assert!(store.summaries_ready().unwrap());
    answers_match(&store, &truth, &app, "collected");

    // Records read again changed (a later page corrects them): every seventh sign-in moves an
    // hour and a half later and fails; every fifth of those moves to another app, and resets
    // become other activities. The old rows leave their hours, the new ones join theirs.
    let mut changed = Vec::new();
    for (i, r) in truth
        .records
        .get_mut(&Category::SignInLogs)
        .unwrap()
        .values_mut()
        .enumerate()
        .filter(|(i, _)| i % 7 == 0)
    {
        let t = DateTime::parse_from_rfc3339(r["createdDateTime"].as_str().unwrap()).unwrap()
            + Duration::minutes(90);
        r["createdDateTime"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        r["status"] =
            json!({ "errorCode": 50126, "failureReason": "Invalid username or password" });
        if i % 5 == 0 {
            r["appDisplayName"] = json!(app);
        } else if r["appDisplayName"] == json!(app) {
            r["appDisplayName"] = json!("Another app");
        }
        changed.push(r.clone());
    }
    collect(
        &store,
        Category::SignInLogs,
        &changed.iter().collect::<Vec<_>>(),
    );
    let mut changed = Vec::new();
    for r in truth
        .records
        .get_mut(&Category::AuditLogs)
        .unwrap()
        .values_mut()
        .filter(|r| r["activityDisplayName"] == json!("Reset password (self-service)"))
        .step_by(3)
    {
        r["activityDisplayName"] = json!("Reset user password");
        changed.push(r.clone());
    }
    assert!(!changed.is_empty(), "the week has self-service resets");
    collect(
        &store,
        Category::AuditLogs,
        &changed.iter().collect::<Vec<_>>(),
    );
    answers_match(&store, &truth, &app, "after changed records");

    // Retention deletes rows before a time inside an hour.
    let cutoff = start() + Duration::days(2) + Duration::minutes(17);
    store.apply_retention(cutoff, start()).unwrap();
    for records in truth.records.values_mut() {
        records.retain(|_, r| {
            let field = if r.get("activityDateTime").is_some() {
                "activityDateTime"
            } else {
                "createdDateTime"
            };
            DateTime::parse_from_rfc3339(r[field].as_str().unwrap()).unwrap() >= cutoff
        });
    }
    answers_match(&store, &truth, &app, "after retention");
    drop(store);

    // A store written before the summaries existed: opening it builds them from its rows.
    {
        let conn = rusqlite::Connection::open(d.join("state.sqlite")).unwrap();
        for rollup in shared::state::embedded::rollups() {
            let t = rollup.table;
            conn.execute_batch(&format!(
                "DROP TRIGGER \"{t}_on_insert\"; DROP TRIGGER \"{t}_on_delete\"; DROP TABLE \"{t}\";"
            ))
            .unwrap();
        }
    }
    let store = SqliteState::open(&d).unwrap();
    assert!(store.summaries_ready().unwrap());
    answers_match(&store, &truth, &app, "reopened without summaries");
    drop(store);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_bulk_load_builds_the_summaries_at_its_end_and_is_answered_meanwhile() {
    let truth = week();
    let app = busiest_app(&truth);
    let d = dir("bulk");
    let store = SqliteState::open(&d).unwrap();
    for category in [Category::SignInLogs, Category::AuditLogs] {
        assert!(store.begin_bulk_load(category).unwrap());
    }
    assert!(!store.summaries_ready().unwrap());
    for category in [Category::SignInLogs, Category::AuditLogs] {
        let rows: Vec<StoredRow> = truth.records[&category]
            .values()
            .map(|r| stored(category, r))
            .collect();
        for chunk in rows.chunks(1000) {
            store
                .store_imported(TENANT, category, chunk, end())
                .unwrap();
        }
    }
    // Before the summaries are built the questions read the rows.
    answers_match(&store, &truth, &app, "during the load");
    store.build_indexes().unwrap();
    assert!(store.summaries_ready().unwrap());
    answers_match(&store, &truth, &app, "after the load");
    drop(store);
    std::fs::remove_dir_all(&d).ok();
}
