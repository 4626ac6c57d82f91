//! The directory inventory against the simulated tenant's Graph: `collect_inventory` lists
//! applications (with owners) and service principals through paging and injected faults, and
//! keeps exactly what the server lists; a second listing changes nothing; a removed app and a
//! changed service principal are recorded in the history; a listing cut short keeps the
//! snapshot as it was; service principals are read by delta query after the first listing,
//! and listed in full again when the delta link has expired. Microsoft Entra Health's own
//! alerts are collected as they stand at each listing, and listed beside ours by source.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use shared::clock::FixedClock;
use shared::pipeline::Source;
use shared::pipeline::inventory::collect_inventory;
use shared::simulated::SimulatedTenant;
use shared::simulated::server::{Faults, SimServer};
use shared::source::budget::Budget;
use shared::source::graph::{GraphClient, RetryPolicy};
use shared::state::SqliteState;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn client() -> GraphClient {
    GraphClient::new(
        Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
        Arc::new(Budget::new(10_000, std::time::Duration::from_secs(1))),
        RetryPolicy {
            max_attempts: 10,
            base_delay: std::time::Duration::from_millis(2),
            max_delay: std::time::Duration::from_millis(50),
            request_timeout: std::time::Duration::from_secs(5),
        },
    )
}

/// A fresh store in a temporary folder named `name`, and the source listing `server`.
async fn listed_from(
    server: &Arc<SimServer>,
    name: &str,
) -> (SqliteState, Source, std::path::PathBuf) {
    let base = server.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let source = Source {
        tenant: "sim".into(),
        graph_base: base,
        client: client(),
    };
    (store, source, dir)
}

