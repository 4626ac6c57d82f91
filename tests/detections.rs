//! Our detections against the simulated tenant's injected attacks: ten days of its sign-ins and
//! audits, processed day by day (with a one-hour look-back, as a collector's overlap gives) after
//! three days of learning; every injected attack must be found and nothing else reported on the
//! seeded normal traffic. Precision and recall are printed per detection. Then the hard
//! negatives, one by one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::detect::signals::{AuditEvent, SignIn};
use shared::detect::{Detection, History, Incidents, Thresholds, detect};
use shared::model::Category;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;
use shared::simulated::attacks::AttackKind;
use std::collections::{BTreeMap, BTreeSet};

fn rows(
    tenant: &SimulatedTenant,
    category: Category,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<serde_json::Map<String, Value>> {
    tenant
        .records(category, from, to, None)
        .into_iter()
        .map(|r| normalise(category, "t1", &r.json).unwrap().columns)
        .collect()
}

/// The injected attack a detection is named for (None: no attack of that kind is injected).
fn kind_of(name: &str) -> Option<AttackKind> {
    Some(match name {
        "passwordSpray" => AttackKind::PasswordSpray,
        "bruteForce" => AttackKind::BruteForce,
        "impossibleTravel" => AttackKind::ImpossibleTravel,
        "mfaFatigue" => AttackKind::MfaFatigue,
        "disabledAccountSignIn" => AttackKind::DisabledAccount,
        "highPrivilegeConsent" => AttackKind::ConsentGrant,
        "appCredentialAdded" => AttackKind::AppCredentialAdded,
        "privilegedRoleOutsidePim" => AttackKind::RoleOutsidePim,
        _ => return None,
    })
}

#[test]
fn every_injected_attack_is_found_and_normal_traffic_raises_nothing() {
    let tenant = SimulatedTenant::new(5, 200);
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let (days, learning) = (10, 3);
    let thresholds = Thresholds::default();
    let mut history = History::default();
    let mut incidents = Incidents::default();
    let mut found: Vec<Detection> = Vec::new();
    for d in 0..days {
        let from = start + Duration::days(d);
        let to = from + Duration::days(1) - Duration::milliseconds(1);
        let look_back = from - Duration::hours(1);
        let sign_ins: Vec<SignIn> = rows(&tenant, Category::SignInLogs, look_back, to)
            .iter()
            .filter_map(SignIn::from_row)
            .collect();
        let audits: Vec<AuditEvent> = rows(&tenant, Category::AuditLogs, look_back, to)
            .iter()
            .filter_map(AuditEvent::from_row)
            .collect();
        let detections = detect(&sign_ins, &audits, &history, &thresholds);
        let flagged: BTreeSet<String> = detections
            .iter()
            .flat_map(|d| d.record_ids.clone())
            .collect();
        let today: Vec<SignIn> = sign_ins.into_iter().filter(|s| s.time >= from).collect();
        history.learn(&today, &flagged);
        for det in detections {
            if incidents.is_new(&det) && d >= learning {
                found.push(det);
            }
        }
    }
    // Attacks that start in the scored days (and after the first hour, so no look-back
    // reaches into the learning days).
    let scored_from = start + Duration::days(learning);
    let attacks = tenant.attacks(
        scored_from,
        start + Duration::days(days) - Duration::hours(1),
    );
    // A detection is true when its records include an attack's. Named as the attack, it finds
    // that attack (recall); named otherwise it corroborates one (e.g. impossible travel from the
    // place a spray came from) — true, but not counted for that attack. Any other is false.
    let mut per_name: BTreeMap<&str, (usize, usize)> = BTreeMap::new(); // (true, total)
    let mut matched_attacks = BTreeSet::new();
    let mut false_positives = Vec::new();
    let mut corroborating = 0;
    for det in &found {
        let kind = kind_of(det.name);
        let overlaps = |a: &shared::simulated::Attack| {
            a.record_ids.iter().any(|id| det.record_ids.contains(id))
        };
        let hit = attacks
            .iter()
            .position(|a| Some(a.kind) == kind && overlaps(a));
        let e = per_name.entry(det.name).or_default();
        e.1 += 1;
        match hit {
            Some(i) => {
                e.0 += 1;
                matched_attacks.insert(i);
            }
            None if attacks.iter().any(overlaps) => {
                e.0 += 1;
                corroborating += 1;
            }
            None => false_positives.push(det.clone()),
        }
    }
    println!(
        "{:<26} {:>9} {:>9} {:>8}",
        "detection", "precision", "recall", "attacks"
    );
    let mut missed = Vec::new();
    for kind in AttackKind::ALL {
        let of_kind: Vec<usize> = (0..attacks.len())
            .filter(|i| attacks[*i].kind == kind)
            .collect();
        let caught = of_kind
            .iter()
            .filter(|i| matched_attacks.contains(i))
            .count();
        let name = found
            .iter()
            .find(|d| kind_of(d.name) == Some(kind))
            .map(|d| d.name)
            .unwrap_or("(none found)");
        let (tp, total) = per_name.get(name).copied().unwrap_or((0, 0));
        println!(
            "{:<26} {:>9} {:>9} {:>8}",
            format!("{kind:?}"),
            if total == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", tp as f64 / total as f64)
            },
            format!("{:.2}", caught as f64 / of_kind.len().max(1) as f64),
            of_kind.len()
        );
        missed.extend(
            of_kind
                .iter()
                .filter(|i| !matched_attacks.contains(i))
                .map(|i| attacks[*i].clone()),
        );
    }
    println!(
        "{} detections, {corroborating} corroborating another attack's records; attacker network learned: {}",
        found.len(),
        history.tenant_asns.contains(&208_294)
    );
    assert!(
        attacks.len() >= 7 * (days - learning) as usize,
        "{} attacks",
        attacks.len()
    );
    assert!(missed.is_empty(), "missed: {missed:#?}");
    assert!(
        false_positives.is_empty(),
        "false positives: {false_positives:#?}"
    );
    // Evidence a person can check.
    for d in &found {
        assert!(!d.record_ids.is_empty() && !d.evidence.is_empty(), "{d:?}");
    }
}

