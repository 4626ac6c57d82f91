//! Attacks injected into the simulated tenant, one of each kind per UTC day at a seeded time,
//! with their ground truth ([`Attack`]): which kind, when, against whom, from where, and the ids
//! of the records that make it up. Detections are tested against this truth.

use super::directory::{Directory, PLACES, ROLES, guid_from};
use super::record::{SimRecord, delay_for};
use super::sign_ins::user_sign_in;
use crate::clock::Timestamp;
use crate::detect::DetectionKind;
use crate::model::Category;
use chrono::{DateTime, Duration, DurationRound, Utc};
use fastrand::Rng;
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttackKind {
    /// One source tries a password against many users, then one user's succeeds.
    PasswordSpray,
    /// Many failed passwords against one user from one source.
    BruteForce,
    /// Two successful sign-ins of one user from places too far apart for the time between them.
    ImpossibleTravel,
    /// Repeated MFA prompts denied or ignored, then one approved.
    MfaFatigue,
    /// Sign-in attempts on a disabled account.
    DisabledAccount,
    /// A user consents to an app asking for high-privilege permissions.
    ConsentGrant,
    /// A new secret added to an application.
    AppCredentialAdded,
    /// Global Administrator assigned directly, not through PIM.
    RoleOutsidePim,
    /// A user added directly to a privileged group (one PIM for Groups manages).
    GroupOutsidePim,
    /// A stolen password used from a network, country and device the user never used.
    UnfamiliarSignIn,
    /// A successful sign-in from an anonymising network (a Tor exit).
    AnonymousIp,
    /// Mail read over a legacy protocol (IMAP4) with a stolen password, which bypasses MFA.
    LegacyAuthentication,
}

impl AttackKind {
    pub const ALL: [AttackKind; 12] = [
        AttackKind::PasswordSpray,
        AttackKind::BruteForce,
        AttackKind::ImpossibleTravel,
        AttackKind::MfaFatigue,
        AttackKind::DisabledAccount,
        AttackKind::ConsentGrant,
        AttackKind::AppCredentialAdded,
        AttackKind::RoleOutsidePim,
        AttackKind::GroupOutsidePim,
        AttackKind::UnfamiliarSignIn,
        AttackKind::AnonymousIp,
        AttackKind::LegacyAuthentication,
    ];

    /// The detection that finds this attack.
    pub fn detection(self) -> DetectionKind {
        match self {
            AttackKind::PasswordSpray => DetectionKind::PasswordSpray,
            AttackKind::BruteForce => DetectionKind::BruteForce,
            AttackKind::ImpossibleTravel => DetectionKind::ImpossibleTravel,
            AttackKind::MfaFatigue => DetectionKind::MfaFatigue,
            AttackKind::DisabledAccount => DetectionKind::DisabledAccountSignIn,
            AttackKind::ConsentGrant => DetectionKind::HighPrivilegeConsent,
            AttackKind::AppCredentialAdded => DetectionKind::AppCredentialAdded,
            AttackKind::RoleOutsidePim => DetectionKind::PrivilegedRoleOutsidePim,
            AttackKind::GroupOutsidePim => DetectionKind::PrivilegedGroupMemberOutsidePim,
            AttackKind::UnfamiliarSignIn => DetectionKind::UnfamiliarSignInProperties,
            AttackKind::AnonymousIp => DetectionKind::AnonymousIpAddress,
            AttackKind::LegacyAuthentication => DetectionKind::LegacyAuthentication,
        }
    }

    /// Other detections this attack rightly raises besides its own: a success from the
    /// attacker's network is also unfamiliar to the user (new network, country and device),
    /// from a Tor exit anonymous, and soon after the user's own sign-in far away, impossible
    /// travel. A detection of another kind on an attack's records is a false positive.
    pub fn also_warrants(self) -> &'static [DetectionKind] {
        use DetectionKind::{AnonymousIpAddress, ImpossibleTravel, UnfamiliarSignInProperties};
        match self {
            AttackKind::PasswordSpray
            | AttackKind::MfaFatigue
            | AttackKind::LegacyAuthentication => &[
                UnfamiliarSignInProperties,
                AnonymousIpAddress,
                ImpossibleTravel,
            ],
            AttackKind::ImpossibleTravel => &[UnfamiliarSignInProperties],
            AttackKind::UnfamiliarSignIn => &[ImpossibleTravel],
            AttackKind::AnonymousIp => &[UnfamiliarSignInProperties, ImpossibleTravel],
            _ => &[],
        }
    }

    /// Audit events, not sign-ins, carry the attack.
    fn category(self) -> Category {
        if self.detection().from_audit() {
            Category::AuditLogs
        } else {
            Category::SignInLogs
        }
    }

    /// How many minutes the attack lasts.
    fn minutes(self) -> i64 {
        match self {
            AttackKind::PasswordSpray => 11,
            AttackKind::BruteForce => 5,
            AttackKind::ImpossibleTravel => 21,
            AttackKind::MfaFatigue => 10,
            AttackKind::DisabledAccount => 3,
            AttackKind::LegacyAuthentication => 3,
            _ => 1,
        }
    }
}