fn by_id(objects: &[Value]) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_string(), o.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_is_what_graph_lists_and_its_changes_are_kept() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let faults = Faults {
        throttle: 0.1,
        server_error: 0.1,
        truncate: 0.05,
        max_directory_page: Some(3),
        ..Default::default()
    };
    let server = SimServer::new(SimulatedTenant::new(5, 60), clock.clone(), faults);
    let (store, source, dir) = listed_from(&server, "entra-inventory").await;
    let always = || true;
    let reports = collect_inventory(&store, &source, t0, &always).await;
    let truth = server.inventory();
    assert!(truth.applications.len() > 3 && truth.service_principals.len() > 14);
    for r in &reports {
        assert!(r.error.is_none(), "{r:?}");
        // Several pages each (a tenant has three of Microsoft's recommendations: one page),
        // through the injected faults.
        let listed = r.changes.as_ref().map_or(0, |c| c.listed);
        assert!(r.requests >= 2 || listed <= 3, "{r:?}");
    }
    assert_eq!(
        by_id(&store.inventory("sim", "applications").unwrap()),
        by_id(&truth.applications),
        "applications with their credentials and owners"
    );
    assert_eq!(
        by_id(&store.inventory("sim", "servicePrincipals").unwrap()),
        by_id(&truth.service_principals)
    );
    let p = &truth.people;
    for (kind, objects) in [
        ("users", &p.users),
        ("roleDefinitions", &p.role_definitions),
        ("roleAssignments", &p.role_assignments),
        ("userRegistrationDetails", &p.registration_details),
        ("conditionalAccessPolicies", &p.conditional_access_policies),
        // Microsoft's own recommendations, each with its impacted resources.
        ("directoryRecommendations", &truth.recommendations),
    ] {
        assert_eq!(
            by_id(&store.inventory("sim", kind).unwrap()),
            by_id(objects),
            "{kind}"
        );
    }
    let added: Vec<usize> = reports
        .iter()
        .map(|r| r.changes.as_ref().unwrap().added)
        .collect();
    assert_eq!(
        added,
        [
            truth.applications.len(),
            truth.service_principals.len(),
            p.users.len(),
            p.role_definitions.len(),
            p.role_assignments.len(),
            p.registration_details.len(),
            p.conditional_access_policies.len(),
            truth.sp_sign_in_activities.len(),
            truth.credential_sign_in_activities.len(),
            truth.user_events.len(),
            truth.recommendations.len(),
            // Microsoft alerts no tenant under 100 users.
            0
        ]
    );
    // Microsoft's usage reports, as served.
    assert_eq!(
        by_id(
            &store
                .inventory("sim", "appCredentialSignInActivities")
                .unwrap()
        ),
        by_id(&truth.credential_sign_in_activities)
    );
    assert!(!truth.sp_sign_in_activities.is_empty());
    // Microsoft's reset events, each kept under a key of its own (Graph's id is the user's).
    let events = store.inventory("sim", "userEventsSummary").unwrap();
    assert!(!events.is_empty());
    let ids = |objects: &[Value], key: &str| -> Vec<String> {
        let mut ids: Vec<String> = objects.iter().map(|e| e[key].to_string()).collect();
        ids.sort();
        ids
    };
    // Every event kept, none folded into another of the same user.
    assert_eq!(ids(&events, "userId"), ids(&truth.user_events, "id"));
    // Users carry signInActivity from the week of sign-ins before the anchor; the seeded
    // guests last signed in months ago.
    let users = by_id(&p.users);
    assert!(truth.sign_in_activity_filled);
    let active = p
        .users
        .iter()
        .filter(|u| u["signInActivity"]["lastSignInDateTime"].is_string())
        .count();
    assert!(active > p.users.len() / 2, "{active} of {}", p.users.len());
    for id in &truth.seeded.people.inactive_guests {
        assert_eq!(users[id]["userType"], "Guest");
        let last = users[id]["signInActivity"]["lastSignInDateTime"]
            .as_str()
            .unwrap();
        assert!(last < "2026-08-01", "{last}");
    }
    // Six Global Administrators; two role holders without an MFA method.
    let ga = "62e90394-69f5-4237-9190-012177145e10";
    let holders: Vec<&str> = p
        .role_assignments
        .iter()
        .filter(|a| a["roleDefinitionId"] == ga)
        .map(|a| a["principalId"].as_str().unwrap())
        .collect();
    assert_eq!(holders, truth.seeded.people.global_admins);
    assert!(holders.len() >= 5);
    let mut unregistered: Vec<&str> = p
        .registration_details
        .iter()
        .filter(|r| r["isAdmin"] == true && r["isMfaRegistered"] == false)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    unregistered.sort();
    let mut seeded = truth.seeded.people.admins_without_mfa.clone();
    seeded.sort();
    assert_eq!(unregistered, seeded);

    // Service principals were listed by a delta query, whose link is kept.
    let sp_requests = |from: usize| -> Vec<String> {
        server.requests()[from..]
            .iter()
            .map(|(_, r)| r.clone())
            .filter(|r| r.contains("servicePrincipals"))
            .collect()
    };
    assert!(
        sp_requests(0)
            .iter()
            .all(|r| r.contains("/servicePrincipals/delta"))
    );
    assert!(sp_requests(0).len() > truth.service_principals.len() / 3);
    assert!(
        store
            .inventory_delta_link("sim", "servicePrincipals")
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .inventory_delta_link("sim", "applications")
            .unwrap()
            .is_none()
    );

    // Listed again unchanged: no change recorded; the service principals cost one request
    // (the delta link answering that nothing changed), retries aside.
    let t1 = t0 + chrono::Duration::hours(1);
    let seen = server.requests().len();
    for r in collect_inventory(&store, &source, t1, &always).await {
        let c = r.changes.unwrap();
        assert_eq!((c.added, c.changed, c.removed), (0, 0, 0), "{}", r.kind);
    }
    let mut asked = sp_requests(seen);
    asked.dedup();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("deltatoken="), "{asked:?}");

    // An app deleted and a service principal given a certificate.
    let gone = truth.applications[2]["id"].as_str().unwrap().to_string();
    let sp = truth.service_principals[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.edit_inventory(|inv| {
        inv.applications.retain(|a| a["id"] != json!(gone));
        inv.service_principals[0]["keyCredentials"] = json!([{ "keyId": "00000000-0000-0000-0000-0000000000aa",
            "type": "AsymmetricX509Cert", "usage": "Verify", "endDateTime": "2027-06-01T00:00:00Z" }]);
        // And one removed, read from the delta round as `@removed`.
        inv.service_principals.remove(1);
    });
    let t2 = t1 + chrono::Duration::hours(1);
    let reports = collect_inventory(&store, &source, t2, &always).await;
    let c: Vec<(usize, usize, usize)> = reports
        .iter()
        .take(2)
        .map(|r| {
            let c = r.changes.as_ref().unwrap();
            (c.added, c.changed, c.removed)
        })
        .collect();
    assert_eq!(c, [(0, 0, 1), (0, 1, 1)]);
    assert_eq!(
        by_id(&store.inventory("sim", "servicePrincipals").unwrap()),
        by_id(&server.inventory().service_principals),
        "the delta round brought the service principals up to date"
    );
    let history = store.inventory_changes("sim", "applications", t2).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0][0].as_str(), history[0][2].as_str()),
        (Some(gone.as_str()), Some("removed"))
    );
    let history = store
        .inventory_changes("sim", "servicePrincipals", t2)
        .unwrap();
    assert_eq!(
        (history[0][0].as_str(), history[0][2].as_str()),
        (Some(sp.as_str()), Some("changed"))
    );
    assert_eq!(
        store.inventory("sim", "applications").unwrap().len(),
        truth.applications.len() - 1
    );

    // A listing cut short (the run's time spent after its first page) keeps the snapshot as
    // it was, though the apps of later pages are gone.
    server.edit_inventory(|inv| {
        inv.applications.truncate(9);
    });
    let calls = AtomicUsize::new(0);
    let one_page = || calls.fetch_add(1, Ordering::SeqCst) < 2;
    let reports =
        collect_inventory(&store, &source, t2 + chrono::Duration::hours(1), &one_page).await;
    assert!(reports[0].changes.is_none());
    assert!(
        reports[0]
            .error
            .as_deref()
            .unwrap()
            .contains("kept as it was"),
        "{reports:?}"
    );
    assert_eq!(
        store.inventory("sim", "applications").unwrap().len(),
        truth.applications.len() - 1
    );

    // Eight days on, Graph no longer accepts the delta link: the service principals are
    // listed in full again (nothing changed), and a new link is kept.
    let link = store
        .inventory_delta_link("sim", "servicePrincipals")
        .unwrap();
    clock.advance(chrono::Duration::days(8));
    let t3 = t2 + chrono::Duration::days(8);
    let seen = server.requests().len();
    let reports = collect_inventory(&store, &source, t3, &always).await;
    let sps = reports
        .iter()
        .find(|r| r.kind == "servicePrincipals")
        .unwrap();
    let note = sps.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("listed in full") && note.contains("syncStateNotFound"),
        "{sps:?}"
    );
    let c = sps.changes.as_ref().unwrap();
    assert_eq!((c.added, c.changed, c.removed), (0, 0, 0));
    assert!(sp_requests(seen).len() > truth.service_principals.len() / 3);
    let renewed = store
        .inventory_delta_link("sim", "servicePrincipals")
        .unwrap();
    assert!(renewed.is_some() && renewed != link);
    std::fs::remove_dir_all(&dir).ok();
}

