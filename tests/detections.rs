//! Our detections against the simulated tenant's injected attacks: ten days of its sign-ins and
//! audits, processed day by day (with a one-hour look-back, as a collector's overlap gives) after
//! three days of learning; every injected attack must be found and nothing else reported on the
//! seeded normal traffic. Precision and recall are printed per detection. Then the hard
//! negatives, one by one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::detect::run::run_detections;
use shared::detect::signals::{AuditEvent, SignIn};
use shared::detect::{Detection, DetectionKind, History, RiskLevel, Thresholds, detect};
use shared::model::Category;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;
use shared::simulated::attacks::{ANONYMISING_PREFIXES, AttackKind};
use std::collections::{BTreeMap, BTreeSet};

#[path = "support/webhook.rs"]
mod webhook;

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
fn kind_of(name: DetectionKind) -> Option<AttackKind> {
    AttackKind::ALL.into_iter().find(|k| k.detection() == name)
}

/// The default thresholds, with the simulated tenant's privileged groups named (the audit log
/// does not say which groups are).
fn naming_privileged_groups(tenant: &SimulatedTenant) -> Thresholds {
    Thresholds {
        privileged_groups: tenant
            .directory
            .groups
            .iter()
            .filter(|g| g.privileged)
            .map(|g| g.display_name.clone())
            .collect(),
        ..Thresholds::default()
    }
}

/// The thresholds an organisation sets for the simulated tenant: its privileged groups named
/// (the audit log does not say which groups are) and a Tor exit list loaded.
fn organisation_thresholds(tenant: &SimulatedTenant) -> Thresholds {
    Thresholds {
        anonymous_ips: ANONYMISING_PREFIXES.iter().map(|p| p.to_string()).collect(),
        ..naming_privileged_groups(tenant)
    }
}

