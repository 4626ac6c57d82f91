//! The questions against a seeded simulated tenant: a week of its records in the embedded store,
//! and each answer compared with what the generator's own records say — computed here from the
//! raw Graph records, not by the query code. Also: the KQL each question produces (golden
//! text), and names that try to break out of a string literal.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::Value;
use shared::model::Category;
use shared::model::rows::normalise;
use shared::query::params::{Common, Format};
use shared::query::questions::{self, Asked};
use shared::query::{Answer, finish, run_embedded};
use shared::simulated::SimulatedTenant;
use shared::state::{PageRouting, SqliteState, StoredRow};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const TENANT: &str = "t1";

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn start() -> DateTime<Utc> {
    end() - Duration::days(7)
}

struct Fixture {
    store: SqliteState,
    raw: BTreeMap<Category, Vec<Value>>,
}

/// A week of the tenant's sign-ins, audits and provisioning events (the answers' range), with
/// records on both sides of it, stored once per test run; `raw` holds those in the range.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("entra-questions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteState::open(&dir).unwrap();
        let tenant = SimulatedTenant::new(21, 150);
        let mut raw = BTreeMap::new();
        for category in [
            Category::SignInLogs,
            Category::AuditLogs,
            Category::ProvisioningLogs,
        ] {
            // The store holds a day more at each end, and copies of a record at the range's
            // first and last instants and one millisecond outside each: every answer must
            // leave out what is outside [start, end].
            let mut records: Vec<Value> = tenant
                .records(
                    category,
                    start() - Duration::days(1),
                    end() + Duration::days(1),
                    None,
                )
                .into_iter()
                .map(|r| r.json)
                .collect();
            let field = time_field(category);
            let sample = records[records.len() / 2].clone();
            for (n, t) in [
                start() - Duration::milliseconds(1),
                start(),
                end(),
                end() + Duration::milliseconds(1),
            ]
            .into_iter()
            .enumerate()
            {
                let mut edge = sample.clone();
                edge["id"] = Value::from(format!("edge-{n}-{}", s(&sample["id"])));
                edge[field] = Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                records.push(edge);
            }
            for chunk in records.chunks(1000) {
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
            records.retain(|r| (start()..=end()).contains(&time_of(r, field)));
            raw.insert(category, records);
        }
        Fixture { store, raw }
    })
}

/// The Graph property holding a record's event time.
fn time_field(category: Category) -> &'static str {
    match category {
        Category::AuditLogs | Category::ProvisioningLogs => "activityDateTime",
        _ => "createdDateTime",
    }
}

/// A Graph record as the store keeps it.
fn stored(category: Category, r: &Value) -> StoredRow {
    let row = normalise(category, TENANT, r).unwrap();
    StoredRow {
        id: row.id,
        time: row.time,
        columns: row.columns,
        raw: r.clone(),
    }
}

fn common(limit: usize) -> Common {
    Common {
        tenant: Some(TENANT.into()),
        from: start(),
        to: end(),
        limit,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables: Default::default(),
    }
}

/// Question `name` with these parameters.
fn question(name: &str, pairs: &[(&str, &str)]) -> Box<dyn Asked> {
    questions::ask(name, pairs).unwrap()
}

fn ask(q: &dyn Asked, limit: usize) -> Answer {
    let c = common(limit);
    let p = q.plan(TENANT, &c);
    let rows = run_embedded(&fixture().store, &p).unwrap();
    finish(q, &p, &c, rows)
}

fn s(v: &Value) -> String {
    v.as_str().map(String::from).unwrap_or_default()
}

fn at(r: &Value, path: &str) -> String {
    s(r.pointer(path).unwrap_or(&Value::Null))
}

