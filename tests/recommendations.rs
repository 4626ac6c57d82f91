//! Recommendations against a seeded simulated tenant: its week of sign-ins in the embedded
//! store and its directory inventory as `collect-inventory` keeps it (with Microsoft's usage
//! reports, as a tenant with Workload ID Premium has them). Each type's impacted resources
//! equal what this test computes from the raw Graph records and inventory by the type's
//! condition — and include the conditions the tenant was seeded with. A tenant whose logs are
//! a week old and without Microsoft's reports is not told its apps are unused: the rules that
//! need more history wait and say why. Then the system's side of the lifecycle over days:
//! fixed conditions complete, recurring ones reactivate, each change in the history.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Category;
use shared::recommend::{self, Thresholds};
use shared::simulated::SimulatedTenant;
use shared::simulated::inventory::Inventory;
use shared::simulated::usage_reports;
use shared::state::SqliteState;
use std::collections::{BTreeMap, BTreeSet};

#[path = "support/seeded_store.rs"]
mod seeded_store;

const TENANT: &str = "t1";
const SIGN_INS: [Category; 4] = [
    Category::SignInLogs,
    Category::NonInteractiveUserSignInLogs,
    Category::ServicePrincipalSignInLogs,
    Category::ManagedIdentitySignInLogs,
];

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

struct Seeded {
    store: SqliteState,
    raw: BTreeMap<Category, Vec<Value>>,
    inventory: Inventory,
    dir: std::path::PathBuf,
}

impl Drop for Seeded {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A week of `tenant`'s sign-ins and its inventory (with Microsoft's reports, or not).
fn seeded(name: &str, tenant: &SimulatedTenant, microsoft: bool) -> Seeded {
    seeded_with(name, tenant, microsoft, false)
}