// ---- Hard negatives and positives, one by one ----

/// A network: address, ASN, coordinates, country.
type Net<'a> = (&'a str, i64, (f64, f64), &'a str);

fn sign_in(id: &str, minute: i64, user: &str, net: Net, result: &str) -> SignIn {
    SignIn {
        id: id.into(),
        time: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + Duration::minutes(minute),
        user: user.into(),
        ip: net.0.into(),
        asn: Some(net.1),
        country: Some(net.3.into()),
        city: None,
        geo: Some(net.2),
        result: result.into(),
        device: "Windows 11 / Edge".into(),
        client_app: "Browser".into(),
    }
}

const LONDON: (f64, f64) = (51.5, -0.12);
const SYDNEY: (f64, f64) = (-33.87, 151.21);

fn history_of(signins: &[SignIn]) -> History {
    let mut h = History::default();
    h.learn(signins, &BTreeSet::new());
    h
}

#[test]
fn a_traveller_behind_the_corporate_vpn_is_not_impossible_travel() {
    let at_home = sign_in(
        "a",
        0,
        "amy@contoso.com",
        ("198.51.100.7", 64500, LONDON, "GB"),
        "0",
    );
    // Half an hour later the VPN's Sydney egress: the user did not move.
    let via_vpn = sign_in(
        "b",
        30,
        "amy@contoso.com",
        ("203.0.113.40", 64501, SYDNEY, "AU"),
        "0",
    );
    let t = Thresholds {
        vpn_egress: vec!["203.0.113.".into()],
        ..Default::default()
    };
    let none = detect(
        &[at_home.clone(), via_vpn.clone()],
        &[],
        &History::default(),
        &t,
    );
    assert!(none.is_empty(), "{none:?}");
    // Without the VPN listed, the same pair is impossible travel.
    let found = detect(
        &[at_home, via_vpn],
        &[],
        &History::default(),
        &Thresholds::default(),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "impossibleTravel");
    assert!(found[0].evidence.contains("km/h"), "{}", found[0].evidence);
    // A real flight is fine: London to Sydney in 22 hours.
    let flight = sign_in(
        "c",
        22 * 60,
        "amy@contoso.com",
        ("1.2.3.4", 64502, SYDNEY, "AU"),
        "0",
    );
    let ok = detect(
        &[
            sign_in(
                "a",
                0,
                "amy@contoso.com",
                ("198.51.100.7", 64500, LONDON, "GB"),
                "0",
            ),
            flight,
        ],
        &[],
        &History::default(),
        &Thresholds::default(),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn a_service_account_failing_from_its_own_host_is_not_brute_force() {
    let user = "svc-backup@contoso.com";
    // Weeks of successes from the backup server's network.
    let learned: Vec<SignIn> = (0..20)
        .map(|i| {
            sign_in(
                &format!("h{i}"),
                -10_000 + i,
                user,
                ("10.0.0.5", 64510, LONDON, "GB"),
                "0",
            )
        })
        .collect();
    let history = history_of(&learned);
    // After a password rotation it fails every minute from the same host.
    let failing: Vec<SignIn> = (0..30)
        .map(|i| {
            sign_in(
                &format!("f{i}"),
                i,
                user,
                ("10.0.0.5", 64510, LONDON, "GB"),
                "50126",
            )
        })
        .collect();
    assert!(detect(&failing, &[], &history, &Thresholds::default()).is_empty());
    // The same failures from a network the account never used are brute force.
    let attack: Vec<SignIn> = (0..8)
        .map(|i| {
            sign_in(
                &format!("x{i}"),
                i,
                user,
                ("185.220.101.9", 208294, (50.1, 8.7), "DE"),
                "50126",
            )
        })
        .collect();
    let found = detect(&attack, &[], &history, &Thresholds::default());
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec!["bruteForce"]
    );
    assert!(
        found[0].evidence.contains("8 failed passwords"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn a_user_on_a_new_phone_at_home_raises_nothing() {
    let user = "ben@contoso.com";
    let learned: Vec<SignIn> = (0..10)
        .map(|i| {
            sign_in(
                &format!("h{i}"),
                -5000 + i,
                user,
                ("198.51.100.9", 64500, LONDON, "GB"),
                "0",
            )
        })
        .collect();
    let history = history_of(&learned);
    let mut phone = sign_in("p", 0, user, ("198.51.100.23", 64500, LONDON, "GB"), "0");
    phone.device = "Ios / Mobile Safari".into();
    // A couple of wrong PINs on the new phone, then success.
    let mut batch: Vec<SignIn> = (0..2)
        .map(|i| {
            sign_in(
                &format!("w{i}"),
                i,
                user,
                ("198.51.100.23", 64500, LONDON, "GB"),
                "50126",
            )
        })
        .collect();
    batch.push(phone);
    assert!(detect(&batch, &[], &history, &Thresholds::default()).is_empty());
}

#[test]
fn mfa_denials_without_a_later_approval_are_not_fatigue() {
    let user = "cara@contoso.com";
    let denials: Vec<SignIn> = (0..5)
        .map(|i| {
            sign_in(
                &format!("d{i}"),
                i,
                user,
                ("198.51.100.9", 64500, LONDON, "GB"),
                "500121",
            )
        })
        .collect();
    assert!(detect(&denials, &[], &History::default(), &Thresholds::default()).is_empty());
    let mut then_ok = denials.clone();
    then_ok.push(sign_in(
        "ok",
        7,
        user,
        ("198.51.100.9", 64500, LONDON, "GB"),
        "0",
    ));
    let found = detect(&then_ok, &[], &History::default(), &Thresholds::default());
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec!["mfaFatigue"]
    );
    assert_eq!(found[0].record_ids.len(), 6);
}

#[test]
fn an_office_behind_one_address_with_a_few_wrong_passwords_is_not_a_spray() {
    // Eight colleagues mistype once each behind the office NAT in half an hour.
    let office: Vec<SignIn> = (0..8)
        .map(|i| {
            sign_in(
                &format!("o{i}"),
                i * 3,
                &format!("user{i}@contoso.com"),
                ("198.51.100.1", 64500, LONDON, "GB"),
                "50126",
            )
        })
        .collect();
    assert!(detect(&office, &[], &History::default(), &Thresholds::default()).is_empty());
    // Twelve users, two tries each, from one hosting address, then one works: a spray.
    let mut spray: Vec<SignIn> = (0..24)
        .map(|i| {
            sign_in(
                &format!("s{i}"),
                i,
                &format!("user{}@contoso.com", i % 12),
                ("45.153.160.7", 208294, (50.1, 8.7), "DE"),
                "50126",
            )
        })
        .collect();
    spray.push(sign_in(
        "win",
        26,
        "user5@contoso.com",
        ("45.153.160.7", 208294, (50.1, 8.7), "DE"),
        "0",
    ));
    let found = detect(&spray, &[], &History::default(), &Thresholds::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].name, found[0].user.as_str(), found[0].risk_level),
        ("passwordSpray", "user5@contoso.com", "high")
    );
}

fn audit(id: &str, operation: &str, targets: Value) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        time: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        operation: operation.into(),
        actor: "admin@contoso.com".into(),
        actor_ip: Some("198.51.100.9".into()),
        targets,
    }
}