/// The ground truth of one injected attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attack {
    pub kind: AttackKind,
    pub start: DateTime<Utc>,
    /// The user attacked (for a spray, the one whose password succeeded).
    pub user_principal_name: String,
    /// The attacker's address (for impossible travel, the far one).
    pub ip_address: String,
    pub record_ids: Vec<String>,
}

/// The attack sources: anonymising exit nodes and hosting ranges (documentation ranges).
const ATTACKER_IPS: &[&str] = &["185.220.101.", "45.153.160.", "193.189.100."];

/// Tor exit ranges, as an organisation's anonymising-address list would hold them (the
/// `anonymousIp` attack comes from the second).
pub const ANONYMISING_PREFIXES: &[&str] = &["185.220.101.", "104.244.72."];

/// Where an unfamiliar sign-in comes from: a residential network abroad.
const UNFAMILIAR: (&str, i64, &str, &str, f64, f64) =
    ("95.173.136.", 8359, "Moscow", "RU", 55.76, 37.62);

struct Plan {
    kind: AttackKind,
    start: DateTime<Utc>,
    victims: Vec<usize>,
    ip: String,
    seed: u64,
}

fn plans(seed: u64, dir: &Directory, day: DateTime<Utc>) -> Vec<Plan> {
    let index = day.timestamp().div_euclid(86_400) as u64;
    let mut rng = Rng::with_seed(seed ^ 0x0A77_ACC5 ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let users = dir.users.len();
    if !dir.attacks {
        return Vec::new();
    }
    AttackKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let start = day + Duration::minutes(rng.i64(0..(1440 - kind.minutes())));
            let ip = format!(
                "{}{}",
                ATTACKER_IPS[rng.usize(..ATTACKER_IPS.len())],
                rng.u8(2..250)
            );
            let victims = match kind {
                AttackKind::PasswordSpray => {
                    (0..30.min(users)).map(|_| rng.usize(..users)).collect()
                }
                AttackKind::DisabledAccount => {
                    let disabled: Vec<usize> = (0..users)
                        .filter(|i| !dir.users[*i].account_enabled)
                        .collect();
                    if disabled.is_empty() {
                        return None;
                    }
                    vec![disabled[rng.usize(..disabled.len())]]
                }
                AttackKind::UnfamiliarSignIn
                | AttackKind::AnonymousIp
                | AttackKind::LegacyAuthentication => {
                    // A member who signs in: the stolen password works.
                    let members: Vec<usize> = (0..users)
                        .filter(|i| dir.users[*i].account_enabled && !dir.users[*i].is_guest)
                        .collect();
                    if members.is_empty() {
                        return None;
                    }
                    vec![members[rng.usize(..members.len())]]
                }
                _ => vec![rng.usize(..users)],
            };
            Some(Plan {
                kind,
                start,
                victims,
                ip,
                seed: rng.u64(..),
            })
        })
        .collect()
}

/// The attack records of `category` in the minute starting at `minute_start`.
pub fn minute_records(
    seed: u64,
    dir: &Directory,
    category: Category,
    minute_start: DateTime<Utc>,
) -> Vec<SimRecord> {
    if category != Category::SignInLogs && category != Category::AuditLogs {
        return Vec::new();
    }
    let day = minute_start
        .duration_trunc(Duration::days(1))
        .unwrap_or(minute_start);
    let mut out = Vec::new();
    // An attack that started late the previous day may run past midnight.
    for d in [day - Duration::days(1), day] {
        for plan in plans(seed, dir, d)
            .into_iter()
            .filter(|p| p.kind.category() == category)
        {
            let offset = (minute_start
                - plan
                    .start
                    .duration_trunc(Duration::minutes(1))
                    .unwrap_or(plan.start))
            .num_minutes();
            if (0..plan.kind.minutes()).contains(&offset) {
                out.extend(records(&plan, dir, offset, minute_start));
            }
        }
    }
    out
}