/// The same, the inventory's seeded conditions fixed when `clean`.
fn seeded_with(name: &str, tenant: &SimulatedTenant, microsoft: bool, clean: bool) -> Seeded {
    let dir = std::env::temp_dir().join(format!("entra-rec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let raw = seeded_store::load(
        &store,
        TENANT,
        tenant,
        &SIGN_INS,
        end() - Duration::days(7),
        end(),
    );
    let mut inventory = Inventory::generate(tenant.seed, &tenant.directory, end());
    usage_reports::fill_from_logs(&mut inventory, tenant, end());
    if clean {
        inventory.clean(end());
    }
    // Without Workload ID Premium Microsoft's reports are never collected.
    let skip: &[&str] = if microsoft {
        &[]
    } else {
        inventory.sp_sign_in_activities.clear();
        inventory.credential_sign_in_activities.clear();
        &[
            "servicePrincipalSignInActivities",
            "appCredentialSignInActivities",
        ]
    };
    seeded_store::sync_except(&store, TENANT, &inventory, end(), skip);
    Seeded {
        store,
        raw,
        inventory,
        dir,
    }
}

/// The subject ids of each type's active impacted resources, as stored.
fn impacted(store: &SqliteState) -> BTreeMap<String, BTreeSet<String>> {
    recommend::rules()
        .iter()
        .map(|d| {
            let ids = store
                .impacted_resources(TENANT, d.kind)
                .unwrap()
                .into_iter()
                .filter(|r| r["status"] == "active")
                .map(|r| s(&r["subjectId"]))
                .collect();
            (d.kind.to_string(), ids)
        })
        .collect()
}

/// Every credential of the tenant's apps and service principals: (origin, object, key).
fn credentials(inv: &Inventory) -> Vec<(&'static str, &Value, &Value)> {
    let mut out = Vec::new();
    for (origin, objects) in [
        ("application", &inv.applications),
        ("servicePrincipal", &inv.service_principals),
    ] {
        for o in objects {
            for list in ["passwordCredentials", "keyCredentials"] {
                for k in o[list].as_array().into_iter().flatten() {
                    out.push((origin, o, k));
                }
            }
        }
    }
    out
}

/// What each type's condition gives on the raw records and the inventory, computed here.
fn truth(t: &Seeded) -> BTreeMap<String, BTreeSet<String>> {
    let now = end();
    let inv = &t.inventory;
    let p = &inv.people;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut put = |kind: &str, id: String| {
        out.entry(kind.to_string()).or_default().insert(id);
    };
    // Last sign-in of each app id in any role: the raw records and Microsoft's report.
    let mut app_last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut seen = |k: String, at: DateTime<Utc>| {
        let e = app_last.entry(k).or_insert(at);
        *e = (*e).max(at);
    };
    for c in SIGN_INS {
        for r in &t.raw[&c] {
            let at = seeded_store::time_of(r);
            seen(s(&r["appId"]), at);
            if c != Category::ManagedIdentitySignInLogs {
                seen(s(&r["resourceId"]), at);
            }
        }
    }
    for a in &inv.sp_sign_in_activities {
        if let Some(at) = time(&a["lastSignInActivity"]["lastSignInDateTime"]) {
            seen(s(&a["appId"]), at);
        }
    }
    for app in &inv.applications {
        let old = time(&app["createdDateTime"]).unwrap() <= now - Duration::days(90);
        let last = app_last.get(&s(&app["appId"]));
        if old && last.is_none_or(|l| *l < now - Duration::days(90)) {
            put("staleApps", s(&app["id"]));
        }
        if app["owners"].as_array().is_some_and(Vec::is_empty) {
            put("ownerlessApps", s(&app["id"]));
        }
    }
    // Credentials: last use by key (service principal sign-ins, Microsoft's report) and, for
    // a service principal's signing certificate, successful SAML sign-ins to its app.
    let mut key_last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut used = |k: String, at: DateTime<Utc>| {
        let e = key_last.entry(k.to_lowercase()).or_insert(at);
        *e = (*e).max(at);
    };
    for r in &t.raw[&Category::ServicePrincipalSignInLogs] {
        used(
            s(&r["servicePrincipalCredentialKeyId"]),
            seeded_store::time_of(r),
        );
    }
    for a in &inv.credential_sign_in_activities {
        if let Some(at) = time(&a["signInActivity"]["lastSignInDateTime"]) {
            used(s(&a["keyId"]), at);
        }
    }
    let saml: BTreeMap<String, DateTime<Utc>> = t.raw[&Category::SignInLogs]
        .iter()
        .filter(|r| r["authenticationProtocol"] == "saml20" && r["status"]["errorCode"] == 0)
        .fold(BTreeMap::new(), |mut m, r| {
            let at = seeded_store::time_of(r);
            let e = m.entry(s(&r["appId"])).or_insert(at);
            *e = (*e).max(at);
            m
        });
    for (origin, o, k) in credentials(inv) {
        let key = s(&k["keyId"]);
        let (start, ends) = (
            time(&k["startDateTime"]).unwrap(),
            time(&k["endDateTime"]).unwrap(),
        );
        if ends <= now {
            continue;
        }
        let signing = origin == "servicePrincipal" && k["usage"] == "Sign";
        let last = if signing {
            saml.get(&s(&o["appId"]))
                .copied()
                .max(key_last.get(&key.to_lowercase()).copied())
        } else {
            key_last.get(&key.to_lowercase()).copied()
        };
        if start <= now - Duration::days(30) && last.is_none_or(|l| l < now - Duration::days(30)) {
            put("staleAppCreds", key.clone());
        }
        if ends <= now + Duration::days(30) {
            let kind = if origin == "application" {
                "applicationCredentialExpiry"
            } else {
                "servicePrincipalKeyExpiry"
            };
            put(kind, key.clone());
        }
        let most = if k.get("type").is_some() { 1095 } else { 730 };
        if (ends - start).num_days() > most {
            put("longLivedCredentials", key.clone());
        }
    }
    // Privileged role holders with no MFA method or a single-factor interactive sign-in.
    let privileged: BTreeSet<String> = p
        .role_definitions
        .iter()
        .filter(|d| d["isPrivileged"] == true)
        .map(|d| s(&d["id"]))
        .collect();
    let holders: BTreeSet<String> = p
        .role_assignments
        .iter()
        .filter(|a| privileged.contains(&s(&a["roleDefinitionId"])))
        .map(|a| s(&a["principalId"]))
        .collect();
    let unregistered: BTreeSet<String> = p
        .registration_details
        .iter()
        .filter(|r| r["isMfaRegistered"] == false)
        .map(|r| s(&r["id"]))
        .collect();
    let single: BTreeSet<String> = t.raw[&Category::SignInLogs]
        .iter()
        .filter(|r| {
            r["status"]["errorCode"] == 0
                && r["authenticationRequirement"] == "singleFactorAuthentication"
        })
        .map(|r| s(&r["userId"]))
        .collect();
    for h in &holders {
        if unregistered.contains(h) || single.contains(h) {
            put("adminMFAV2", h.clone());
        }
    }
    let disabled: BTreeSet<String> = p
        .users
        .iter()
        .filter(|u| u["accountEnabled"] == false)
        .map(|u| s(&u["id"]))
        .collect();
    for u in unregistered.difference(&disabled) {
        put("mfaRegistrationV2", u.clone());
    }
    let admins: BTreeSet<String> = p
        .role_assignments
        .iter()
        .filter(|a| a["roleDefinitionId"] == "62e90394-69f5-4237-9190-012177145e10")
        .map(|a| s(&a["principalId"]))
        .collect();
    if admins.len() < 2 || admins.len() >= 5 {
        for a in admins {
            put("oneAdmin", a);
        }
    }
    for u in &p.users {
        let inactive = u["userType"] == "Guest"
            && u["accountEnabled"] != false
            && time(&u["createdDateTime"]).unwrap() <= now - Duration::days(90)
            && time(&u["signInActivity"]["lastSuccessfulSignInDateTime"])
                .is_none_or(|l| l < now - Duration::days(90));
        if inactive {
            put("inactiveGuests", s(&u["id"]));
        }
    }
    // Legacy clients are blocked by the tenant's enabled policy: nothing to recommend.
    out.retain(|_, v| !v.is_empty());
    assert!(
        p.conditional_access_policies.iter().any(|c| {
            c["displayName"] == "Block legacy authentication" && c["state"] == "enabled"
        })
    );
    out
}

#[test]
fn each_type_impacts_what_its_condition_gives_on_the_raw_records() {
    let tenant = SimulatedTenant::new(31, 120);
    let t = seeded("full", &tenant, true);
    let outcomes = recommend::run(&t.store, TENANT, end(), &Thresholds::default()).unwrap();
    for o in &outcomes {
        assert!(o.undecided.is_none(), "{o:?}");
    }
    let got = impacted(&t.store);
    let want = truth(&t);
    for d in recommend::rules() {
        let empty = BTreeSet::new();
        let w = want.get(d.kind).unwrap_or(&empty);
        assert_eq!(&got[d.kind], w, "{}", d.kind);
        println!("{:<28} {} impacted", d.kind, w.len());
    }
    // The seeded conditions are among them, each where it belongs.
    let seeded = &t.inventory.seeded;
    let app_object = |app_id: &str| {
        let a = t
            .inventory
            .applications
            .iter()
            .find(|a| a["appId"] == app_id)
            .unwrap();
        s(&a["id"])
    };
    assert_eq!(
        got["staleApps"],
        BTreeSet::from([app_object(&seeded.unused_app)])
    );
    assert_eq!(
        got["ownerlessApps"],
        BTreeSet::from([app_object(&seeded.ownerless_app)])
    );
    for key in &seeded.unused_credentials {
        assert!(got["staleAppCreds"].contains(key), "{key}");
    }
    let expiring: BTreeSet<String> = got["applicationCredentialExpiry"]
        .union(&got["servicePrincipalKeyExpiry"])
        .cloned()
        .collect();
    assert_eq!(
        expiring,
        seeded.expiring_in_10_days.iter().cloned().collect()
    );
    assert!(!expiring.contains(&seeded.expiring_in_45_days[0]));
    assert_eq!(
        got["oneAdmin"],
        seeded.people.global_admins.iter().cloned().collect()
    );
    for a in &seeded.people.admins_without_mfa {
        assert!(got["adminMFAV2"].contains(a), "{a}");
    }
    // Other administrators sign in with MFA: any other one here is the victim of an injected
    // attack that signed in with the password alone.
    let victims: BTreeSet<String> = tenant
        .attacks(end() - Duration::days(8), end())
        .into_iter()
        .map(|a| a.user_principal_name.to_lowercase())
        .collect();
    for r in t.store.impacted_resources(TENANT, "adminMFAV2").unwrap() {
        let upn = r["additionalDetails"][0]["value"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(
            seeded
                .people
                .admins_without_mfa
                .contains(&s(&r["subjectId"]))
                || victims.contains(&upn),
            "{r}"
        );
    }
    for g in &seeded.people.inactive_guests {
        assert!(got["inactiveGuests"].contains(g), "{g}");
    }
    assert!(got["blockLegacyAuthentication"].is_empty());
    // Each raised recommendation is active, in Graph's shape of dates.
    let listed = t.store.recommendations(TENANT).unwrap();
    for r in &listed {
        let kind = s(&r["recommendationType"]);
        assert_eq!(
            r["status"],
            if got[&kind].is_empty() {
                "completedBySystem"
            } else {
                "active"
            }
        );
        assert_eq!(r["impactStartDateTime"], r["createdDateTime"]);
    }
    assert_eq!(
        listed.len(),
        got.values().filter(|v| !v.is_empty()).count(),
        "only the types that held were raised"
    );
}

/// A week of logs and no Microsoft reports: the rules about 30 or 90 quiet days wait (and say
/// why) instead of calling every app and credential unused; the others judge.
#[test]
fn a_first_week_without_microsofts_reports_calls_nothing_unused() {
    let tenant = SimulatedTenant::new(32, 60);
    let t = seeded("week", &tenant, false);
    let outcomes = recommend::run(&t.store, TENANT, end(), &Thresholds::default()).unwrap();
    let undecided: BTreeMap<&str, &str> = outcomes
        .iter()
        .filter_map(|o| Some((o.kind, o.undecided.as_deref()?)))
        .collect();
    assert_eq!(
        undecided.keys().copied().collect::<Vec<_>>(),
        ["staleAppCreds", "staleApps"]
    );
    assert!(undecided["staleApps"].contains("90 days"), "{undecided:?}");
    assert!(
        undecided["staleApps"].contains("reach back 7 days"),
        "{undecided:?}"
    );
    assert!(
        t.store
            .impacted_resources(TENANT, "staleApps")
            .unwrap()
            .is_empty()
    );
    let want = truth(&t);
    let got = impacted(&t.store);
    assert_eq!(got["ownerlessApps"], want["ownerlessApps"]);
    assert_eq!(got["oneAdmin"], want["oneAdmin"]);
}

/// Over days: a fixed condition completes (the recommendation when none of its resources is
/// left, each resource on its own), a recurring one reactivates, and each change is in the
/// history, recorded as the system's.
#[test]
fn the_system_completes_what_is_fixed_and_reactivates_what_recurs() {
    let tenant = SimulatedTenant::new(33, 60);
    let t = seeded("life", &tenant, true);
    let thresholds = Thresholds::default();
    recommend::run(&t.store, TENANT, end(), &thresholds).unwrap();
    let rec = |kind: &str| {
        t.store
            .recommendations(TENANT)
            .unwrap()
            .into_iter()
            .find(|r| r["recommendationType"] == kind)
            .unwrap()
    };
    assert_eq!(rec("ownerlessApps")["status"], "active");
    // Day 2: the ownerless app gets an owner.
    let mut inv = t.inventory.clone();
    let ownerless = inv.seeded.ownerless_app.clone();
    for a in &mut inv.applications {
        if a["appId"] == ownerless.as_str() {
            a["owners"] = json!([{ "@odata.type": "#microsoft.graph.user", "id": "owner-1" }]);
        }
    }
    let day2 = end() + Duration::days(1);
    seeded_store::sync(&t.store, TENANT, &inv, day2);
    let outcomes = recommend::run(&t.store, TENANT, day2, &thresholds).unwrap();
    let o = outcomes.iter().find(|o| o.kind == "ownerlessApps").unwrap();
    assert!(o.completed && !o.activated, "{o:?}");
    let r = rec("ownerlessApps");
    assert_eq!(r["status"], "completedBySystem");
    assert_eq!(r["lastModifiedBy"], "entra-monitor");
    assert_eq!(r["impactedResourcesActive"], 0);
    // Day 3: the owner leaves again: the recommendation and its resource are active again,
    // the impact starting anew.
    let day3 = day2 + Duration::days(1);
    seeded_store::sync(&t.store, TENANT, &t.inventory, day3);
    let outcomes = recommend::run(&t.store, TENANT, day3, &thresholds).unwrap();
    let o = outcomes.iter().find(|o| o.kind == "ownerlessApps").unwrap();
    assert!(o.activated && o.resources_activated.len() == 1, "{o:?}");
    let r = rec("ownerlessApps");
    assert_eq!(r["status"], "active");
    assert_eq!(time(&r["impactStartDateTime"]), Some(day3));
    let history: Vec<(Value, Value, Value)> = t
        .store
        .recommendation_history(TENANT, "ownerlessApps")
        .unwrap()
        .into_iter()
        .filter(|h| h["subjectId"].is_null())
        .map(|h| (h["from"].clone(), h["to"].clone(), h["by"].clone()))
        .collect();
    assert_eq!(
        history,
        [
            (Value::Null, json!("active"), json!("entra-monitor")),
            (
                json!("active"),
                json!("completedBySystem"),
                json!("entra-monitor")
            ),
            (
                json!("completedBySystem"),
                json!("active"),
                json!("entra-monitor")
            ),
        ]
    );
    // Day 40: the credentials that were expiring in 10 days have lapsed: those resources
    // complete (a lapsed credential is no longer listed). The certificate that expires on day
    // 45 is now within 30 days: a resource of its own, added that day, so the application
    // recommendation stays active; the service principal one, with none left, completes.
    let day40 = end() + Duration::days(40);
    seeded_store::sync(&t.store, TENANT, &t.inventory, day40);
    recommend::run(&t.store, TENANT, day40, &thresholds).unwrap();
    let seeded = &t.inventory.seeded;
    let status = |kind: &str| -> BTreeMap<String, (String, String)> {
        t.store
            .impacted_resources(TENANT, kind)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    s(&r["subjectId"]),
                    (s(&r["status"]), s(&r["addedDateTime"])),
                )
            })
            .collect()
    };
    let apps = status("applicationCredentialExpiry");
    let sps = status("servicePrincipalKeyExpiry");
    for key in &seeded.expiring_in_10_days {
        let (st, _) = apps.get(key).or(sps.get(key)).unwrap();
        assert_eq!(st, "completedBySystem", "{key}");
    }
    let (st, added) = &apps[&seeded.expiring_in_45_days[0]];
    assert_eq!((st.as_str(), time(&json!(added))), ("active", Some(day40)));
    assert_eq!(rec("applicationCredentialExpiry")["status"], "active");
    assert_eq!(
        rec("servicePrincipalKeyExpiry")["status"],
        "completedBySystem"
    );
}