#[test]
fn audit_detections_tell_risky_changes_from_routine_ones() {
    let consent = |scope: &str| {
        audit(
            "c",
            "Consent to application",
            json!([{ "type": "ServicePrincipal", "displayName": "Helper", "modifiedProperties": [
            { "displayName": "ConsentContext.IsAdminConsent", "newValue": "\"False\"" },
            { "displayName": "ConsentAction.Permissions", "newValue": format!("\"[] => [[Id: x, ConsentType: Principal, Scope: {scope}]]; \"") }
        ] }]),
        )
    };
    let t = Thresholds::default();
    let risky = detect(
        &[],
        &[consent("Mail.ReadWrite offline_access")],
        &History::default(),
        &t,
    );
    assert_eq!(risky.len(), 1);
    assert!(
        risky[0].evidence.contains("Mail.ReadWrite"),
        "{}",
        risky[0].evidence
    );
    assert!(
        detect(
            &[],
            &[consent("User.Read openid profile")],
            &History::default(),
            &t
        )
        .is_empty()
    );
    let role = |op: &str, role: &str| {
        audit(
            "r",
            op,
            json!([{ "type": "User", "userPrincipalName": "eve@contoso.com" }, { "type": "Role", "displayName": role }]),
        )
    };
    let direct = detect(
        &[],
        &[role("Add member to role", "Global Administrator")],
        &History::default(),
        &t,
    );
    assert_eq!(direct[0].name, "privilegedRoleOutsidePim");
    assert_eq!(direct[0].user, "eve@contoso.com");
    assert!(
        detect(
            &[],
            &[role(
                "Add member to role completed (PIM activation)",
                "Global Administrator"
            )],
            &History::default(),
            &t
        )
        .is_empty()
    );
    assert!(
        detect(
            &[],
            &[role("Add member to role", "Global Reader")],
            &History::default(),
            &t
        )
        .is_empty()
    );
}