fn time_of(r: &Value, field: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(r[field].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn raw(category: Category) -> &'static [Value] {
    &fixture().raw[&category]
}

#[test]
fn q1_who_gave_users_admin_access() {
    let expected: BTreeSet<(String, String, String, String)> = raw(Category::AuditLogs)
        .iter()
        .filter(|r| {
            let activity = s(&r["activityDisplayName"]);
            (activity.starts_with("Add member to role")
                || activity == "Add eligible member to role")
                || (activity == "Add member to group"
                    && at(r, "/targetResources/1/displayName")
                        .to_lowercase()
                        .contains("admin"))
        })
        .map(|r| {
            (
                at(r, "/targetResources/0/userPrincipalName"),
                at(r, "/targetResources/1/displayName"),
                at(r, "/initiatedBy/user/userPrincipalName"),
                s(&r["correlationId"]),
            )
        })
        .collect();
    assert!(expected.len() > 10, "the week has admin grants");
    let a = ask(&*question("admin-access", &[]), 1000);
    let got: BTreeSet<(String, String, String, String)> = a
        .rows
        .iter()
        .map(|r| (s(&r[1]), s(&r[2]), s(&r[4]), s(&r[6])))
        .collect();
    assert_eq!(got, expected);
    // Normal role grants go through PIM; the injected one is direct.
    let through: BTreeSet<String> = a.rows.iter().map(|r| s(&r[3])).collect();
    for t in ["PIM (activated)", "group", "direct"] {
        assert!(through.contains(t), "{t} missing from {through:?}");
    }
    // Newest first.
    assert!(a.rows.windows(2).all(|w| s(&w[0][0]) >= s(&w[1][0])));
    // One user's grants only, matched without case.
    let user = expected.iter().next().unwrap().0.clone();
    let one = ask(
        &*question("admin-access", &[("user", &user.to_uppercase())]),
        1000,
    );
    assert_eq!(
        one.rows.len(),
        expected.iter().filter(|e| e.0 == user).count()
    );
}

#[test]
fn q2_which_users_sign_in_to_an_app() {
    let signins = raw(Category::SignInLogs);
    let mut apps: BTreeMap<String, usize> = BTreeMap::new();
    for r in signins {
        *apps.entry(s(&r["appDisplayName"])).or_default() += 1;
    }
    let app = apps.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let mut expected: BTreeMap<String, (i64, DateTime<Utc>)> = BTreeMap::new();
    for r in signins.iter().filter(|r| s(&r["appDisplayName"]) == app) {
        let e = expected
            .entry(s(&r["userPrincipalName"]))
            .or_insert((0, DateTime::<Utc>::MIN_UTC));
        e.0 += 1;
        e.1 = e.1.max(time_of(r, "createdDateTime"));
    }
    let a = ask(&*question("app-users", &[("app", &app)]), 1000);
    let got: BTreeMap<String, (i64, DateTime<Utc>)> = a
        .rows
        .iter()
        .map(|r| {
            (
                s(&r[0]),
                (
                    r[1].as_i64().unwrap(),
                    DateTime::parse_from_rfc3339(&s(&r[2]))
                        .unwrap()
                        .with_timezone(&Utc),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected, "{app}");
    assert!(
        a.rows
            .windows(2)
            .all(|w| w[0][1].as_i64() >= w[1][1].as_i64())
    );
    // Paging: two pages of 10 are the first 20 rows, the cursor says more follow.
    let c = common(10);
    let q = question("app-users", &[("app", &app)]);
    let p = q.plan(TENANT, &c);
    let first = finish(&*q, &p, &c, run_embedded(&fixture().store, &p).unwrap());
    assert_eq!(first.rows.len(), 10);
    assert_eq!(first.next_offset, Some(10));
    let c2 = Common { offset: 10, ..c };
    let p2 = q.plan(TENANT, &c2);
    let second = finish(&*q, &p2, &c2, run_embedded(&fixture().store, &p2).unwrap());
    assert_eq!([first.rows, second.rows].concat(), a.rows[..20].to_vec());
    // Asked by the app's id, the same users.
    let app_id = signins
        .iter()
        .find(|r| s(&r["appDisplayName"]) == app)
        .map(|r| s(&r["appId"]))
        .unwrap();
    assert!(shared::model::is_guid(&app_id), "{app_id}");
    let by_id = ask(&*question("app-users", &[("app", &app_id)]), 1000);
    assert_eq!(by_id.rows, a.rows);
}

#[test]
fn q3_password_resets_per_day() {
    // [Nov 19 00:00, Nov 26 00:00] touches eight days (the last at its first instant only):
    // each has a row, zero when nothing happened.
    let mut expected: BTreeMap<String, (i64, i64)> = (19..=26)
        .map(|d| (format!("2026-11-{d}"), (0, 0)))
        .collect();
    for r in raw(Category::AuditLogs) {
        let day = time_of(r, "activityDateTime").date_naive().to_string();
        match s(&r["activityDisplayName"]).as_str() {
            "Reset password (self-service)" => expected.get_mut(&day).unwrap().0 += 1,
            "Reset user password" => expected.get_mut(&day).unwrap().1 += 1,
            _ => {}
        }
    }
    let a = ask(&*question("password-resets", &[]), 100);
    let got: BTreeMap<String, (i64, i64)> = a
        .rows
        .iter()
        .map(|r| (s(&r[0]), (r[1].as_i64().unwrap(), r[2].as_i64().unwrap())))
        .collect();
    assert_eq!(got, expected);
    assert!(expected.values().map(|v| v.0).sum::<i64>() > 0);
}

#[test]
fn q4_a_users_sign_in_pattern() {
    let signins = raw(Category::SignInLogs);
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for r in signins {
        *per_user.entry(s(&r["userPrincipalName"])).or_default() += 1;
    }
    let user = per_user.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in signins
        .iter()
        .filter(|r| s(&r["userPrincipalName"]) == user)
    {
        let t = time_of(r, "createdDateTime");
        let city = at(r, "/location/city");
        for (dim, key) in [
            (
                "hour_weekday",
                format!("{}-{:02}", t.weekday().num_days_from_sunday(), t.hour()),
            ),
            (
                "location",
                format!(
                    "{}{}",
                    if city.is_empty() {
                        String::new()
                    } else {
                        format!("{city}, ")
                    },
                    at(r, "/location/countryOrRegion")
                ),
            ),
            ("app", s(&r["appDisplayName"])),
            (
                "device",
                format!(
                    "{} / {}",
                    at(r, "/deviceDetail/operatingSystem"),
                    at(r, "/deviceDetail/browser")
                ),
            ),
            (
                "result",
                r["status"]["errorCode"].as_i64().unwrap().to_string(),
            ),
        ] {
            *expected.entry((dim.to_string(), key)).or_default() += 1;
        }
    }
    let a = ask(&*question("sign-in-pattern", &[("user", &user)]), 100);
    let got: BTreeMap<(String, String), i64> = a
        .rows
        .iter()
        .map(|r| ((s(&r[0]), s(&r[1])), r[2].as_i64().unwrap()))
        .collect();
    assert_eq!(got, expected, "{user}");
}

#[test]
fn q5_users_signed_in_per_day_and_over_the_week() {
    let mut per_day: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut all = BTreeSet::new();
    for r in raw(Category::SignInLogs) {
        let u = s(&r["userPrincipalName"]).to_lowercase();
        per_day
            .entry(time_of(r, "createdDateTime").date_naive().to_string())
            .or_default()
            .insert(u.clone());
        all.insert(u);
    }
    let a = ask(&*question("weekly-users", &[]), 100);
    let got: BTreeMap<String, i64> = a
        .rows
        .iter()
        .map(|r| (s(&r[0]), r[1].as_i64().unwrap()))
        .collect();
    let expected: BTreeMap<String, i64> = per_day
        .iter()
        .map(|(d, u)| (d.clone(), u.len() as i64))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(a.summary.unwrap()["distinct_users"], all.len() as i64);
}

#[test]
fn q6_sign_in_status_with_top_error_codes() {
    let mut per_code: BTreeMap<String, i64> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        *per_code
            .entry(r["status"]["errorCode"].as_i64().unwrap().to_string())
            .or_default() += 1;
    }
    let a = ask(&*question("sign-in-status", &[]), 100);
    let got: BTreeMap<String, i64> = a
        .rows
        .iter()
        .map(|r| (s(&r[1]), r[3].as_i64().unwrap()))
        .collect();
    assert_eq!(got, per_code);
    let summary = a.summary.unwrap();
    assert_eq!(summary["success"], per_code["0"]);
    // The interrupts the generator produces (MFA challenges, "Keep me signed in").
    let interrupted: i64 = ["50074", "50076", "50140"]
        .iter()
        .filter_map(|c| per_code.get(*c))
        .sum();
    assert_eq!(summary["interrupted"], interrupted);
    let total: i64 = per_code.values().sum();
    assert_eq!(summary["failure"], total - per_code["0"] - interrupted);
    let row = a.rows.iter().find(|r| s(&r[1]) == "50126").unwrap();
    assert_eq!(s(&row[0]), "failure");
    assert_eq!(s(&row[2]), "Invalid username or password");
}

fn provisioning_truth(
    source: Option<&str>,
    target: &str,
    action: &str,
    object: &str,
) -> BTreeSet<String> {
    raw(Category::ProvisioningLogs)
        .iter()
        .filter(|r| {
            at(r, "/targetSystem/displayName") == target
                && source.is_none_or(|src| at(r, "/sourceSystem/displayName") == src)
                && s(&r["provisioningAction"]) == action
                && at(r, "/sourceIdentity/identityType") == object
                && at(r, "/provisioningStatusInfo/status") == "success"
        })
        .map(|r| s(&r["id"]))
        .collect()
}

fn provisioning_answer(name: &str, pairs: &[(&str, &str)]) -> BTreeSet<String> {
    let q: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let a = ask(&*questions::parse(name, &q).unwrap(), 1000);
    assert!(a.next_offset.is_none());
    a.rows.iter().map(|r| s(&r[9])).collect()
}

#[test]
fn sign_ins_per_client_app() {
    // (sign-ins, failures, users) per client, from the generator's records.
    let mut expected: BTreeMap<String, (i64, i64, BTreeSet<String>)> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        let e = expected.entry(s(&r["clientAppUsed"])).or_default();
        e.0 += 1;
        e.1 += i64::from(r["status"]["errorCode"] != 0);
        e.2.insert(s(&r["userPrincipalName"]).to_lowercase());
    }
    assert!(
        expected.contains_key("IMAP4") && expected.contains_key("Browser"),
        "the week has legacy and modern clients: {:?}",
        expected.keys()
    );
    let a = ask(&*question("client-apps", &[]), 100);
    assert_eq!(
        a.columns,
        ["client_app", "legacy", "sign_ins", "failures", "users"]
    );
    let got: BTreeMap<String, (i64, i64, i64)> = a
        .rows
        .iter()
        .map(|r| {
            let n = |i: usize| r[i].as_i64().unwrap();
            (s(&r[0]), (n(2), n(3), n(4)))
        })
        .collect();
    let expected: BTreeMap<String, (i64, i64, i64)> = expected
        .into_iter()
        .map(|(k, (n, f, u))| (k, (n, f, u.len() as i64)))
        .collect();
    assert_eq!(got, expected);
    // Busiest first; legacy is every client but the browser and modern apps.
    assert!(
        a.rows
            .windows(2)
            .all(|w| w[0][2].as_i64() >= w[1][2].as_i64())
    );
    for r in &a.rows {
        let modern = ["Browser", "Mobile Apps and Desktop clients"].contains(&s(&r[0]).as_str());
        assert_eq!(r[1], serde_json::json!(!modern), "{r:?}");
    }
}

/// The workbooks' breakdowns of sign-ins, each against the generator's records, and each row's
/// listing (the same dimension as a filter of `/api/logs`) holding exactly that row's sign-ins.
#[test]
fn sign_ins_broken_down_as_the_workbooks_count_them() {
    let status = |r: &Value| {
        shared::query::codes::workbook_status(&r["status"]["errorCode"].to_string())
            .as_str()
            .to_string()
    };
    let trust = |r: &Value| match s(&r["deviceDetail"]["trustType"]) {
        t if t.is_empty() => "Unmanaged".to_string(),
        t => t,
    };
    type ValueOf<'a> = &'a dyn Fn(&Value) -> String;
    let dims: [(&str, ValueOf); 5] = [
        ("status", &status),
        ("country", &|r| s(&r["location"]["countryOrRegion"])),
        ("os", &|r| s(&r["deviceDetail"]["operatingSystem"])),
        ("device_state", &trust),
        ("code", &|r| r["status"]["errorCode"].to_string()),
    ];
    for (by, value_of) in dims {
        // (sign-ins, success, interrupted, failure, users) per value.
        type Counts = (i64, i64, i64, i64, BTreeSet<String>);
        let mut expected: BTreeMap<String, Counts> = BTreeMap::new();
        for r in raw(Category::SignInLogs) {
            let e = expected.entry(value_of(r)).or_default();
            e.0 += 1;
            match status(r).as_str() {
                "success" => e.1 += 1,
                "interrupted" => e.2 += 1,
                _ => e.3 += 1,
            }
            e.4.insert(s(&r["userPrincipalName"]).to_lowercase());
        }
        assert!(expected.len() > 1, "{by}: more than one value in the week");
        let a = ask(&*question("sign-in-breakdown", &[("by", by)]), 1000);
        let got: BTreeMap<String, (i64, i64, i64, i64, i64)> = a
            .rows
            .iter()
            .map(|r| {
                let n = |i: usize| r[i].as_i64().unwrap();
                (s(&r[0]), (n(1), n(2), n(3), n(4), n(5)))
            })
            .collect();
        let expected: BTreeMap<String, (i64, i64, i64, i64, i64)> = expected
            .into_iter()
            .map(|(k, (n, ok, i, f, u))| (k, (n, ok, i, f, u.len() as i64)))
            .collect();
        assert_eq!(got, expected, "by {by}");
        if by == "code" {
            let row = a.rows.iter().find(|r| s(&r[0]) == "50126").unwrap();
            assert_eq!(s(&row[6]), "Invalid username or password");
            continue;
        }
        // The values whose sign-ins fit one page.
        let small: Vec<_> = expected
            .iter()
            .filter(|(v, (n, ..))| !v.is_empty() && *n < 1000)
            .collect();
        assert!(
            !small.is_empty(),
            "{by}: some value has under 1000 sign-ins"
        );
        for (value, (n, ..)) in small {
            let listing = ask(
                &*question("logs", &[("category", "SignInLogs"), (by, value)]),
                1000,
            );
            assert_eq!(listing.rows.len() as i64, *n, "{by}={value}");
        }
    }
    // A filter narrows the breakdown to the sign-ins it names.
    let user = s(&raw(Category::SignInLogs)[0]["userPrincipalName"]);
    let theirs = raw(Category::SignInLogs)
        .iter()
        .filter(|r| s(&r["userPrincipalName"]).eq_ignore_ascii_case(&user))
        .count() as i64;
    let a = ask(
        &*question(
            "sign-in-breakdown",
            &[("by", "status"), ("user", &user.to_uppercase())],
        ),
        100,
    );
    let total: i64 = a.rows.iter().map(|r| r[1].as_i64().unwrap()).sum();
    assert_eq!(total, theirs);
    // Over time, oldest first; the listing refuses a sign-in filter on another category.
    let days = ask(&*question("sign-in-breakdown", &[("by", "day")]), 100);
    assert_eq!(days.rows.len(), 7 + 1, "{:?}", days.rows);
    assert!(days.rows.windows(2).all(|w| s(&w[0][0]) < s(&w[1][0])));
    let e = questions::ask("logs", &[("category", "AuditLogs"), ("country", "FR")]).unwrap_err();
    assert_eq!(e.parameter, "country");
    let e = questions::ask("logs", &[("category", "SignInLogs"), ("status", "bad")]).unwrap_err();
    assert_eq!(e.parameter, "status");
}

/// Per Conditional Access policy, each result as the CA insights workbook buckets it, against
/// the generator's `appliedConditionalAccessPolicies`; and the breakdown narrowed by the
/// listing's filters (single-factor successful sign-ins per app, as the MFA gaps workbook asks).
#[test]
fn sign_ins_per_conditional_access_policy_and_filtered_breakdowns() {
    // policy id -> (sign-ins, success, failure, user action, not applied, report-only, users)
    type Counts = (i64, i64, i64, i64, i64, i64, BTreeSet<String>);
    let mut expected: BTreeMap<String, Counts> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        for p in r["appliedConditionalAccessPolicies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let e = expected.entry(s(&p["id"])).or_default();
            let result = s(&p["result"]);
            e.0 += 1;
            match result.as_str() {
                "success" | "reportOnlySuccess" => e.1 += 1,
                "failure" | "reportOnlyFailure" => e.2 += 1,
                "interrupt" | "reportOnlyInterrupted" => e.3 += 1,
                _ => e.4 += 1,
            }
            e.5 += i64::from(result.starts_with("reportOnly"));
            e.6.insert(s(&r["userPrincipalName"]).to_lowercase());
        }
    }
    assert!(expected.len() >= 3, "the week's sign-ins carry policies");
    assert!(
        expected.values().any(|e| e.5 > 0) && expected.values().any(|e| e.2 > 0),
        "report-only and failing results"
    );
    let a = ask(&*question("ca-policies", &[]), 1000);
    let got: BTreeMap<String, Vec<i64>> = a
        .rows
        .iter()
        .map(|r| (s(&r[0]), (2..9).map(|i| r[i].as_i64().unwrap()).collect()))
        .collect();
    let expected: BTreeMap<String, Vec<i64>> = expected
        .into_iter()
        .map(|(k, e)| (k, vec![e.0, e.1, e.2, e.3, e.4, e.5, e.6.len() as i64]))
        .collect();
    assert_eq!(got, expected);
    assert!(
        a.rows.iter().all(|r| !s(&r[1]).is_empty()),
        "each policy named"
    );

    // Successful single-factor sign-ins per app.
    let mut per_app: BTreeMap<String, i64> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        if r["status"]["errorCode"] == 0
            && s(&r["authenticationRequirement"]) == "singleFactorAuthentication"
        {
            *per_app.entry(s(&r["appDisplayName"])).or_default() += 1;
        }
    }
    assert!(!per_app.is_empty());
    let a = ask(
        &*question(
            "sign-in-breakdown",
            &[
                ("by", "app"),
                ("status", "success"),
                ("auth_requirement", "singleFactorAuthentication"),
            ],
        ),
        1000,
    );
    let got: BTreeMap<String, i64> = a
        .rows
        .iter()
        .map(|r| (s(&r[0]), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(got, per_app);
}

#[test]
fn q7_to_q9_provisioning_outcomes() {
    let groups = provisioning_truth(None, "ServiceNow", "create", "Group");
    assert!(!groups.is_empty());
    assert_eq!(
        provisioning_answer("groups-created", &[("target", "servicenow")]),
        groups
    );
    let removed = provisioning_truth(None, "Adobe Identity Management", "delete", "User");
    assert!(!removed.is_empty());
    assert_eq!(
        provisioning_answer("users-removed", &[("target", "Adobe Identity Management")]),
        removed
    );
    let created = provisioning_truth(Some("Workday"), "Active Directory", "create", "User");
    assert!(!created.is_empty());
    assert_eq!(
        provisioning_answer(
            "users-created",
            &[("source", "Workday"), ("target", "Active Directory")]
        ),
        created
    );
}

#[test]
fn names_that_try_to_break_out_of_a_string_stay_strings() {
    for user in [
        "x' or 1=1 --",
        "\"| take 1",
        "a'); DROP TABLE SigninLogs; --",
    ] {
        for q in [
            question("sign-in-pattern", &[("user", user)]),
            question("admin-access", &[("user", user), ("admin_groups", user)]),
            question("app-users", &[("app", user)]),
        ] {
            let a = ask(&*q, 100);
            assert!(a.rows.is_empty(), "{q:?} answered {:?}", a.rows);
            let p = q.plan(TENANT, &common(100));
            let literal = shared::query::kql::lit(user);
            assert!(p.kql.contains(&literal), "{}", p.kql);
            // The SQL text never holds the value: it is a bound parameter.
            assert!(!p.sql.contains(user));
        }
    }
    // The store is intact.
    assert!(!ask(&*question("weekly-users", &[]), 10).rows.is_empty());
}

/// The KQL of every question, as an admin would paste it into Log Analytics, checked against
/// reviewed golden files (`tests/fixtures/kql/`). `ENTRA_MONITOR_BLESS=1` rewrites them.
#[test]
fn the_kql_of_each_question_is_the_reviewed_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kql");
    let q = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cases = [
        ("admin-access", q(&[("user", "adele@contoso.com")])),
        (
            "logs",
            q(&[
                ("category", "SignInLogs"),
                ("user", "adele@contoso.com"),
                ("result", "50126"),
            ]),
        ),
        ("app-users", q(&[("app", "Microsoft Teams")])),
        ("password-resets", q(&[])),
        ("sign-in-pattern", q(&[("user", "adele@contoso.com")])),
        ("weekly-users", q(&[])),
        ("sign-in-status", q(&[])),
        (
            "sign-in-breakdown",
            q(&[
                ("by", "device_state"),
                ("app", "Microsoft Teams"),
                ("status", "failure"),
            ]),
        ),
        ("ca-policies", q(&[("user", "adele@contoso.com")])),
        ("client-apps", q(&[])),
        ("groups-created", q(&[("target", "ServiceNow")])),
        (
            "users-removed",
            q(&[("target", "Adobe Identity Management")]),
        ),
        (
            "users-created",
            q(&[("source", "Workday"), ("target", "Active Directory")]),
        ),
        ("health-signals", q(&[("scenario", "mfaSignInFailure")])),
    ];
    let bless = std::env::var("ENTRA_MONITOR_BLESS").is_ok();
    // The custom tables of entra-monitor's own Log Analytics destination.
    let custom = [
        ("admin-access", q(&[]), ".custom"),
        (
            "logs",
            q(&[
                ("category", "AuditLogs"),
                ("operation", "Add member to group"),
            ]),
            ".custom",
        ),
        (
            "users-created",
            q(&[("source", "Workday"), ("target", "Active Directory")]),
            ".custom",
        ),
        (
            "health-signals",
            q(&[
                ("scenario", "compliantDeviceSignInSuccess"),
                ("interval", "5"),
            ]),
            ".custom",
        ),
        (
            "health-signals",
            q(&[
                ("scenario", "appSignInFailures"),
                ("app", "Microsoft Teams"),
            ]),
            ".app.custom",
        ),
        (
            "health-signals",
            q(&[
                ("scenario", "policyBlockedUsers"),
                ("policy", "Block legacy authentication"),
            ]),
            ".policy.custom",
        ),
    ];
    for (name, params, suffix) in cases.into_iter().map(|(n, p)| (n, p, "")).chain(custom) {
        let question = questions::parse(name, &params).unwrap();
        let c = Common {
            kql_tables: if suffix.is_empty() {
                shared::query::params::KqlTables::Entra
            } else {
                shared::query::params::KqlTables::Custom
            },
            ..common(100)
        };
        let kql = question
            .plan("72f988bf-86f1-41af-91ab-2d7cd011db47", &c)
            .kql
            + "\n";
        let path = dir.join(format!("{name}{suffix}.kql"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &kql).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with ENTRA_MONITOR_BLESS=1 and review it",
                path.display()
            )
        });
        assert_eq!(kql, golden, "{name}: the KQL changed; review and bless it");
    }
}