/// Ten days of the simulated tenant (200 users who travel, ride mobile networks and switch
/// phones; one attack of each of the twelve kinds a day) stored hour by hour as collection
/// brings them, and after each hour the `detect-risks` run itself (`run_detections`: its
/// 2-hour look-back, its first run learning from all but the last day, its incident memory).
/// Scored strictly: a detection is true only when it names records of an attack that warrants
/// a detection of that name (its own kind, or one the attack's records rightly raise too, as
/// `AttackKind::also_warrants` lists), and only the first for that attack and name; a second
/// one is a duplicate, and duplicates, wrong names and detections on normal traffic are all
/// false positives. Every attack must be found by its own kind; there must be no false
/// positive. Precision and recall are printed per kind.
#[test]
fn every_injected_attack_is_found_by_the_detect_risks_run_and_nothing_else() {
    let tenant = SimulatedTenant::new(5, 200);
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let (days, learning) = (10, 3);
    let thresholds = organisation_thresholds(&tenant);
    let dir = std::env::temp_dir().join(format!("entra-detect-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = shared::state::SqliteState::open(&dir).unwrap();
    let mut found: Vec<Detection> = Vec::new();
    let first_run = start + Duration::days(learning);
    for hour in 0..days * 24 {
        let from = start + Duration::hours(hour);
        let to = from + Duration::hours(1) - Duration::milliseconds(1);
        for category in [Category::SignInLogs, Category::AuditLogs] {
            let page: Vec<shared::state::StoredRow> = tenant
                .records(category, from, to, None)
                .into_iter()
                .map(|r| {
                    let row = normalise(category, "t1", &r.json).unwrap();
                    shared::state::StoredRow {
                        id: row.id,
                        time: row.time,
                        columns: row.columns,
                        raw: r.json,
                    }
                })
                .collect();
            store
                .store_page(
                    "t1",
                    category,
                    &page,
                    &shared::state::PageRouting::embedded_only(),
                    Some(to),
                    start,
                    to,
                )
                .unwrap();
        }
        let now = to + Duration::minutes(5);
        if now < first_run {
            continue;
        }
        let report = run_detections(&store, "t1", now, &thresholds).unwrap();
        assert!(!report.waiting, "{report:?}");
        found.extend(report.new_detections);
    }
    // Normal traffic is not kind: people travel abroad, ride mobile networks, use new phones.
    let attack_records: BTreeSet<String> = tenant
        .attacks(start - Duration::days(1), start + Duration::days(days))
        .into_iter()
        .flat_map(|a| a.record_ids)
        .collect();
    let (mut abroad, mut other_network, mut other_device) = (0, 0, 0);
    for r in tenant.records(
        Category::SignInLogs,
        start,
        start + Duration::days(days),
        None,
    ) {
        if attack_records.contains(&r.id) {
            continue;
        }
        let user = tenant
            .directory
            .users
            .iter()
            .find(|u| u.id == r.json["userId"])
            .unwrap();
        let home = &shared::simulated::directory::PLACES[user.home];
        abroad += usize::from(r.json["location"]["countryOrRegion"] != home.country);
        other_network += usize::from(r.json["autonomousSystemNumber"] != home.asn);
        other_device += usize::from(r.json["deviceDetail"]["deviceId"] != user.device.id.as_str());
    }
    println!(
        "normal sign-ins: {abroad} abroad, {other_network} from another network, {other_device} on another device"
    );
    assert!(abroad > 20 && other_network > 100 && other_device > 20);
    // What the first run reported from (it learned from the days before), to the end.
    let scored_from = first_run - Duration::days(1);
    let end = start + Duration::days(days);
    let attacks = tenant.attacks(start - Duration::days(1), end);
    let scored: Vec<usize> = (0..attacks.len())
        .filter(|i| attacks[*i].start >= scored_from + Duration::minutes(30))
        .filter(|i| attacks[*i].start < end - Duration::minutes(30))
        .collect();
    let mut credited: BTreeSet<(usize, DetectionKind)> = BTreeSet::new();
    let mut false_positives: Vec<(String, Detection)> = Vec::new();
    let mut per_name: BTreeMap<DetectionKind, (usize, usize)> = BTreeMap::new(); // (true, total)
    for det in &found {
        let e = per_name.entry(det.name).or_default();
        e.1 += 1;
        let overlapping: Vec<usize> = (0..attacks.len())
            .filter(|i| {
                attacks[*i]
                    .record_ids
                    .iter()
                    .any(|id| det.record_ids.contains(id))
            })
            .collect();
        let warranted = overlapping.iter().copied().find(|i| {
            let k = attacks[*i].kind;
            k.detection() == det.name || k.also_warrants().contains(&det.name)
        });
        match warranted {
            None if overlapping.is_empty() => {
                false_positives.push(("on normal traffic".into(), det.clone()))
            }
            None => false_positives.push((
                format!("wrong kind for {:?}", attacks[overlapping[0]].kind),
                det.clone(),
            )),
            Some(i) if !credited.insert((i, det.name)) => {
                false_positives.push((format!("duplicate for {:?}", attacks[i].kind), det.clone()))
            }
            Some(_) => e.0 += 1,
        }
    }
    println!(
        "{:<26} {:>9} {:>9} {:>8}",
        "kind", "precision", "recall", "attacks"
    );
    let mut missed = Vec::new();
    for kind in AttackKind::ALL {
        let of_kind: Vec<usize> = scored
            .iter()
            .copied()
            .filter(|i| attacks[*i].kind == kind)
            .collect();
        let caught = of_kind
            .iter()
            .filter(|i| credited.contains(&(**i, kind.detection())))
            .count();
        let (tp, total) = per_name.get(&kind.detection()).copied().unwrap_or((0, 0));
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
                .filter(|i| !credited.contains(&(**i, kind.detection())))
                .map(|i| attacks[*i].clone()),
        );
    }
    let also = credited
        .iter()
        .filter(|(i, name)| attacks[*i].kind.detection() != *name)
        .count();
    println!(
        "{} detections: {} of attacks' own kinds, {also} warranted by an attack's records, {} false",
        found.len(),
        credited.len() - also,
        false_positives.len()
    );
    assert!(
        scored.len() >= AttackKind::ALL.len() * (days - learning + 1) as usize - 3,
        "{} attacks scored",
        scored.len()
    );
    assert!(missed.is_empty(), "missed: {missed:#?}");
    assert!(
        false_positives.is_empty(),
        "false positives: {false_positives:#?}"
    );
    for d in &found {
        assert!(!d.record_ids.is_empty() && !d.evidence.is_empty(), "{d:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh install's first run: a day of the default simulated tenant (seed 1, 300 users, as
/// `serve` with no configuration backfills) with nothing learned, on seven days of different
/// weekdays and start hours: every attack of the day is found by its kind, and every detection
/// names an attack's records — nothing from normal traffic (issue 19: the office network was
/// taken for a stranger's when nothing was learned).
#[test]
fn a_first_day_with_nothing_learned_finds_the_attacks_and_nothing_else() {
    let tenant = SimulatedTenant::new(1, 300);
    let thresholds = organisation_thresholds(&tenant);
    let first = Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
    for day in 0..7 {
        // Windows ending at different hours, as a first `serve` starts at any time.
        let to = first + Duration::days(day) + Duration::hours(5 + 3 * day);
        let from = to - Duration::hours(24);
        let sign_ins: Vec<SignIn> = rows(&tenant, Category::SignInLogs, from, to)
            .iter()
            .filter_map(SignIn::from_row)
            .collect();
        let audits: Vec<AuditEvent> = rows(&tenant, Category::AuditLogs, from, to)
            .iter()
            .filter_map(AuditEvent::from_row)
            .collect();
        let found = detect(&sign_ins, &audits, &History::default(), &thresholds);
        let attacks = tenant.attacks(from, to);
        for d in &found {
            assert!(
                attacks.iter().any(|a| {
                    (a.kind.detection() == d.name || a.kind.also_warrants().contains(&d.name))
                        && a.record_ids.iter().any(|id| d.record_ids.contains(id))
                }),
                "window ending {to}: a detection no attack warrants: {d:#?}"
            );
        }
        // Unfamiliar properties need the user's history, which a first day does not have.
        let inside = tenant.attacks(from + Duration::minutes(30), to - Duration::minutes(30));
        for a in inside
            .iter()
            .filter(|a| a.kind != AttackKind::UnfamiliarSignIn)
        {
            assert!(
                found.iter().any(|d| kind_of(d.name) == Some(a.kind)
                    && a.record_ids.iter().any(|id| d.record_ids.contains(id))),
                "window ending {to}: {:?} at {} missed",
                a.kind,
                a.start
            );
        }
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
    assert_eq!(found[0].name, DetectionKind::ImpossibleTravel);
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
        vec![DetectionKind::BruteForce]
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
        vec![DetectionKind::MfaFatigue]
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
        (
            DetectionKind::PasswordSpray,
            "user5@contoso.com",
            RiskLevel::High
        )
    );
}

fn audit(id: &str, operation: &str, targets: Value) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        time: Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap(),
        operation: operation.into(),
        actor: "admin@contoso.com".into(),
        actor_app_id: None,
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
    // The consent is about an app: the detection names its service principal.
    let app = risky[0].service_principal.as_ref().unwrap();
    assert_eq!(
        (app.kind.as_str(), app.display_name.as_str()),
        ("ServicePrincipal", "Helper")
    );
    // So is a credential added, with the key ids the event names.
    let added = detect(
        &[],
        &[audit(
            "k",
            "Update application – Certificates and secrets management ",
            json!([{ "id": "app-object-1", "type": "Application", "displayName": "crm-connector", "modifiedProperties": [
                { "displayName": "KeyDescription", "oldValue": "[]", "newValue": "[\"[KeyIdentifier=5b1c,KeyType=Password,KeyUsage=Verify,DisplayName=backup]\", \"[KeyIdentifier=77aa,KeyType=AsymmetricX509Cert,KeyUsage=Verify,DisplayName=cert]\"]" }
            ] }]),
        )],
        &History::default(),
        &t,
    );
    assert_eq!(added[0].name, DetectionKind::AppCredentialAdded);
    let app = added[0].service_principal.as_ref().unwrap();
    assert_eq!(app.kind, "Application");
    assert_eq!(app.id, "app-object-1");
    assert_eq!(app.key_ids, ["5b1c", "77aa"]);
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
    assert_eq!(direct[0].name, DetectionKind::PrivilegedRoleOutsidePim);
    assert_eq!(direct[0].user, "eve@contoso.com");
    // A detection about a user names no app.
    assert!(direct[0].service_principal.is_none());
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
fn direct_additions_to_privileged_groups_are_detected_and_pim_activations_are_not() {
    let t = Thresholds {
        privileged_groups: vec![
            "Tier0 Admins".into(),
            "5e1c0000-0000-0000-0000-00000000a11d".into(),
        ],
        ..Thresholds::default()
    };
    let add = |op: &str, group: &str, id: &str| {
        audit(
            "g",
            op,
            json!([{ "type": "User", "userPrincipalName": "mallory@contoso.com" }, { "type": "Group", "id": id, "displayName": group }]),
        )
    };
    let by_name = detect(
        &[],
        &[add("Add member to group", "tier0 admins", "x")],
        &History::default(),
        &t,
    );
    assert_eq!(by_name.len(), 1);
    assert_eq!(
        (by_name[0].name, by_name[0].user.as_str()),
        (
            DetectionKind::PrivilegedGroupMemberOutsidePim,
            "mallory@contoso.com"
        )
    );
    assert!(
        by_name[0].evidence.contains("tier0 admins"),
        "{}",
        by_name[0].evidence
    );
    // Named by object id; an owner added is a detection too.
    let owner = detect(
        &[],
        &[add(
            "Add owner to group",
            "Renamed",
            "5e1c0000-0000-0000-0000-00000000a11d",
        )],
        &History::default(),
        &t,
    );
    assert!(
        owner[0].evidence.contains("an owner of"),
        "{}",
        owner[0].evidence
    );
    // PIM for Groups activations, ordinary groups, and the membership PIM's own service
    // principal writes after an activation are not.
    for quiet in [
        add(
            "Add member to group completed (PIM activation)",
            "Tier0 Admins",
            "x",
        ),
        add("Add member to group", "Sales", "y"),
        AuditEvent {
            actor: "MS-PIM".into(),
            actor_app_id: Some("01fc33a7-78ba-4d2f-a4b7-768e336e890e".into()),
            actor_ip: None,
            ..add("Add member to group", "Tier0 Admins", "x")
        },
    ] {
        assert!(
            detect(&[], std::slice::from_ref(&quiet), &History::default(), &t).is_empty(),
            "{quiet:?}"
        );
    }
    // With no privileged group named, nothing is.
    assert!(
        detect(
            &[],
            &[add("Add member to group", "Tier0 Admins", "x")],
            &History::default(),
            &Thresholds::default()
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
    let stranger = |id: &str| {
        let mut s = sign_in(id, 0, user, abroad, "0");
        s.device = "Linux / Firefox 128.0".into();
        s
    };
    let found = detect(&[stranger("x")], &[], &history_of(&learned), &t);
    assert_eq!(
        found.iter().map(|d| d.name).collect::<Vec<_>>(),
        vec![DetectionKind::UnfamiliarSignInProperties]
    );
    assert!(
        found[0].evidence.contains("new network, country, device"),
        "{}",
        found[0].evidence
    );
    // The user abroad on their own laptop (a trip): new network and country, known device.
    assert!(
        detect(
            &[sign_in("t", 0, user, abroad, "0")],
            &[],
            &history_of(&learned),
            &t
        )
        .is_empty()
    );
    // Too little history: everything is new, nothing is reported.
    let few = history_of(&learned[..3]);
    assert!(detect(&[stranger("x")], &[], &few, &t).is_empty());
    // A failure from there is not a sign-in from there.
    let mut failed = stranger("y");
    failed.result = "50126".into();
    assert!(detect(&[failed], &[], &history_of(&learned), &t).is_empty());
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
        vec![DetectionKind::AnonymousIpAddress]
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
        vec![DetectionKind::LegacyAuthentication]
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

fn detection_of(name: DetectionKind, level: RiskLevel, key: &str) -> Detection {
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
        service_principal: None,
    }
}

/// Alerts go to a local webhook receiver: once per detection, at most the hourly limit, from
/// the minimum level up, in the Slack and Teams shapes; a failed delivery is tried again later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_sent_once_within_the_rate_limit_and_retried_after_a_failure() {
    use shared::config::Secret;
    use shared::detect::alerts::{AlertFormat, AlertReport, AlertSettings, Alerter};
    let (url, received, failing) = webhook::receiver().await;
    let dir = std::env::temp_dir().join(format!("entra-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = shared::state::SqliteState::open(&dir).unwrap();
    let alerter = |format| {
        Alerter::new(AlertSettings {
            url: Secret::new(url.clone()),
            format,
            min_level: RiskLevel::Medium,
            max_per_hour: 2,
        })
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let batch = [
        detection_of(DetectionKind::BruteForce, RiskLevel::Medium, "k1"),
        detection_of(DetectionKind::MfaFatigue, RiskLevel::High, "k2"),
        detection_of(DetectionKind::PasswordSpray, RiskLevel::High, "k3"),
        detection_of(DetectionKind::LegacyAuthentication, RiskLevel::Low, "k4"),
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
    let late = [detection_of(
        DetectionKind::ImpossibleTravel,
        RiskLevel::Medium,
        "k5",
    )];
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

// ---- Published sample events with a known label (tests/fixtures/labelled/README.md) ----

fn fixture(path: &str) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    serde_json::from_str(&std::fs::read_to_string(dir.join(path)).unwrap()).unwrap()
}

/// A diagnostic-settings record's Graph event as a row of the category's table.
fn exported(path: &str, category: Category) -> serde_json::Map<String, Value> {
    normalise(category, "t1", &fixture(path)["properties"])
        .unwrap()
        .columns
}

#[test]
fn published_samples_are_classified_as_labelled() {
    let t = Thresholds::default();
    let none = History::default();
    // Entra rotating a managed identity's certificate is not an app credential added.
    let rotation = AuditEvent::from_row(&exported(
        "labelled/msi-certificate-rotation.json",
        Category::AuditLogs,
    ))
    .unwrap();
    assert_eq!(rotation.operation, "Add service principal credentials");
    assert!(detect(&[], std::slice::from_ref(&rotation), &none, &t).is_empty());
    // ... while the same change made by a person is.
    let by_person = AuditEvent {
        actor: "eve@contoso.com".into(),
        ..rotation
    };
    let found = detect(&[], &[by_person], &none, &t);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, DetectionKind::AppCredentialAdded);
    assert!(
        found[0].evidence.contains("billing-test-wus"),
        "{}",
        found[0].evidence
    );

    // A successful browser sign-in to the portal raises nothing.
    let portal = SignIn::from_row(&exported(
        "labelled/portal-sign-in.json",
        Category::SignInLogs,
    ))
    .unwrap();
    assert_eq!(
        (portal.result.as_str(), portal.client_app.as_str()),
        ("0", "Browser")
    );
    assert!(detect(&[portal], &[], &none, &t).is_empty());

    // A burst of "Keep me signed in" interrupts (error 50140) is not brute force; the same burst
    // of wrong passwords (50126) is.
    let kmsi = SignIn::from_row(&exported(
        "labelled/keep-me-signed-in-interrupt.json",
        Category::SignInLogs,
    ))
    .unwrap();
    assert_eq!(kmsi.result, "50140");
    let burst = |code: &str| -> Vec<SignIn> {
        (0..10)
            .map(|i| SignIn {
                id: format!("kmsi-{i}"),
                time: kmsi.time + Duration::seconds(20 * i),
                result: code.into(),
                ..kmsi.clone()
            })
            .collect()
    };
    assert!(detect(&burst("50140"), &[], &none, &t).is_empty());
    let wrong = detect(&burst("50126"), &[], &none, &t);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert_eq!(
        (wrong[0].name, wrong[0].user.as_str()),
        (DetectionKind::BruteForce, "test@elastic.co")
    );

    // Graph's published "Add member to group": a detection exactly when the group is named
    // privileged.
    let published = fixture("graph/directoryaudits-list.json")["value"][0].clone();
    let add = AuditEvent::from_row(
        &normalise(Category::AuditLogs, "t1", &published)
            .unwrap()
            .columns,
    )
    .unwrap();
    assert!(detect(&[], std::slice::from_ref(&add), &none, &t).is_empty());
    let named = Thresholds {
        privileged_groups: vec!["Example.com".into()],
        ..Thresholds::default()
    };
    let found = detect(&[], &[add], &none, &named);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].name, found[0].user.as_str()),
        (
            DetectionKind::PrivilegedGroupMemberOutsidePim,
            "bob@contoso.com"
        )
    );

    // Microsoft's published detection, already remediated, enters the model with source
    // Microsoft and leaves the user remediated, not at risk.
    let dir = std::env::temp_dir().join(format!("entra-labelled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = shared::state::SqliteState::open(&dir).unwrap();
    let rows: Vec<shared::state::StoredRow> = fixture("graph/riskdetections-list.json")["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let row = normalise(Category::UserRiskEvents, "t1", r).unwrap();
            shared::state::StoredRow {
                id: row.id,
                time: row.time,
                columns: row.columns,
                raw: r.clone(),
            }
        })
        .collect();
    let at = Utc.with_ymd_and_hms(2018, 9, 6, 0, 0, 0).unwrap();
    store
        .store_page(
            "t1",
            Category::UserRiskEvents,
            &rows,
            &shared::state::PageRouting::embedded_only(),
            None,
            at - Duration::days(1),
            at,
        )
        .unwrap();
    let microsoft = store
        .microsoft_detections("t1", at - Duration::days(2), at)
        .unwrap();
    assert_eq!(microsoft.len(), 1);
    assert_eq!(
        (&microsoft[0][0], &microsoft[0][1], &microsoft[0][2]),
        (
            &json!("Microsoft"),
            &json!("unfamiliarFeatures"),
            &json!("medium")
        )
    );
    let users = shared::detect::risky::current(&store, "t1", at, Duration::days(30)).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].user.as_str(), users[0].state, users[0].level),
        ("olack@adatum.com", "remediated", RiskLevel::None)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leavers_phone_still_trying_from_home_is_not_a_disabled_account_attack() {
    let user = "leaver@contoso.com";
    let home = ("198.51.100.40", 64500, LONDON, "GB");
    let learned: Vec<SignIn> = (0..10)
        .map(|i| sign_in(&format!("h{i}"), -5000 + i, user, home, "0"))
        .collect();
    let history = history_of(&learned);
    let t = Thresholds::default();
    // The account was disabled; the phone's mail app keeps trying from home.
    let phone: Vec<SignIn> = (0..6)
        .map(|i| sign_in(&format!("d{i}"), i * 10, user, home, "50057"))
        .collect();
    assert!(detect(&phone, &[], &history, &t).is_empty());
    // The same attempts from a hosting network nobody in the organisation uses are.
    let attacker = ("203.0.113.77", 208_294, (50.11, 8.68), "DE");
    let foreign: Vec<SignIn> = (0..3)
        .map(|i| sign_in(&format!("x{i}"), i, user, attacker, "50057"))
        .collect();
    let found = detect(&foreign, &[], &history, &t);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].name, found[0].ip.as_deref()),
        (DetectionKind::DisabledAccountSignIn, Some("203.0.113.77"))
    );
}
