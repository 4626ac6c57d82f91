//! The Usage & insights reports against a week of a seeded simulated tenant's sign-ins (all
//! four kinds) and audit events in the embedded store: each report's figures equal the same
//! figures computed here from the raw Graph records — by this test code, following the
//! definitions of Entra's workbooks and Graph's reports, not by the query code. Also: the KQL
//! of each report (golden text, parsed and bound by `tests/questions.rs`'s Kusto check).

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Category;
use shared::query::codes::WORKBOOK_INTERRUPTS;
use shared::query::params::{Common, Format, KqlTables};
use shared::query::questions::{self, BY_TOKEN_CLAIM, NOT_A_USE, PASSWORD_METHODS, SSPR_SERVICE};
use shared::query::{Answer, finish, run_embedded};
use shared::simulated::SimulatedTenant;
use shared::simulated::inventory::Inventory;
use shared::simulated::usage_reports;
use shared::state::SqliteState;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

#[path = "support/seeded_store.rs"]
mod seeded_store;

const TENANT: &str = "t1";
const UNLICENSED: &str = "t2";
const CATEGORIES: [Category; 5] = [
    Category::SignInLogs,
    Category::NonInteractiveUserSignInLogs,
    Category::ServicePrincipalSignInLogs,
    Category::ManagedIdentitySignInLogs,
    Category::AuditLogs,
];

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn start() -> DateTime<Utc> {
    end() - Duration::days(7)
}

struct Fixture {
    store: SqliteState,
    /// The raw Graph records whose event time is in [start, end].
    raw: BTreeMap<Category, Vec<Value>>,
    inventory: Inventory,
    /// The tenant without Entra ID P1: its raw records and inventory.
    raw_unlicensed: BTreeMap<Category, Vec<Value>>,
    unlicensed: Inventory,
}

/// A week of the tenant's records with a day more at each end (which every answer must leave
/// out), stored once per test run.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("entra-insights-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteState::open(&dir).unwrap();
        let tenant = SimulatedTenant::new(23, 120);
        let raw = load(&store, TENANT, &tenant, &CATEGORIES);
        // The directory inventory as `collect-inventory` keeps it, dated against the range's
        // end, with the users' signInActivity from the week's sign-ins.
        let mut inventory = Inventory::generate(tenant.seed, &tenant.directory, end());
        usage_reports::fill_from_logs(&mut inventory, &tenant, end());
        sync(&store, TENANT, &inventory);
        // A second tenant without Entra ID P1: its users have no signInActivity.
        let unlicensed = SimulatedTenant::new(24, 40);
        let raw_unlicensed = load(&store, UNLICENSED, &unlicensed, &CATEGORIES[..2]);
        let mut other = Inventory::generate(unlicensed.seed, &unlicensed.directory, end());
        for u in &mut other.people.users {
            u.as_object_mut().unwrap().remove("signInActivity");
        }
        sync(&store, UNLICENSED, &other);
        Fixture {
            store,
            raw,
            inventory,
            raw_unlicensed,
            unlicensed: other,
        }
    })
}

/// Stores `tenant`'s records of `categories` under `key`, from a day before the range to a
/// day after it; returns those in the range.
fn load(
    store: &SqliteState,
    key: &str,
    tenant: &SimulatedTenant,
    categories: &[Category],
) -> BTreeMap<Category, Vec<Value>> {
    seeded_store::load(store, key, tenant, categories, start(), end())
}

/// Keeps `inv` as `key`'s inventory.
fn sync(store: &SqliteState, key: &str, inv: &Inventory) {
    seeded_store::sync(store, key, inv, end());
}

use seeded_store::time_of;

fn raw(category: Category) -> &'static [Value] {
    &fixture().raw[&category]
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn common(kql_tables: KqlTables) -> Common {
    Common {
        tenant: Some(TENANT.into()),
        from: start(),
        to: end(),
        limit: 1000,
        offset: 0,
        format: Format::Json,
        explain: false,
        backend: None,
        kql_tables,
    }
}

/// Report `name` with these parameters, answered from the store.
fn ask(name: &str, pairs: &[(&str, &str)]) -> Answer {
    ask_for(TENANT, name, pairs)
}