/// A tenant without Entra ID P1 refuses users' `signInActivity`: the users are listed without
/// it, and the run says why; without Workload ID Premium (or P1, for the reset events),
/// Microsoft's usage reports are not collected, which the run notes without failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_without_sign_in_activity_where_it_is_not_licensed() {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let faults = Faults {
        unlicensed_sign_in_activity: true,
        unlicensed_workload_reports: true,
        ..Default::default()
    };
    let server = SimServer::new(SimulatedTenant::new(6, 30), clock, faults);
    let (store, source, dir) = listed_from(&server, "entra-inventory-p1").await;
    let reports = collect_inventory(&store, &source, t0, &|| true).await;
    let users = reports.iter().find(|r| r.kind == "users").unwrap();
    assert!(users.error.is_none(), "{users:?}");
    assert!(
        users.note.as_deref().unwrap().contains("P1 or P2 licence"),
        "{users:?}"
    );
    let kept = store.inventory("sim", "users").unwrap();
    assert_eq!(kept.len(), server.inventory().people.users.len());
    // The guests the directory knows as inactive carry their activity only where licensed.
    assert!(kept.iter().all(|u| u.get("signInActivity").is_none()));
    // Microsoft's usage reports need Workload ID Premium, its reset events P1: noted, not a
    // failure.
    for kind in [
        "servicePrincipalSignInActivities",
        "appCredentialSignInActivities",
        "userEventsSummary",
        "directoryRecommendations",
        "healthMonitoringAlerts",
    ] {
        let r = reports.iter().find(|r| r.kind == kind).unwrap();
        assert!(r.error.is_none() && r.changes.is_none(), "{r:?}");
        assert!(
            r.note.as_deref().unwrap().starts_with("not collected"),
            "{r:?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Microsoft Entra Health's alerts for the injected incidents (an hour into each, resolved an
/// hour after; none for one app failing) are kept as each listing finds them: new ones added,
/// resolved ones updated; `health::microsoft::alerts` filters them by time and state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_health_alerts_are_kept_as_each_listing_finds_them() {
    use chrono::Duration;
    use shared::health::microsoft;
    use shared::simulated::incidents::{Incident, IncidentKind};
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
    let clock = Arc::new(FixedClock::new(t0));
    let mut tenant = SimulatedTenant::new(7, 150);
    let at = |kind, minutes_before: i64, minutes: i64| Incident {
        kind,
        start: t0 - Duration::minutes(minutes_before),
        duration: Duration::minutes(minutes),
    };
    tenant.incidents = vec![
        // Created at 13:00, resolved at 13:45: resolved by 17:00.
        at(IncidentKind::MfaOutage, 300, 45),
        // Created at 16:30, resolved at 17:30: active at 17:00.
        at(IncidentKind::PolicyBlocksOffice("Amsterdam".into()), 90, 60),
        // Created at 17:10: not yet at 17:00.
        at(IncidentKind::CompliantDeviceWave, 50, 45),
        // Microsoft has no per-app scenario.
        at(IncidentKind::AppFailures("x".into()), 200, 45),
    ];
    let server = SimServer::new(tenant, clock.clone(), Faults::default());
    let (store, source, dir) = listed_from(&server, "entra-inventory-health").await;
    let kept = |store: &SqliteState| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = store
            .inventory("sim", microsoft::KIND)
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["alertType"].as_str().unwrap().into(),
                    a["state"].as_str().unwrap().into(),
                )
            })
            .collect();
        v.sort();
        v
    };
    for r in collect_inventory(&store, &source, t0, &|| true).await {
        assert!(r.error.is_none(), "{r:?}");
    }
    assert_eq!(
        kept(&store),
        [
            ("conditionalAccessBlockedSignIn".into(), "active".into()),
            ("mfaSignInFailure".into(), "resolved".into()),
        ]
    );
    assert_eq!(
        by_id(&store.inventory("sim", microsoft::KIND).unwrap()),
        by_id(&server.inventory().health_alerts),
        "as Graph lists them"
    );
    // Two hours later: the device wave's alert is there, the policy's resolved.
    clock.advance(Duration::hours(2));
    for r in collect_inventory(&store, &source, t0 + Duration::hours(2), &|| true).await {
        assert!(r.error.is_none(), "{r:?}");
    }
    assert_eq!(
        kept(&store),
        [
            ("compliantDeviceSignInFailure".into(), "resolved".into()),
            ("conditionalAccessBlockedSignIn".into(), "resolved".into()),
            ("mfaSignInFailure".into(), "resolved".into()),
        ]
    );
    // Listed by time (created in the range) and state, newest first, marked as Microsoft's.
    let listed = microsoft::alerts(&store, "sim", (t0 - Duration::hours(6), t0), None).unwrap();
    let types: Vec<&str> = listed
        .iter()
        .map(|a| a["alertType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["conditionalAccessBlockedSignIn", "mfaSignInFailure"]
    );
    assert!(listed.iter().all(|a| a["source"] == microsoft::SOURCE));
    let none = microsoft::alerts(
        &store,
        "sim",
        (t0 - Duration::days(1), t0 + Duration::days(1)),
        Some("active"),
    );
    assert!(none.unwrap().is_empty());
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        microsoft::alert(&store, "sim", id).unwrap().unwrap()["alertType"],
        "conditionalAccessBlockedSignIn"
    );
    std::fs::remove_dir_all(&dir).ok();
}