/// Decodes the KQL string literal that starts `text` (what Kusto would read).
fn kql_literal(text: &str) -> String {
    let mut chars = text.chars();
    assert_eq!(chars.next(), Some('"'), "{text}");
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return out,
            '\\' => match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated literal in {text}")
}

/// A Log Analytics query API stand-in: checks the request (path, workspace, bearer token, body
/// with `query` and `timespan`) and answers three questions from the generator's raw records in
/// the API's format (typed columns, date-times with 7 fractional digits), recognising the
/// question by its KQL and reading the user and paging from it.
async fn query_server(workspace: &'static str) -> String {
    use warp::Filter;
    let route = warp::post()
        .and(warp::path!("v1" / "workspaces" / String / "query"))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .map(move |ws: String, auth: Option<String>, body: Value| {
            let reply = |status: u16, v: Value| {
                warp::reply::with_status(
                    warp::reply::json(&v),
                    warp::http::StatusCode::from_u16(status).unwrap(),
                )
            };
            if auth.as_deref() != Some("Bearer token-for-log-analytics") {
                return reply(401, serde_json::json!({ "error": { "code": "AuthorizationRequiredError" } }));
            }
            if ws != workspace {
                return reply(404, serde_json::json!({ "error": { "code": "WorkspaceNotFoundError" } }));
            }
            let (Some(kql), Some(span)) = (body["query"].as_str(), body["timespan"].as_str()) else {
                return reply(400, serde_json::json!({ "error": { "code": "BadArgumentError" } }));
            };
            assert_eq!(span, format!("{}/{}", start().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), end().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
            let la_time = |t: DateTime<Utc>| {
                format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.nanosecond() / 100)
            };
            let signins = raw(Category::SignInLogs);
            let (columns, mut rows): (Vec<(&str, &str)>, Vec<Value>) = if kql.contains("by code = ResultType") {
                let mut per: BTreeMap<String, (String, i64)> = BTreeMap::new();
                for r in signins {
                    let e = per.entry(r["status"]["errorCode"].as_i64().unwrap().to_string()).or_default();
                    e.0 = s(&r["status"]["failureReason"]);
                    e.1 += 1;
                }
                let mut v: Vec<_> = per.into_iter().collect();
                v.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
                (vec![("code", "string"), ("description", "string"), ("sign_ins", "long")],
                 v.into_iter().map(|(c, (d, n))| serde_json::json!([c, d, n])).collect())
            } else if kql.contains("by user = UserPrincipalName") {
                let app = kql_literal(kql.split("AppDisplayName == ").nth(1).unwrap());
                let mut per: BTreeMap<String, (i64, DateTime<Utc>)> = BTreeMap::new();
                for r in signins.iter().filter(|r| s(&r["appDisplayName"]) == app) {
                    let e = per.entry(s(&r["userPrincipalName"])).or_insert((0, DateTime::<Utc>::MIN_UTC));
                    e.0 += 1;
                    e.1 = e.1.max(time_of(r, "createdDateTime"));
                }
                let mut v: Vec<_> = per.into_iter().collect();
                v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
                (vec![("user", "string"), ("sign_ins", "long"), ("last_sign_in", "datetime")],
                 v.into_iter().map(|(u, (n, t))| serde_json::json!([u, n, la_time(t)])).collect())
            } else if kql.contains("extend dimension") {
                let user = kql_literal(kql.split("UserPrincipalName =~ ").nth(1).unwrap());
                let mut per: BTreeMap<(String, String), i64> = BTreeMap::new();
                for r in signins.iter().filter(|r| s(&r["userPrincipalName"]).eq_ignore_ascii_case(&user)) {
                    let t = time_of(r, "createdDateTime");
                    *per.entry(("hour_weekday".into(), format!("{}-{:02}", t.weekday().num_days_from_sunday(), t.hour()))).or_default() += 1;
                    *per.entry(("app".into(), s(&r["appDisplayName"]))).or_default() += 1;
                }
                let mut v: Vec<_> = per.into_iter().collect();
                v.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(b.1.cmp(&a.1)).then(a.0.1.cmp(&b.0.1)));
                (vec![("dimension", "string"), ("key", "string"), ("sign_ins", "long")],
                 v.into_iter().map(|((d, k), n)| serde_json::json!([d, k, n])).collect())
            } else {
                return reply(400, serde_json::json!({ "error": { "code": "SemanticError" } }));
            };
            // Paging as the KQL asks: `where Row > offset | take n`.
            if let Some(rest) = kql.split("| where Row > ").nth(1) {
                let offset: usize = rest.split(' ').next().unwrap().parse().unwrap();
                let take: usize = rest.split("| take ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
                rows = rows.into_iter().skip(offset).take(take).collect();
            }
            reply(200, serde_json::json!({ "tables": [{
                "name": "PrimaryResult",
                "columns": columns.iter().map(|(n, t)| serde_json::json!({ "name": n, "type": t })).collect::<Vec<_>>(),
                "rows": rows,
            }] }))
        });
    let token = warp::get().and(warp::path!("msi" / "token")).map(|| {
        warp::reply::json(&serde_json::json!({
            "access_token": "token-for-log-analytics",
            "expires_on": (Utc::now().timestamp() + 3600).to_string(),
        }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route.or(token)).incoming(listener).run());
    base
}

/// The same questions answered by the Log Analytics backend (against the stand-in above) and
/// by the embedded store give the same answer — including pages, date-times, and a user name
/// that tries to break out of the KQL string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_give_the_same_answer() {
    use shared::query::log_analytics::LogAnalyticsQuery;
    use shared::source::token::{TokenCache, TokenSource};
    const WORKSPACE: &str = "5f2a2b6e-0000-4000-8000-0000000000aa";
    let f = tokio::task::spawn_blocking(fixture).await.unwrap();
    let base = query_server(WORKSPACE).await;
    let tokens = std::sync::Arc::new(TokenCache::new(TokenSource::ManagedIdentity {
        endpoint: format!("{base}/msi/token"),
        header: shared::config::Secret::new("h"),
        resource: "https://api.loganalytics.io".into(),
        client_id: None,
    }));
    let la = LogAnalyticsQuery::new(&base, WORKSPACE, tokens.clone());
    let mut apps: BTreeMap<String, usize> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        *apps.entry(s(&r["appDisplayName"])).or_default() += 1;
    }
    let app = apps.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let user = s(&raw(Category::SignInLogs)[0]["userPrincipalName"]);
    let upper = user.to_uppercase();
    // (question, its parameters, offset)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);
    let cases: [Case; 7] = [
        ("sign-in-status", &[], 0),
        ("app-users", &[("app", &app)], 0),
        ("app-users", &[("app", &app)], 10),
        ("sign-in-pattern", &[("user", &upper)], 0),
        ("sign-in-pattern", &[("user", "x\" or 1==1 | take 1 //")], 0),
        ("sign-in-pattern", &[("user", "x' or 1=1 --")], 0),
        ("sign-in-pattern", &[("user", "\"| take 1")], 0),
    ];
    for (name, pairs, offset) in cases {
        let q = question(name, pairs);
        let c = Common {
            offset,
            ..common(10)
        };
        let p = q.plan(TENANT, &c);
        let embedded_rows = run_embedded(&f.store, &p).unwrap();
        let mut embedded = finish(&*q, &p, &c, embedded_rows);
        let la_rows = la.run(&p.kql, c.from, c.to).await.unwrap();
        let mut remote = finish(&*q, &p, &c, la_rows);
        if name == "sign-in-pattern" {
            // The stand-in computes two of the five facets.
            embedded
                .rows
                .retain(|r| r[0] == "hour_weekday" || r[0] == "app");
            remote
                .rows
                .retain(|r| r[0] == "hour_weekday" || r[0] == "app");
        }
        assert_eq!(remote, embedded, "{q:?} at {offset}");
    }
    // A wrong workspace is refused with what to check.
    let wrong = LogAnalyticsQuery::new(&base, "5f2a2b6e-0000-4000-8000-0000000000bb", tokens);
    let e = wrong
        .run("SigninLogs", start(), end())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("WORKSPACE_ID"), "{e}");
}