/// The same for tenant `key`.
fn ask_for(key: &str, name: &str, pairs: &[(&str, &str)]) -> Answer {
    let q = questions::ask(name, pairs).unwrap();
    let c = common(KqlTables::Entra);
    let p = q.plan(key, &c);
    let rows = run_embedded(&fixture().store, &p).unwrap();
    finish(&*q, &p, &c, rows)
}

/// An answer's rows as objects keyed by column.
fn objects(a: &Answer) -> Vec<BTreeMap<String, Value>> {
    a.rows
        .iter()
        .map(|r| a.columns.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

fn day(r: &Value) -> String {
    time_of(r).format("%Y-%m-%d").to_string()
}

fn rate(ok: i64, n: i64) -> f64 {
    (ok as f64 / n as f64 * 10_000.0).round() / 10_000.0
}

/// Per app (and day): sign-ins, successes, interrupts (the workbooks' list), distinct users,
/// from the raw records.
fn app_truth(category: Category, per_day: bool) -> BTreeMap<(String, String), Value> {
    /// Name, sign-ins, successes, interrupts, users.
    type Tally = (String, i64, i64, i64, BTreeSet<String>);
    let mut acc: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for r in raw(category) {
        let key = (if per_day { day(r) } else { String::new() }, s(&r["appId"]));
        let e = acc.entry(key).or_default();
        e.0 = s(&r["appDisplayName"]);
        let code = r["status"]["errorCode"].as_i64().unwrap().to_string();
        e.1 += 1;
        e.2 += i64::from(code == "0");
        e.3 += i64::from(WORKBOOK_INTERRUPTS.contains(&code.as_str()));
        e.4.insert(s(&r["userId"]));
    }
    acc.into_iter()
        .map(|(k, (name, n, ok, wait, users))| {
            let v = json!({
                "app": name, "sign_ins": n, "successful": ok, "failed": n - ok - wait,
                "interrupted": wait, "success_rate": rate(ok, n), "users": users.len(),
            });
            (k, v)
        })
        .collect()
}

fn app_answer(pairs: &[(&str, &str)]) -> BTreeMap<(String, String), Value> {
    objects(&ask("app-sign-ins", pairs))
        .into_iter()
        .map(|mut o| {
            let key = (
                o.remove("day").map(|d| s(&d)).unwrap_or_default(),
                s(&o.remove("app_id").unwrap()),
            );
            (key, Value::Object(o.into_iter().collect()))
        })
        .collect()
}

#[test]
fn app_sign_in_activity_per_app_and_per_day() {
    let truth = app_truth(Category::SignInLogs, false);
    assert!(truth.len() >= 6, "the week has several apps: {truth:?}");
    assert!(
        truth.values().any(|v| v["interrupted"].as_i64() > Some(0))
            && truth.values().any(|v| v["failed"].as_i64() > Some(0)),
        "the week has interrupts and failures"
    );
    assert_eq!(app_answer(&[]), truth);
    assert_eq!(
        app_answer(&[("per", "day")]),
        app_truth(Category::SignInLogs, true)
    );
    assert_eq!(
        app_answer(&[("type", "non-interactive")]),
        app_truth(Category::NonInteractiveUserSignInLogs, false)
    );
    // Busiest app first.
    let a = ask("app-sign-ins", &[]);
    let n = a.columns.iter().position(|c| c == "sign_ins").unwrap();
    assert!(
        a.rows
            .windows(2)
            .all(|w| w[0][n].as_i64() >= w[1][n].as_i64())
    );
    let bad = questions::ask("app-sign-ins", &[("type", "service-principal")]).unwrap_err();
    assert_eq!(bad.parameter, "type");
    assert!(
        bad.message.contains("interactive, non-interactive"),
        "{bad}"
    );
}

#[test]
fn app_sign_in_failures_by_error_code_with_meanings() {
    let mut truth: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        let code = r["status"]["errorCode"].as_i64().unwrap().to_string();
        if code != "0" {
            *truth.entry((s(&r["appId"]), code)).or_default() += 1;
        }
    }
    let a = ask("app-sign-in-failures", &[]);
    assert_eq!(
        a.columns,
        ["app_id", "app", "status", "code", "meaning", "sign_ins"]
    );
    let rows = objects(&a);
    let got: BTreeMap<(String, String), i64> = rows
        .iter()
        .map(|o| {
            (
                (s(&o["app_id"]), s(&o["code"])),
                o["sign_ins"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, truth);
    for o in &rows {
        let interrupt = WORKBOOK_INTERRUPTS.contains(&s(&o["code"]).as_str());
        assert_eq!(
            s(&o["status"]),
            if interrupt { "interrupted" } else { "failure" }
        );
        assert!(!s(&o["meaning"]).is_empty(), "{o:?}");
    }
    let wrong_password = rows.iter().find(|o| o["code"] == "50126").unwrap();
    assert_eq!(wrong_password["meaning"], "Invalid username or password");
    // One app, by name in any case.
    let teams = ask("app-sign-in-failures", &[("app", "microsoft teams")]);
    let expected: BTreeMap<&String, &i64> = truth
        .iter()
        .filter(|((app, _), _)| app == "1fec8e78-bce4-4aaf-ab1b-5451cc387264")
        .map(|((_, code), n)| (code, n))
        .collect();
    assert!(!expected.is_empty());
    let got: BTreeMap<String, i64> = objects(&teams)
        .iter()
        .map(|o| (s(&o["code"]), o["sign_ins"].as_i64().unwrap()))
        .collect();
    assert_eq!(got.iter().collect::<BTreeMap<_, _>>(), expected);
}

#[test]
fn service_principal_sign_in_activity_in_its_four_roles() {
    // (app id, role) → latest time; the roles as Graph's servicePrincipalSignInActivity has them.
    let mut truth: BTreeMap<String, BTreeMap<&str, DateTime<Utc>>> = BTreeMap::new();
    let mut ids: BTreeMap<(String, DateTime<Utc>), BTreeSet<String>> = BTreeMap::new();
    let mut see = |app: String, role: &'static str, r: &Value| {
        if app.is_empty() {
            return;
        }
        let t = time_of(r);
        ids.entry((app.clone(), t)).or_default().insert(s(&r["id"]));
        let e = truth.entry(app).or_default().entry(role).or_insert(t);
        *e = (*e).max(t);
    };
    for c in [
        Category::ServicePrincipalSignInLogs,
        Category::ManagedIdentitySignInLogs,
    ] {
        for r in raw(c) {
            see(s(&r["appId"]), "app_only_client", r);
        }
    }
    for r in raw(Category::ServicePrincipalSignInLogs) {
        see(s(&r["resourceId"]), "app_only_resource", r);
    }
    for c in [Category::SignInLogs, Category::NonInteractiveUserSignInLogs] {
        for r in raw(c) {
            see(s(&r["appId"]), "delegated_client", r);
            see(s(&r["resourceId"]), "delegated_resource", r);
        }
    }
    let a = ask("service-principal-sign-ins", &[]);
    let all = objects(&a);
    let rows: Vec<_> = all
        .iter()
        .filter(|o| o["source"] == "logs")
        .cloned()
        .collect();
    assert_eq!(rows.len(), truth.len());
    let millis = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for o in &rows {
        let app = s(&o["app_id"]);
        let roles = &truth[&app];
        for role in [
            "app_only_client",
            "app_only_resource",
            "delegated_client",
            "delegated_resource",
        ] {
            assert_eq!(
                o[role],
                roles
                    .get(role)
                    .map(|t| json!(millis(t)))
                    .unwrap_or(Value::Null),
                "{app} {role}"
            );
        }
        let last = roles.values().max().unwrap();
        assert_eq!(o["last_sign_in"], json!(millis(last)), "{app}");
        assert!(
            ids[&(app.clone(), *last)].contains(&s(&o["last_request_id"])),
            "{o:?}"
        );
        assert_eq!(o["source"], "logs");
        assert_eq!(o["covers_from"], json!(millis(&start())));
    }
    // Graph is a resource of users' apps and of service principals; both roles show.
    let graph = rows
        .iter()
        .find(|o| o["app_id"] == "00000003-0000-0000-c000-000000000000")
        .unwrap();
    assert!(!graph["app_only_resource"].is_null() && !graph["delegated_resource"].is_null());
    // Most recent first, pages, and one app alone.
    assert!(a.rows.windows(2).all(|w| s(&w[0][2]) >= s(&w[1][2])));
    let one = ask(
        "service-principal-sign-ins",
        &[("app", &s(&rows[3]["app_id"]))],
    );
    let both: Vec<_> = all
        .iter()
        .filter(|o| o["app_id"] == rows[3]["app_id"])
        .cloned()
        .collect();
    assert_eq!(objects(&one), both);
    // Microsoft's report side by side: the same last sign-ins where our logs reach, and the
    // older history only it has — legacy-reporting's sign-in 200 days ago.
    let inv = &fixture().inventory;
    let microsoft: BTreeMap<String, &BTreeMap<String, Value>> = all
        .iter()
        .filter(|o| o["source"] == "microsoft")
        .map(|o| (s(&o["app_id"]), o))
        .collect();
    assert!(microsoft.values().all(|o| o["covers_from"].is_null()));
    let mut differ = BTreeSet::new();
    for (app, m) in &microsoft {
        let ours = rows.iter().find(|o| o["app_id"] == app.as_str());
        let same = ours.is_some_and(|o| {
            [
                "last_sign_in",
                "app_only_client",
                "app_only_resource",
                "delegated_client",
                "delegated_resource",
            ]
            .iter()
            .all(|k| o[*k] == m[*k])
        });
        if !same {
            differ.insert(app.clone());
        }
    }
    assert_eq!(differ, BTreeSet::from([inv.seeded.unused_app.clone()]));
    assert_eq!(microsoft.len(), rows.len() + 1);
    let q = questions::ask("service-principal-sign-ins", &[]).unwrap();
    let c = Common {
        limit: 2,
        offset: 2,
        ..common(KqlTables::Entra)
    };
    let p = q.plan(TENANT, &c);
    let page = finish(&*q, &p, &c, run_embedded(&fixture().store, &p).unwrap());
    assert_eq!(page.rows, a.rows[2..4].to_vec());
    assert_eq!(page.next_offset, Some(4));
    assert!(questions::ask("service-principal-sign-ins", &[("app", "Teams")]).is_err());
}

#[test]
fn sign_ins_by_authentication_requirement_per_day() {
    // The latest successful interactive sign-in of each flow (correlation id).
    let mut flows: BTreeMap<String, &Value> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        if r["status"]["errorCode"] != 0 {
            continue;
        }
        let e = flows.entry(s(&r["correlationId"])).or_insert(r);
        if time_of(r) > time_of(e) {
            *e = r;
        }
    }
    let mut truth: BTreeMap<String, [i64; 3]> = shared::query::days(start(), end())
        .into_iter()
        .map(|d| (d, [0; 3]))
        .collect();
    for r in flows.values() {
        let e = truth.get_mut(&day(r)).unwrap();
        match s(&r["authenticationRequirement"]).as_str() {
            "singleFactorAuthentication" => e[0] += 1,
            "multiFactorAuthentication" => e[1] += 1,
            _ => {}
        }
        e[2] += 1;
    }
    let a = ask("auth-requirements", &[]);
    let got: BTreeMap<String, [i64; 3]> = a
        .rows
        .iter()
        .map(|r| {
            let n = |i: usize| r[i].as_i64().unwrap();
            (s(&r[0]), [n(1), n(2), n(3)])
        })
        .collect();
    assert_eq!(got, truth);
    let summary = a.summary.unwrap();
    let multi: i64 = truth.values().map(|v| v[1]).sum();
    assert!(multi > 0 && truth.values().map(|v| v[0]).sum::<i64>() > 0);
    assert_eq!(summary["multifactor"], multi);
}

#[test]
fn sign_ins_by_authentication_method() {
    let mut truth: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        for step in r["authenticationDetails"].as_array().into_iter().flatten() {
            let method = s(&step["authenticationMethod"]);
            if NOT_A_USE.contains(&method.as_str())
                || s(&step["authenticationStepResultDetail"]) == BY_TOKEN_CLAIM
            {
                continue;
            }
            let method = if PASSWORD_METHODS.contains(&method.as_str()) {
                "Password".to_string()
            } else {
                method
            };
            let e = truth.entry(method).or_default();
            e.0 += 1;
            e.1 += i64::from(step["succeeded"] == true);
        }
    }
    assert!(truth.len() >= 5, "several methods: {truth:?}");
    let a = ask("auth-method-usage", &[]);
    assert_eq!(a.columns, ["method", "uses", "succeeded", "failed"]);
    let got: BTreeMap<String, (i64, i64)> = a
        .rows
        .iter()
        .map(|r| {
            let n = |i: usize| r[i].as_i64().unwrap();
            assert_eq!(n(1), n(2) + n(3));
            (s(&r[0]), (n(1), n(2)))
        })
        .collect();
    assert_eq!(got, truth);
}

#[test]
fn self_service_password_activity_per_day() {
    let mut truth: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for r in raw(Category::AuditLogs) {
        if r["loggedByService"] != SSPR_SERVICE {
            continue;
        }
        let e = truth
            .entry((day(r), s(&r["activityDisplayName"])))
            .or_default();
        if r["result"] == "success" {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    assert!(
        truth
            .keys()
            .any(|(_, a)| a == "Unlock user account (self-service)")
            && truth
                .keys()
                .any(|(_, a)| a == "Reset password (self-service)"),
        "resets and unlocks: {truth:?}"
    );
    let got: BTreeMap<(String, String), (i64, i64)> = ask("password-activity", &[])
        .rows
        .iter()
        .map(|r| {
            (
                (s(&r[0]), s(&r[1])),
                (r[2].as_i64().unwrap(), r[3].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, truth);
}

/// Resets by method: Microsoft's `userEventsSummary` rows (the method each reset was verified
/// with, which the audit logs lack) and our count of the same resets from the logs, side by
/// side; a tenant without the report (no P1) gets our row alone.
#[test]
fn self_service_password_resets_by_method() {
    let mut truth: BTreeMap<String, i64> = BTreeMap::new();
    let mut ours = 0;
    for r in raw(Category::AuditLogs) {
        if r["activityDisplayName"] == usage_reports::SELF_SERVICE_RESET {
            *truth
                .entry(usage_reports::reset_method(r["id"].as_str().unwrap()).to_string())
                .or_default() += 1;
            ours += 1;
        }
    }
    assert!(truth.len() >= 3, "several methods: {truth:?}");
    let answer = ask("password-activity", &[("per", "method")]);
    assert_eq!(answer.columns, ["method", "succeeded", "failed", "source"]);
    let mut microsoft = BTreeMap::new();
    let mut logs = None;
    for r in &answer.rows {
        match r[3].as_str().unwrap() {
            "microsoft" => {
                assert_eq!(r[2], 0, "the simulated resets all succeed: {r:?}");
                microsoft.insert(s(&r[0]), r[1].as_i64().unwrap());
            }
            "entra-monitor" => {
                assert!(r[0].is_null(), "the logs do not record the method");
                logs = Some(r[1].as_i64().unwrap() + r[2].as_i64().unwrap());
            }
            other => panic!("source {other}"),
        }
    }
    assert_eq!(microsoft, truth);
    assert_eq!(logs, Some(ours));
    let alone = ask_for(UNLICENSED, "password-activity", &[("per", "method")]);
    assert_eq!(alone.rows.len(), 1, "{:?}", alone.rows);
    assert_eq!(alone.rows[0][3], "entra-monitor");
}

#[test]
fn application_credential_activity_finds_the_seeded_conditions() {
    // Last use per key id (client credentials) and per SAML app (its signing certificate).
    let mut used: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for r in raw(Category::ServicePrincipalSignInLogs) {
        let key = s(&r["servicePrincipalCredentialKeyId"]).to_lowercase();
        if !key.is_empty() {
            let e = used.entry(key).or_insert(time_of(r));
            *e = (*e).max(time_of(r));
        }
    }
    let mut signed: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for r in raw(Category::SignInLogs) {
        if r["authenticationProtocol"] == "saml20" && r["status"]["errorCode"] == 0 {
            let e = signed.entry(s(&r["appId"])).or_insert(time_of(r));
            *e = (*e).max(time_of(r));
        }
    }
    let inv = &fixture().inventory;
    let mut truth: BTreeMap<String, Value> = BTreeMap::new();
    for (objects, origin) in [
        (&inv.applications, "application"),
        (&inv.service_principals, "servicePrincipal"),
    ] {
        for o in objects.iter() {
            for (list, kind) in [
                ("passwordCredentials", "clientSecret"),
                ("keyCredentials", "certificate"),
            ] {
                for c in o[list].as_array().into_iter().flatten() {
                    let key = s(&c["keyId"]);
                    let usage = s(&c["usage"]).to_lowercase();
                    let last = if origin == "servicePrincipal" && usage == "sign" {
                        signed.get(&s(&o["appId"]))
                    } else {
                        used.get(&key.to_lowercase())
                    };
                    let ends = DateTime::parse_from_rfc3339(&s(&c["endDateTime"])).unwrap();
                    truth.insert(
                        key,
                        json!({
                            "credential_origin": origin, "key_type": kind, "app_id": o["appId"],
                            "last_used": last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                            "expiring_within_30_days": ends >= end() && ends <= end() + Duration::days(30),
                            "unused_30_days": last.is_none_or(|t| *t < end() - Duration::days(30)),
                        }),
                    );
                }
            }
        }
    }
    let a = ask("app-credentials", &[]);
    let got: BTreeMap<String, Value> = objects(&a)
        .into_iter()
        .map(|o| {
            let pick = [
                "credential_origin",
                "key_type",
                "app_id",
                "last_used",
                "expiring_within_30_days",
                "unused_30_days",
            ];
            let v: serde_json::Map<String, Value> = pick
                .iter()
                .map(|k| (k.to_string(), o[*k].clone()))
                .collect();
            (s(&o["key_id"]), Value::Object(v))
        })
        .collect();
    assert_eq!(got, truth);
    // Exactly the seeded conditions: expiring within 30 days, and never used.
    let flagged = |flag: &str| -> BTreeSet<String> {
        got.iter()
            .filter(|(_, v)| v[flag] == true)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let seeded = &inv.seeded;
    assert_eq!(
        flagged("expiring_within_30_days"),
        seeded.expiring_in_10_days.iter().cloned().collect()
    );
    assert_eq!(
        flagged("unused_30_days"),
        seeded.unused_credentials.iter().cloned().collect()
    );
    // Each credential names both sides: the app object and its service principal.
    let row = objects(&a)
        .into_iter()
        .find(|o| o["credential_origin"] == "application")
        .unwrap();
    assert!(!row["app_object_id"].is_null() && !row["service_principal_object_id"].is_null());
    assert!(
        questions::ask("app-credentials", &[])
            .unwrap()
            .embedded_only()
    );
    // Microsoft's last use agrees with ours but for the secret used before our logs begin.
    let differ: BTreeSet<String> = objects(&a)
        .into_iter()
        .filter(|o| o["microsoft_last_used"] != o["last_used"])
        .map(|o| s(&o["key_id"]))
        .collect();
    let legacy = inv
        .applications
        .iter()
        .find(|x| x["appId"] == inv.seeded.unused_app.as_str())
        .unwrap();
    assert_eq!(
        differ,
        BTreeSet::from([s(&legacy["passwordCredentials"][0]["keyId"])])
    );
}

/// Users inactive for `days`, as the test reads them: (id, last successful, source) from the
/// inventory's signInActivity, or from the raw sign-ins where there is none.
fn inactive_truth(
    inv: &Inventory,
    raw: &BTreeMap<Category, Vec<Value>>,
    days: i64,
) -> BTreeMap<String, (Option<String>, &'static str)> {
    let threshold = end() - Duration::days(days);
    let mut from_logs: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for r in raw.values().flatten() {
        if r["status"]["errorCode"] == 0 {
            let e = from_logs.entry(s(&r["userId"])).or_insert(time_of(r));
            *e = (*e).max(time_of(r));
        }
    }
    let millis = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = BTreeMap::new();
    for u in &inv.people.users {
        let created = DateTime::parse_from_rfc3339(&s(&u["createdDateTime"])).unwrap();
        if created >= threshold {
            continue;
        }
        let (last, source) = match u.get("signInActivity") {
            Some(a) => (
                a["lastSuccessfulSignInDateTime"].as_str().map(String::from),
                "signInActivity",
            ),
            None => (from_logs.get(&s(&u["id"])).map(millis), "logs"),
        };
        let when = last
            .as_deref()
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc));
        if when.is_none_or(|t| t < threshold) {
            out.insert(s(&u["id"]), (last, source));
        }
    }
    out
}

fn inactive_answer(
    key: &str,
    pairs: &[(&str, &str)],
) -> BTreeMap<String, (Option<String>, &'static str)> {
    objects(&ask_for(key, "inactive-users", pairs))
        .into_iter()
        .map(|o| {
            let source = if o["source"] == "logs" {
                "logs"
            } else {
                "signInActivity"
            };
            let last = o["last_successful_sign_in"].as_str().map(String::from);
            if let Some(t) = &last {
                let t = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
                assert_eq!(o["days_inactive"], (end() - t).num_days(), "{o:?}");
            }
            (s(&o["user_id"]), (last, source))
        })
        .collect()
}

#[test]
fn inactive_users_from_sign_in_activity_or_from_the_logs() {
    let f = fixture();
    let truth = inactive_truth(&f.inventory, &f.raw, 90);
    // The seeded guests (120 and 200 days) are there, from signInActivity.
    for g in &f.inventory.seeded.people.inactive_guests {
        assert_eq!(truth[g].1, "signInActivity");
    }
    assert_eq!(inactive_answer(TENANT, &[]), truth);
    let week = inactive_truth(&f.inventory, &f.raw, 3);
    assert!(week.values().any(|(last, _)| last.is_some()), "{week:?}");
    assert_eq!(inactive_answer(TENANT, &[("days", "3")]), week);
    let guests = inactive_answer(TENANT, &[("user_type", "guest")]);
    assert!(guests.keys().all(|id| {
        f.inventory
            .people
            .users
            .iter()
            .any(|u| u["id"] == id.as_str() && u["userType"] == "Guest")
    }));
    assert!(guests.len() >= 2);
    // Where signInActivity is not licensed, from our logs (the week collected).
    let unlicensed = inactive_truth(&f.unlicensed, &f.raw_unlicensed, 3);
    assert!(unlicensed.values().all(|(_, src)| *src == "logs"));
    assert_eq!(inactive_answer(UNLICENSED, &[("days", "3")]), unlicensed);
    let bad = questions::ask("inactive-users", &[("days", "0")]).unwrap_err();
    assert_eq!(bad.parameter, "days");
}

#[test]
fn authentication_methods_registration_by_feature_and_method() {
    let details = &fixture().inventory.people.registration_details;
    let split = |rows: &mut dyn Iterator<Item = &Value>| {
        let mut n = [0i64; 5];
        for r in rows {
            let member = r["userType"] == "member";
            let admin = r["isAdmin"] == true;
            n[0] += 1;
            n[if member { 1 } else { 2 }] += 1;
            n[if admin { 3 } else { 4 }] += 1;
        }
        n
    };
    let a = ask("auth-registration", &[]);
    assert_eq!(
        a.columns,
        [
            "feature",
            "users",
            "members",
            "guests",
            "admins",
            "non_admins"
        ]
    );
    let got: Vec<(String, [i64; 5])> = a
        .rows
        .iter()
        .map(|r| {
            (
                s(&r[0]),
                std::array::from_fn(|i| r[i + 1].as_i64().unwrap()),
            )
        })
        .collect();
    let truth: Vec<(String, [i64; 5])> = shared::query::questions::FEATURES
        .iter()
        .map(|(feature, property)| {
            (
                feature.to_string(),
                split(&mut details.iter().filter(|r| r[*property] == true)),
            )
        })
        .collect();
    assert_eq!(got, truth);
    // The seeded administrators without MFA are the admins not registered.
    let admins = details.iter().filter(|r| r["isAdmin"] == true).count() as i64;
    let registered_admins = truth[1].1[3];
    assert_eq!(
        admins - registered_admins,
        fixture().inventory.seeded.people.admins_without_mfa.len() as i64
    );
    // Per method, and admins only.
    let mut per_method: BTreeMap<String, i64> = BTreeMap::new();
    for r in details.iter().filter(|r| r["isAdmin"] == true) {
        for m in r["methodsRegistered"].as_array().unwrap() {
            *per_method.entry(s(m)).or_default() += 1;
        }
    }
    let got: BTreeMap<String, i64> =
        ask("auth-registration", &[("per", "method"), ("role", "admin")])
            .rows
            .iter()
            .map(|r| (s(&r[0]), r[1].as_i64().unwrap()))
            .collect();
    assert_eq!(got, per_method);
}

/// Each report's KQL is the reviewed text in `tests/fixtures/kql/` (`ENTRA_MONITOR_BLESS=1`
/// rewrites it); `tests/questions.rs` parses and binds every file there against the tables.
#[test]
fn the_kql_of_each_report_is_the_reviewed_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kql");
    /// Report, parameters, golden file suffix, tables.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
        KqlTables,
    );
    let cases: [Case; 11] = [
        ("app-sign-ins", &[], "", KqlTables::Entra),
        (
            "app-sign-ins",
            &[("per", "day"), ("type", "non-interactive")],
            ".per-day",
            KqlTables::Entra,
        ),
        (
            "app-sign-in-failures",
            &[("app", "Microsoft Teams")],
            "",
            KqlTables::Entra,
        ),
        ("service-principal-sign-ins", &[], "", KqlTables::Entra),
        (
            "service-principal-sign-ins",
            &[("app", "00000003-0000-0000-c000-000000000000")],
            ".custom",
            KqlTables::Custom,
        ),
        ("auth-requirements", &[], "", KqlTables::Entra),
        ("auth-method-usage", &[], "", KqlTables::Entra),
        ("auth-method-usage", &[], ".custom", KqlTables::Custom),
        ("password-activity", &[], "", KqlTables::Entra),
        (
            "password-activity",
            &[("per", "method")],
            ".per-method",
            KqlTables::Entra,
        ),
        ("app-credentials", &[], "", KqlTables::Entra),
    ];
    let bless = std::env::var("ENTRA_MONITOR_BLESS").is_ok();
    for (name, pairs, suffix, tables) in cases {
        let q = questions::ask(name, pairs).unwrap();
        let kql = q
            .plan("72f988bf-86f1-41af-91ab-2d7cd011db47", &common(tables))
            .kql
            + "\n";
        let path = dir.join(format!("{name}{suffix}.kql"));
        if bless {
            std::fs::write(&path, &kql).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with ENTRA_MONITOR_BLESS=1 and review it",
                path.display()
            )
        });
        assert_eq!(
            kql, golden,
            "{name}{suffix}: the KQL changed; review and bless it"
        );
    }
}

/// A value that tries to break out of its string stays a value: the SQL binds it, the KQL
/// escapes it, and the answer is simply empty.
#[test]
fn names_that_try_to_break_out_of_a_string_stay_strings() {
    for app in [
        "x' OR '1'='1",
        "x\" | take 1 //",
        "Microsoft Teams'); DROP TABLE inventory; --",
    ] {
        let a = ask("app-sign-in-failures", &[("app", app)]);
        assert!(a.rows.is_empty(), "{app}: {:?}", a.rows);
        let q = questions::ask("app-sign-in-failures", &[("app", app)]).unwrap();
        let kql = q.plan(TENANT, &common(KqlTables::Entra)).kql;
        let literal = shared::query::kql::lit(app);
        assert!(
            kql.contains(&format!("AppDisplayName =~ {literal}")),
            "{kql}"
        );
    }
    // The inventory is still there.
    assert!(!ask("app-credentials", &[]).rows.is_empty());
    let bad = questions::ask("inactive-users", &[("days", "99999")]).unwrap_err();
    assert_eq!(bad.parameter, "days");
    let bad = questions::ask("auth-registration", &[("role", "owner")]).unwrap_err();
    assert_eq!(bad.parameter, "role");
}