fn records(
    plan: &Plan,
    dir: &Directory,
    offset: i64,
    minute_start: DateTime<Utc>,
) -> Vec<SimRecord> {
    let mut rng = Rng::with_seed(plan.seed ^ (offset as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut out = Vec::new();
    let mut sign_in = |rng: &mut Rng,
                       user: usize,
                       code: i64,
                       reason: &str,
                       ip: Option<&str>,
                       place: Option<usize>| {
        let attempt = Attempt {
            user,
            code,
            reason,
            ip,
            place,
        };
        out.push(attack_sign_in(plan, dir, rng, minute_start, &attempt));
    };
    let bad_password = "Error validating credentials due to invalid username or password.";
    match plan.kind {
        AttackKind::PasswordSpray => {
            if offset < 10 {
                for v in plan.victims.iter().skip(offset as usize * 3).take(3) {
                    sign_in(&mut rng, *v, 50126, bad_password, Some(&plan.ip), None);
                }
            } else {
                sign_in(
                    &mut rng,
                    plan.victims[plan.victims.len() / 2],
                    0,
                    "Other.",
                    Some(&plan.ip),
                    None,
                );
            }
        }
        AttackKind::BruteForce => {
            for _ in 0..8 {
                sign_in(
                    &mut rng,
                    plan.victims[0],
                    50126,
                    bad_password,
                    Some(&plan.ip),
                    None,
                );
            }
        }
        AttackKind::ImpossibleTravel => {
            let user = plan.victims[0];
            let home = dir.users[user].home;
            if offset == 0 {
                sign_in(&mut rng, user, 0, "Other.", None, Some(home));
            } else if offset == 20 {
                sign_in(&mut rng, user, 0, "Other.", None, Some(farthest(home)));
            }
        }
        AttackKind::MfaFatigue => {
            let (code, reason) = if offset < 9 {
                (
                    500121,
                    "Authentication failed during strong authentication request.",
                )
            } else {
                (0, "Other.")
            };
            sign_in(
                &mut rng,
                plan.victims[0],
                code,
                reason,
                Some(&plan.ip),
                None,
            );
        }
        AttackKind::DisabledAccount => {
            sign_in(
                &mut rng,
                plan.victims[0],
                50057,
                "User account is disabled.",
                Some(&plan.ip),
                None,
            );
        }
        AttackKind::UnfamiliarSignIn | AttackKind::AnonymousIp => {
            let prefix = if plan.kind == AttackKind::UnfamiliarSignIn {
                UNFAMILIAR.0
            } else {
                ANONYMISING_PREFIXES[1]
            };
            let octet = plan.ip.rsplit('.').next().unwrap_or("7");
            let ip = format!("{prefix}{octet}");
            sign_in(&mut rng, plan.victims[0], 0, "Other.", Some(&ip), None);
        }
        AttackKind::LegacyAuthentication => {
            sign_in(&mut rng, plan.victims[0], 0, "Other.", Some(&plan.ip), None);
        }
        AttackKind::ConsentGrant
        | AttackKind::AppCredentialAdded
        | AttackKind::RoleOutsidePim
        | AttackKind::GroupOutsidePim => {
            out.push(attack_audit(plan, dir, &mut rng, minute_start));
        }
    }
    out
}

/// One of an attack's sign-ins: whose, with what result, from the attacker's address or from
/// a place.
struct Attempt<'a> {
    user: usize,
    code: i64,
    reason: &'a str,
    ip: Option<&'a str>,
    place: Option<usize>,
}

fn attack_sign_in(
    plan: &Plan,
    dir: &Directory,
    rng: &mut Rng,
    minute_start: DateTime<Utc>,
    a: &Attempt,
) -> SimRecord {
    let (user, code, reason, ip, place) = (a.user, a.code, a.reason, a.ip, a.place);
    let t = minute_start + Duration::milliseconds(rng.i64(0..60_000));
    let mut json = user_sign_in(rng, dir, &dir.users[user], t, true);
    json["status"] =
        json!({ "errorCode": code, "failureReason": reason, "additionalDetails": null });
    if let Some(ip) = ip {
        json["ipAddress"] = json!(ip);
        json["autonomousSystemNumber"] = json!(208_294);
        json["location"] = json!({ "city": "Frankfurt am Main", "state": "Hessen", "countryOrRegion": "DE", "geoCoordinates": { "altitude": null, "latitude": 50.11, "longitude": 8.68 } });
        json["userAgent"] = json!("python-requests/2.31");
        if code == 0 {
            // Identity Protection (P2) rates a success from an anonymising network.
            json["riskLevelDuringSignIn"] = json!("medium");
            json["riskState"] = json!("atRisk");
            json["riskEventTypes"] = json!(["anonymizedIPAddress"]);
            json["riskEventTypes_v2"] = json!(["anonymizedIPAddress"]);
        }
    }
    if let Some(p) = place {
        let place = &PLACES[p];
        json["ipAddress"] = json!(format!("{}.{}", place.ip_prefix, rng.u8(2..250)));
        json["location"] = json!({ "city": place.city, "state": place.state, "countryOrRegion": place.country, "geoCoordinates": { "altitude": null, "latitude": place.latitude, "longitude": place.longitude } });
    }
    if ip.is_some() {
        // The attacker's machine, not the user's device.
        json["deviceDetail"] = json!({ "deviceId": "", "displayName": "", "operatingSystem": "Linux",
            "browser": "Python Requests 2.31", "isCompliant": false, "isManaged": false, "trustType": "" });
    }
    match plan.kind {
        AttackKind::UnfamiliarSignIn => {
            let (_, asn, city, country, latitude, longitude) = UNFAMILIAR;
            json["riskEventTypes"] = json!(["unfamiliarFeatures"]);
            json["riskEventTypes_v2"] = json!(["unfamiliarFeatures"]);
            json["autonomousSystemNumber"] = json!(asn);
            json["location"] = json!({ "city": city, "state": null, "countryOrRegion": country, "geoCoordinates": { "altitude": null, "latitude": latitude, "longitude": longitude } });
            json["userAgent"] =
                json!("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
            json["deviceDetail"]["browser"] = json!("Firefox 128.0");
        }
        AttackKind::LegacyAuthentication => {
            json["clientAppUsed"] = json!("IMAP4");
            json["userAgent"] = json!("");
            json["authenticationDetails"] = json!([]);
            json["authenticationRequirement"] = json!("singleFactorAuthentication");
        }
        _ => {}
    }
    // The Conditional Access and authentication details follow what the attack changed.
    super::details::complete(&mut json, dir);
    let id = json["id"].as_str().unwrap_or_default().to_string();
    SimRecord {
        category: Category::SignInLogs,
        id,
        time: t,
        visible_at: t + delay_for(rng, Category::SignInLogs),
        json,
        revision: None,
    }
}

/// The audit event of an attack on the directory (a consent, a credential, a role or group).
fn attack_audit(
    plan: &Plan,
    dir: &Directory,
    rng: &mut Rng,
    minute_start: DateTime<Utc>,
) -> SimRecord {
    let t = minute_start + Duration::milliseconds(rng.i64(0..60_000));
    let actor = &dir.users[plan.victims[0]];
    let id = format!("Directory_{}", guid_from(rng.u128(..)).to_uppercase());
    let initiated = json!({ "user": { "id": actor.id, "displayName": null, "userPrincipalName": actor.user_principal_name, "ipAddress": plan.ip, "userType": null, "homeTenantId": null, "homeTenantName": null }, "app": null });
    let app_id = guid_from(rng.u128(..));
    let (category, activity, operation, targets) = match plan.kind {
        AttackKind::ConsentGrant => (
            "ApplicationManagement",
            "Consent to application",
            "Assign",
            json!([{ "id": app_id, "displayName": "Mail Backup Pro", "type": "ServicePrincipal", "userPrincipalName": null, "groupType": null,
            "modifiedProperties": [
                { "displayName": "ConsentContext.IsAdminConsent", "oldValue": null, "newValue": "\"False\"" },
                { "displayName": "ConsentAction.Permissions", "oldValue": null, "newValue": "\"[] => [[Id: x, ClientId: x, PrincipalId: x, ResourceId: x, ConsentType: Principal, Scope: Mail.ReadWrite Files.ReadWrite.All offline_access User.Read]]; \"" }
            ] }]),
        ),
        AttackKind::AppCredentialAdded => (
            "ApplicationManagement",
            "Update application – Certificates and secrets management ",
            "Update",
            json!([{ "id": app_id, "displayName": "crm-connector", "type": "Application", "userPrincipalName": null, "groupType": null,
            "modifiedProperties": [{ "displayName": "KeyDescription", "oldValue": "[]", "newValue": "[\"[KeyIdentifier=5b1c,KeyType=Password,KeyUsage=Verify,DisplayName=backup]\"]" }] }]),
        ),
        AttackKind::GroupOutsidePim => {
            let group = dir
                .groups
                .iter()
                .rfind(|g| g.privileged)
                .unwrap_or(&dir.groups[0]);
            let target = &dir.users[(plan.victims[0] + 1) % dir.users.len()];
            (
                "GroupManagement",
                "Add member to group",
                "Assign",
                json!([
                    { "id": target.id, "displayName": null, "type": "User", "userPrincipalName": target.user_principal_name, "groupType": null, "modifiedProperties": [] },
                    { "id": group.id, "displayName": group.display_name, "type": "Group", "userPrincipalName": null, "groupType": null,
                      "modifiedProperties": [{ "displayName": "Group.DisplayName", "oldValue": null, "newValue": format!("\"{}\"", group.display_name) }] }
                ]),
            )
        }
        _ => {
            let role = &ROLES[0];
            let target = &dir.users[(plan.victims[0] + 1) % dir.users.len()];
            (
                "RoleManagement",
                "Add member to role",
                "Assign",
                json!([
                    { "id": target.id, "displayName": null, "type": "User", "userPrincipalName": target.user_principal_name, "groupType": null, "modifiedProperties": [] },
                    { "id": role.id, "displayName": role.display_name, "type": "Role", "userPrincipalName": null, "groupType": null,
                      "modifiedProperties": [{ "displayName": "Role.DisplayName", "oldValue": null, "newValue": format!("\"{}\"", role.display_name) }] }
                ]),
            )
        }
    };
    let json = json!({
        "id": id, "category": category, "correlationId": guid_from(rng.u128(..)), "result": "success", "resultReason": "",
        "activityDisplayName": activity, "activityDateTime": t.rfc3339_millis(),
        "loggedByService": "Core Directory", "operationType": operation, "initiatedBy": initiated,
        "targetResources": targets, "additionalDetails": []
    });
    SimRecord {
        category: Category::AuditLogs,
        id: id.clone(),
        time: t,
        visible_at: t + delay_for(rng, Category::AuditLogs),
        json,
        revision: None,
    }
}

fn farthest(home: usize) -> usize {
    let h = &PLACES[home];
    (0..PLACES.len())
        .max_by(|a, b| {
            let d = |i: usize| {
                (PLACES[i].latitude - h.latitude).powi(2)
                    + (PLACES[i].longitude - h.longitude).powi(2)
            };
            d(*a).total_cmp(&d(*b))
        })
        .unwrap_or(home)
}

/// The attacks that started in `[from, to]`, with the ids of their records.
pub fn attacks(seed: u64, dir: &Directory, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Attack> {
    let mut out = Vec::new();
    let mut day = from.duration_trunc(Duration::days(1)).unwrap_or(from);
    while day <= to {
        for plan in plans(seed, dir, day)
            .into_iter()
            .filter(|p| p.start >= from && p.start <= to)
        {
            let mut ids = Vec::new();
            let mut last_ip = plan.ip.clone();
            for offset in 0..plan.kind.minutes() {
                let minute = plan
                    .start
                    .duration_trunc(Duration::minutes(1))
                    .unwrap_or(plan.start)
                    + Duration::minutes(offset);
                for r in records(&plan, dir, offset, minute) {
                    if let Some(ip) = r.json["ipAddress"].as_str() {
                        last_ip = ip.to_string();
                    }
                    ids.push(r.id);
                }
            }
            let user = match plan.kind {
                AttackKind::PasswordSpray => plan.victims[plan.victims.len() / 2],
                _ => plan.victims[0],
            };
            out.push(Attack {
                kind: plan.kind,
                start: plan.start,
                user_principal_name: dir.users[user].user_principal_name.clone(),
                ip_address: last_ip,
                record_ids: ids,
            });
        }
        day += Duration::days(1);
    }
    out.sort_by_key(|a| a.start);
    out
}