#[test]
fn a_category_is_listed_with_its_filters_and_every_column() {
    let signins = raw(Category::SignInLogs);
    let user = s(&signins[0]["userPrincipalName"]);
    let q = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let listing = questions::parse(
        "logs",
        &q(&[("category", "signinlogs"), ("user", &user), ("result", "0")]),
    )
    .unwrap();
    let a = ask(&*listing, 1000);
    let expected: BTreeSet<String> = signins
        .iter()
        .filter(|r| s(&r["userPrincipalName"]) == user && r["status"]["errorCode"] == 0)
        .map(|r| s(&r["id"]))
        .collect();
    let id_col = a.columns.iter().position(|c| c == "Id").unwrap();
    let got: BTreeSet<String> = a.rows.iter().map(|r| s(&r[id_col])).collect();
    assert_eq!(got, expected);
    assert_eq!(
        a.columns.len(),
        shared::model::tables::columns(Category::SignInLogs).len()
    );
    // Dynamic columns are objects, booleans booleans.
    let device = a.columns.iter().position(|c| c == "DeviceDetail").unwrap();
    assert!(a.rows[0][device].is_object(), "{}", a.rows[0][device]);
    let interactive = a.columns.iter().position(|c| c == "IsInteractive").unwrap();
    assert!(a.rows.iter().all(|r| r[interactive] == true));
    // Audit records by operation.
    let audits = ask(
        &*questions::parse(
            "logs",
            &q(&[
                ("category", "AuditLogs"),
                ("operation", "Reset user password"),
            ]),
        )
        .unwrap(),
        1000,
    );
    assert_eq!(
        audits.rows.len(),
        raw(Category::AuditLogs)
            .iter()
            .filter(|r| s(&r["activityDisplayName"]) == "Reset user password")
            .count()
    );
    // A filter the category does not have is named, with the ones it has.
    let e =
        questions::parse("logs", &q(&[("category", "AuditLogs"), ("app", "Teams")])).unwrap_err();
    assert_eq!(e.parameter, "app");
    assert!(
        e.message.contains("not a filter of AuditLogs") && e.message.contains("operation"),
        "{e}"
    );
    let e = questions::parse("logs", &q(&[("category", "Signins")])).unwrap_err();
    assert!(e.message.contains("unknown category"), "{e}");
}