#[test]
fn a_success_from_a_new_network_and_country_is_unfamiliar_once_history_exists() {
    let user = "dan@contoso.com";
    let home = ("198.51.100.9", 64500, LONDON, "GB");
    let abroad = ("45.153.160.7", 208294, (50.1, 8.7), "DE");
    let learned: Vec<SignIn> = (0..12)
        .map(|i| sign_in(&format!("h{i}"), -5000 + i, user, home, "0"))
        .collect();
    let t = Thresholds::default();
    let found = detect(
        &[sign_in("x", 0, user, abroad, "0")],
        &[],
        &history_of(&learned),
        &t,
    );
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec!["unfamiliarSignInProperties"]
    );
    assert!(
        found[0].evidence.contains("new network, country"),
        "{}",
        found[0].evidence
    );
    // Too little history: everything is new, nothing is reported.
    let few = history_of(&learned[..3]);
    assert!(detect(&[sign_in("x", 0, user, abroad, "0")], &[], &few, &t).is_empty());
    // A failure from there is not a sign-in from there.
    assert!(
        detect(
            &[sign_in("y", 0, user, abroad, "50126")],
            &[],
            &history_of(&learned),
            &t
        )
        .is_empty()
    );
}

#[test]
fn anonymising_addresses_and_legacy_protocols_are_reported_on_success() {
    let t = Thresholds {
        anonymous_ips: vec!["185.220.101.".into()],
        ..Default::default()
    };
    let tor = ("185.220.101.9", 208294, (50.1, 8.7), "DE");
    let found = detect(
        &[sign_in("a", 0, "eve@contoso.com", tor, "0")],
        &[],
        &History::default(),
        &t,
    );
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec!["anonymousIpAddress"]
    );
    assert!(
        detect(
            &[sign_in("b", 0, "eve@contoso.com", tor, "50126")],
            &[],
            &History::default(),
            &t
        )
        .is_empty()
    );
    let home = ("198.51.100.9", 64500, LONDON, "GB");
    let mut imap = sign_in("c", 0, "fay@contoso.com", home, "0");
    imap.client_app = "IMAP4".into();
    let found = detect(
        &[imap.clone()],
        &[],
        &History::default(),
        &Thresholds::default(),
    );
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec!["legacyAuthentication"]
    );
    imap.result = "50126".into();
    assert!(detect(&[imap], &[], &History::default(), &Thresholds::default()).is_empty());
    assert!(
        detect(
            &[sign_in("d", 0, "fay@contoso.com", home, "0")],
            &[],
            &History::default(),
            &Thresholds::default()
        )
        .is_empty()
    );
}