/// `docs/recommendations.md` lists every type with its priority and says whose condition it
/// is, as the definitions do.
#[test]
fn the_docs_list_every_type_with_its_priority_and_source() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/recommendations.md"),
    )
    .unwrap();
    for d in recommend::rules() {
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", d.kind)))
            .unwrap_or_else(|| panic!("{} is not in docs/recommendations.md", d.kind));
        assert!(row.contains(&format!("| {} |", d.priority)), "{row}");
        let ours = d.condition.starts_with("Ours");
        assert_eq!(row.contains("| Ours"), ours, "{}: {row}", d.kind);
        assert!(
            ours || d.condition.starts_with("Microsoft's documented rule"),
            "{}",
            d.kind
        );
    }
}

/// People's actions over days: a dismissal stays whatever the condition does; a postponement
/// holds until its date and is judged again after it; a recommendation completed by someone
/// while its condition still holds is active again at the next evaluation; one resource can be
/// dismissed on its own. Each action is in the history with who and why.
#[test]
fn dismissals_stay_postponements_expire_and_completions_are_checked() {
    use shared::recommend::lifecycle::{ACTIVE, Action, COMPLETED_BY_USER, DISMISSED, POSTPONED};
    let tenant = SimulatedTenant::new(34, 60);
    let t = seeded("act", &tenant, true);
    let thresholds = Thresholds::default();
    let day = |n: i64| end() + Duration::days(n);
    recommend::run(&t.store, TENANT, day(0), &thresholds).unwrap();
    let status = |kind: &str| {
        t.store
            .recommendations(TENANT)
            .unwrap()
            .into_iter()
            .find(|r| r["recommendationType"] == kind)
            .map(|r| s(&r["status"]))
            .unwrap()
    };
    let act = |kind: &str, subject: Option<&str>, status, until, reason: &str, at| {
        let action = Action {
            status,
            until,
            by: "ops",
            reason,
        };
        t.store
            .act_on_recommendation(TENANT, kind, subject, &action, at)
            .unwrap()
    };
    // Dismissed: the condition holds every day, and it stays dismissed.
    assert_eq!(
        act(
            "oneAdmin",
            None,
            DISMISSED,
            None,
            "break-glass accounts",
            day(0)
        ),
        Some(ACTIVE.to_string())
    );
    // Postponed for five days.
    act(
        "mfaRegistrationV2",
        None,
        POSTPONED,
        Some(day(5)),
        "campaign next week",
        day(0),
    );
    // Completed by someone, though the ownerless app still has no owner.
    act(
        "ownerlessApps",
        None,
        COMPLETED_BY_USER,
        None,
        "owner added",
        day(0),
    );
    // One inactive guest dismissed (a partner kept on purpose), the other left.
    let guest = t.inventory.seeded.people.inactive_guests[0].clone();
    act(
        "inactiveGuests",
        Some(&guest),
        DISMISSED,
        None,
        "partner kept",
        day(0),
    );
    assert_eq!(
        act(
            "inactiveGuests",
            Some("nobody"),
            DISMISSED,
            None,
            "x",
            day(0)
        ),
        None
    );
    for d in 1..=7 {
        seeded_store::sync(&t.store, TENANT, &t.inventory, day(d));
        recommend::run(&t.store, TENANT, day(d), &thresholds).unwrap();
        assert_eq!(status("oneAdmin"), DISMISSED, "day {d}");
        let want = if d < 5 { POSTPONED } else { ACTIVE };
        assert_eq!(status("mfaRegistrationV2"), want, "day {d}");
        assert_eq!(
            status("ownerlessApps"),
            ACTIVE,
            "day {d}: the condition still holds"
        );
        let guests: BTreeMap<String, String> = t
            .store
            .impacted_resources(TENANT, "inactiveGuests")
            .unwrap()
            .into_iter()
            .map(|r| (s(&r["subjectId"]), s(&r["status"])))
            .collect();
        assert_eq!(guests[&guest], DISMISSED, "day {d}");
        assert!(guests.values().filter(|s| *s == ACTIVE).count() >= 1);
        assert_eq!(status("inactiveGuests"), ACTIVE);
    }
    let history = t.store.recommendation_history(TENANT, "oneAdmin").unwrap();
    let last = history.iter().rfind(|h| h["subjectId"].is_null()).unwrap();
    assert_eq!(
        (&last["to"], &last["by"], &last["reason"]),
        (
            &json!(DISMISSED),
            &json!("ops"),
            &json!("break-glass accounts")
        )
    );
}

/// A tenant seeded clean — no attack, every administrator signing in with MFA, the directory's
/// conditions fixed — gets no recommendation, and the conditions computed here find nothing
/// either.
#[test]
fn a_tenant_seeded_clean_gets_no_recommendation() {
    let tenant = SimulatedTenant::clean(35, 120);
    let t = seeded_with("clean", &tenant, true, true);
    let outcomes = recommend::run(&t.store, TENANT, end(), &Thresholds::default()).unwrap();
    for o in &outcomes {
        let resources = t.store.impacted_resources(TENANT, o.kind).unwrap();
        assert_eq!(o.impacted, Some(0), "{o:?}: {resources:?}");
    }
    assert!(t.store.recommendations(TENANT).unwrap().is_empty());
    assert_eq!(truth(&t), BTreeMap::new());
    // Yet it is the same kind of tenant: apps, credentials, administrators, guests.
    assert!(!t.inventory.applications.is_empty());
    assert!(!t.raw[&Category::SignInLogs].is_empty());
}