/// The Entra tables' columns and types as Microsoft publishes them
/// (`tests/fixtures/la-tables`, with its source).
fn published_tables() -> BTreeMap<String, BTreeMap<String, String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/la-tables/tables.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, d)| {
            let columns = d["columns"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(c, ty)| (c.clone(), ty.as_str().unwrap().to_string()))
                .collect();
            (t.clone(), columns)
        })
        .collect()
}

/// Our table definitions (`shared/src/model/tables.rs`) are the tables Microsoft publishes: every
/// column of ours is one of theirs with the same type, and every one of theirs is ours (the
/// standard `_BilledSize` and `_IsBillable` aside).
#[test]
fn our_tables_are_the_published_log_analytics_schemas() {
    use shared::model::tables::{ColumnType, columns};
    let kind = ColumnType::kql_name;
    let published = published_tables();
    // (Our own table is ours to define.)
    for c in Category::ALL.into_iter().filter(|c| !c.is_own()) {
        let table = published
            .get(c.table())
            .unwrap_or_else(|| panic!("{} is not in the published schemas", c.table()));
        let ours: BTreeMap<&str, &str> = columns(c).iter().map(|(n, t)| (*n, kind(*t))).collect();
        for (name, ty) in &ours {
            assert_eq!(
                table.get(*name).map(String::as_str),
                Some(*ty),
                "{}.{name}: ours is {ty}, Microsoft publishes {:?}",
                c.table(),
                table.get(*name)
            );
        }
        let missing: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|n| !n.starts_with('_') && !ours.contains_key(n))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: published columns we do not carry: {missing:?}",
            c.table()
        );
    }
}