fn detection_of(name: &'static str, level: &'static str, key: &str) -> Detection {
    Detection {
        name,
        source: "entra-monitor",
        risk_level: level,
        user: "gil@contoso.com".into(),
        ip: Some("45.153.160.7".into()),
        first_seen: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        last_seen: Utc.with_ymd_and_hms(2026, 11, 20, 9, 5, 0).unwrap(),
        record_ids: vec![format!("{key}-r")],
        evidence: "8 failed passwords".into(),
        key: key.into(),
    }
}

/// Alerts go to a local webhook receiver: once per detection, at most the hourly limit, from
/// the minimum level up, in the Slack and Teams shapes; a failed delivery is tried again later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_sent_once_within_the_rate_limit_and_retried_after_a_failure() {
    use shared::config::Secret;
    use shared::detect::alerts::{AlertFormat, AlertReport, AlertSettings, Alerter};
    use std::sync::{Arc, Mutex};
    use warp::Filter;
    let received: Arc<Mutex<Vec<Value>>> = Default::default();
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (r, f) = (received.clone(), failing.clone());
    let hook = warp::post()
        .and(warp::path!("hooks" / String))
        .and(warp::body::json())
        .map(move |_secret: String, body: Value| {
            if f.load(std::sync::atomic::Ordering::SeqCst) {
                return warp::reply::with_status(
                    "busy",
                    warp::http::StatusCode::SERVICE_UNAVAILABLE,
                );
            }
            r.lock().unwrap().push(body);
            warp::reply::with_status("ok", warp::http::StatusCode::OK)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/T000-secret-path",
        listener.local_addr().unwrap()
    );
    tokio::spawn(warp::serve(hook).incoming(listener).run());
    let dir = std::env::temp_dir().join(format!("entra-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = shared::state::SqliteState::open(&dir).unwrap();
    let alerter = |format| {
        Alerter::new(AlertSettings {
            url: Secret::new(url.clone()),
            format,
            min_level: "medium".into(),
            max_per_hour: 2,
        })
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let batch = [
        detection_of("bruteForce", "medium", "k1"),
        detection_of("mfaFatigue", "high", "k2"),
        detection_of("passwordSpray", "high", "k3"),
        detection_of("legacyAuthentication", "low", "k4"),
    ];
    let slack = alerter(AlertFormat::Slack);
    let first = slack.send(&store, "t1", &batch, now).await.unwrap();
    assert_eq!(
        first,
        AlertReport {
            sent: 2,
            below_level: 1,
            suppressed: 1,
            ..Default::default()
        }
    );
    {
        let got = received.lock().unwrap();
        assert!(
            got[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("bruteForce (medium risk) — gil@contoso.com"),
            "{}",
            got[0]
        );
        assert_eq!(got[0]["blocks"][0]["type"], "header");
    }
    // The same detections again: nothing is sent twice, the limit still holds.
    let again = slack.send(&store, "t1", &batch, now).await.unwrap();
    assert_eq!(
        (again.sent, again.already_sent, again.suppressed),
        (0, 2, 1)
    );
    // An hour later the suppressed one goes out — in the Teams shape.
    let teams = alerter(AlertFormat::Teams);
    let later = teams
        .send(&store, "t1", &batch, now + Duration::minutes(61))
        .await
        .unwrap();
    assert_eq!(later.sent, 1);
    let card = received.lock().unwrap().last().unwrap().clone();
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(
        card["attachments"][0]["content"]["body"][0]["text"],
        "passwordSpray (high risk) — gil@contoso.com"
    );
    // A webhook that fails: counted, and tried again next time.
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let generic = alerter(AlertFormat::Generic);
    let late = [detection_of("impossibleTravel", "medium", "k5")];
    let failed = generic
        .send(&store, "t1", &late, now + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(failed.failed, 1);
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let retried = generic
        .send(&store, "t1", &late, now + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(retried.sent, 1);
    assert_eq!(
        received.lock().unwrap().last().unwrap()["detection"]["key"],
        "k5"
    );
    std::fs::remove_dir_all(&dir).ok();
}