/// Every golden KQL file is valid Kusto for the tables it reads: the official parser and binder
/// (`@kusto/language-service-next`, installed by `bash tests/run`) find no error, with the Entra
/// tables' columns and types as Microsoft publishes them (`tests/fixtures/la-tables`) and our
/// custom tables' as we define them. A misspelt column or operator fails here, before an admin
/// pastes the query into Log Analytics.
#[test]
fn the_golden_kql_parses_and_binds_against_the_table_schemas() {
    use shared::destinations::log_analytics::schema;
    use shared::model::tables::ColumnType;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let parser = root.join(".tools/node_modules/@kusto/language-service-next");
    assert!(
        parser.exists(),
        "the Kusto parser is not installed at {}; run `bash tests/run`, which installs it from npm",
        parser.display()
    );
    let kind = ColumnType::kql_name;
    let mut tables = serde_json::Map::new();
    let published = published_tables();
    for c in Category::ALL {
        // Our own table's columns are as we define them.
        let own: BTreeMap<String, String> = shared::model::tables::columns(c)
            .iter()
            .map(|(n, t)| (n.to_string(), kind(*t).to_string()))
            .collect();
        let columns = if c.is_own() {
            &own
        } else {
            &published[c.table()]
        };
        let entra: serde_json::Map<String, Value> = columns
            .iter()
            .filter(|(n, _)| !n.starts_with('_'))
            .map(|(n, t)| (n.clone(), Value::from(t.as_str())))
            .collect();
        tables.insert(c.table().to_string(), Value::Object(entra));
        let custom: serde_json::Map<String, Value> = schema::custom_columns(c)
            .iter()
            .map(|(n, t)| (n.to_string(), Value::from(kind(*t))))
            .collect();
        tables.insert(schema::table_name(c), Value::Object(custom));
    }
    let dir = std::env::temp_dir().join(format!("entra-kql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema_file = dir.join("schema.json");
    std::fs::write(&schema_file, Value::Object(tables).to_string()).unwrap();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("tests/fixtures/kql"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 11);
    // A query with a misspelt column must fail, or the check checks nothing.
    let broken = dir.join("broken.kql");
    std::fs::write(&broken, "SigninLogs | where UserPrincipleName == \"x\"").unwrap();
    let run = |files: &[std::path::PathBuf]| {
        std::process::Command::new("node")
            .arg(root.join("tests/kql/check.js"))
            .arg(&schema_file)
            .args(files)
            .output()
            .expect("node runs (Node.js 20 is needed by tests/run)")
    };
    let out = run(&[broken]);
    assert!(!out.status.success(), "a misspelt column passed the check");
    assert!(String::from_utf8_lossy(&out.stdout).contains("UserPrincipleName"));
    let out = run(&files);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A first import into an empty table writes the rows without the table's indexes and builds
/// them at the end (`SqliteState::begin_bulk_load`): a question asked meanwhile — even one that
/// names its index — is answered from the rows, and afterwards the indexes are all there.
#[test]
fn questions_are_answered_while_an_import_builds_the_indexes() {
    let dir = std::env::temp_dir().join(format!("entra-questions-bulk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let index_count = || {
        store
            .query_rows(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'SigninLogs' AND sql IS NOT NULL",
                &[],
            )
            .unwrap()[0][0]
            .as_i64()
            .unwrap()
    };
    let indexes = shared::state::embedded::indexes(Category::SignInLogs).len() as i64;
    assert_eq!(index_count(), indexes);
    assert!(store.begin_bulk_load(Category::SignInLogs).unwrap());
    assert_eq!(index_count(), 0);

    let signins = raw(Category::SignInLogs);
    let rows: Vec<StoredRow> = signins
        .iter()
        .map(|r| stored(Category::SignInLogs, r))
        .collect();
    store
        .store_imported(TENANT, Category::SignInLogs, &rows, end())
        .unwrap();
    let user = s(&signins[0]["userPrincipalName"]);
    let expected = signins
        .iter()
        .filter(|r| s(&r["userPrincipalName"]) == user)
        .count() as i64;
    let pattern = question("sign-in-pattern", &[("user", &user)]);
    let c = common(100);
    let p = pattern.plan(TENANT, &c);
    assert!(p.sql.contains("INDEXED BY"), "{}", p.sql);
    let sign_ins_of = |rows: Vec<Vec<Value>>| -> i64 {
        rows.iter()
            .filter(|r| r[0] == "result")
            .map(|r| r[2].as_i64().unwrap())
            .sum()
    };
    assert_eq!(sign_ins_of(run_embedded(&store, &p).unwrap()), expected);

    // A table that has rows keeps its indexes.
    store.build_indexes().unwrap();
    assert_eq!(index_count(), indexes);
    assert!(!store.begin_bulk_load(Category::SignInLogs).unwrap());
    assert_eq!(index_count(), indexes);
    assert_eq!(sign_ins_of(run_embedded(&store, &p).unwrap()), expected);
    std::fs::remove_dir_all(&dir).ok();
}
