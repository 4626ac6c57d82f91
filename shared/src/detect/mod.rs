//! Our own risk detections, computed from sign-ins and audits (the Identity Protection issue):
//! each a [`Detection`] with a name, a risk level and evidence a person can check — the record
//! ids, the counts and the threshold crossed — one per incident, keyed so a re-read does not
//! repeat it.
//!
//! Detections that depend on what is usual for a user (unfamiliar source, disabled-account
//! attempts, brute force) read a learned [`History`]: the ASNs, countries and devices the user's
//! sign-ins came from. History is learned after detection, and never from records a detection
//! flagged, so an attacker does not teach the model.

pub mod kinds;
pub mod publish;
pub mod signals;

/// The source our detections carry (Microsoft's keep theirs).
pub const SOURCE: &str = "entra-monitor";

use crate::query::codes;
use chrono::{DateTime, Duration, Utc};
pub use kinds::{DetectionKind, RiskLevel};
use serde::Serialize;
use signals::{AuditEvent, SignIn};
use std::collections::{BTreeMap, BTreeSet};

/// Thresholds, with the reasoning behind each default.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Password spray: distinct users one source fails against within the window. Ten users
    /// from one address in half an hour is far above what shared egress (an office NAT) shows
    /// for wrong passwords, and below what a spray needs to be worth it.
    pub spray_min_users: usize,
    /// ... with at most this many attempts per user (a spray tries few passwords per account).
    pub spray_max_attempts_per_user: usize,
    pub spray_window: Duration,
    /// Brute force: failed passwords against one user from one unfamiliar source in the window.
    /// Six in ten minutes is beyond a user retyping (smart lockout's default is ten).
    pub brute_min_failures: usize,
    pub brute_window: Duration,
    /// Impossible travel: the speed between two successful sign-ins from distinct places above
    /// which no airliner gets there (900 km/h), for places at least this far apart.
    pub travel_max_kmh: f64,
    pub travel_min_km: f64,
    /// Egress addresses of the organisation's VPNs and proxies (prefixes): sign-ins through them
    /// say nothing about where the user is.
    pub vpn_egress: Vec<String>,
    /// MFA fatigue: MFA denials or timeouts for one user in the window, then a success.
    pub mfa_min_denials: usize,
    pub mfa_window: Duration,
    /// Consent to these permissions (prefix match) is high-privilege.
    pub high_privilege_scopes: Vec<String>,
    /// Directory roles whose direct assignment (outside PIM) is a detection.
    pub privileged_roles: Vec<String>,
    /// Groups (names or object ids) whose membership grants privilege — role-assignable groups,
    /// groups managed by PIM for Groups: a member or owner added directly is a detection. The
    /// audit log does not say whether a group is role-assignable, so they are named here.
    pub privileged_groups: Vec<String>,
    /// Anonymising addresses (prefixes), e.g. Tor exit nodes, from a list the organisation keeps.
    pub anonymous_ips: Vec<String>,
    /// Unfamiliar sign-in properties need this much history for the user first: before, every
    /// property is new.
    pub unfamiliar_min_history: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            spray_min_users: 10,
            spray_max_attempts_per_user: 3,
            spray_window: Duration::minutes(30),
            brute_min_failures: 6,
            brute_window: Duration::minutes(10),
            travel_max_kmh: 900.0,
            travel_min_km: 500.0,
            vpn_egress: Vec::new(),
            mfa_min_denials: 3,
            mfa_window: Duration::minutes(20),
            high_privilege_scopes: [
                "Mail.",
                "Files.ReadWrite.All",
                "Files.Read.All",
                "Directory.",
                "Sites.",
                "RoleManagement.",
                "Application.ReadWrite",
            ]
            .map(String::from)
            .to_vec(),
            privileged_roles: [
                "Global Administrator",
                "Privileged Role Administrator",
                "Security Administrator",
                "User Administrator",
                "Application Administrator",
                "Exchange Administrator",
            ]
            .map(String::from)
            .to_vec(),
            privileged_groups: Vec::new(),
            anonymous_ips: Vec::new(),
            unfamiliar_min_history: 10,
        }
    }
}

/// One detection: one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// e.g. `passwordSpray`, `impossibleTravel`.
    pub name: DetectionKind,
    /// Always `entra-monitor` (Microsoft's own detections keep theirs).
    pub source: &'static str,
    pub risk_level: RiskLevel,
    /// The user at risk (for a spray, the one whose password then worked, if any).
    pub user: String,
    pub ip: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The records that make up the incident.
    pub record_ids: Vec<String>,
    /// What was counted and which threshold it crossed.
    pub evidence: String,
    /// Identifies the incident, so a re-read does not report it twice.
    pub key: String,
    /// The app the evidence is about, when it is about one (a credential added to it, a
    /// consent to it): the detection is then also published as that service principal's risk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<AppSubject>,
}

/// An app registration or service principal a detection is about, as the audit event names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSubject {
    /// The object id of the audit event's target.
    pub id: String,
    /// `Application` (an app registration) or `ServicePrincipal`.
    pub kind: String,
    pub display_name: String,
    /// The key credentials involved (`KeyIdentifier`s of a credential added).
    pub key_ids: Vec<String>,
}

/// What is usual for each user — the networks (ASN), countries and devices of their sign-ins —
/// and for the organisation: the networks anyone signed in from successfully.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct History {
    pub users: BTreeMap<String, UserHistory>,
    pub tenant_asns: BTreeSet<i64>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct UserHistory {
    pub asns: BTreeSet<i64>,
    pub countries: BTreeSet<String>,
    pub devices: BTreeSet<String>,
    pub sign_ins: u64,
}

impl History {
    fn of(&self, user: &str) -> Option<&UserHistory> {
        self.users.get(&user.to_ascii_lowercase())
    }

    /// Whether the user has signed in from this network before.
    pub fn familiar(&self, s: &SignIn) -> bool {
        self.of(&s.user)
            .is_some_and(|h| s.asn.is_some_and(|a| h.asns.contains(&a)))
    }

    /// Whether anyone in the organisation signed in successfully from this network.
    pub fn organisation_network(&self, s: &SignIn) -> bool {
        s.asn.is_some_and(|a| self.tenant_asns.contains(&a))
    }

    /// Learns from sign-ins, except those a detection flagged and failed passwords (which an
    /// attacker produces at will).
    pub fn learn(&mut self, sign_ins: &[SignIn], flagged: &BTreeSet<String>) {
        for s in sign_ins {
            if flagged.contains(&s.id) || signals::is_credential_failure(&s.result) {
                continue;
            }
            if let (Some(a), "0") = (s.asn, s.result.as_str()) {
                self.tenant_asns.insert(a);
            }
            let h = self.users.entry(s.user.to_ascii_lowercase()).or_default();
            if let Some(a) = s.asn {
                h.asns.insert(a);
            }
            if let Some(c) = &s.country {
                h.countries.insert(c.clone());
            }
            h.devices.insert(s.device.clone());
            h.sign_ins += 1;
        }
    }
}

fn detection(
    name: DetectionKind,
    risk_level: RiskLevel,
    user: &str,
    ip: Option<&str>,
    records: &[&SignIn],
    evidence: String,
) -> Detection {
    let first = records.iter().map(|r| r.time).min().unwrap_or_default();
    let last = records.iter().map(|r| r.time).max().unwrap_or_default();
    Detection {
        name,
        source: "entra-monitor",
        risk_level,
        user: user.to_string(),
        ip: ip.map(String::from),
        first_seen: first,
        last_seen: last,
        record_ids: records.iter().map(|r| r.id.clone()).collect(),
        evidence,
        service_principal: None,
        key: format!(
            "{name}:{}:{}:{}",
            user.to_ascii_lowercase(),
            ip.unwrap_or(""),
            first.timestamp() / 3600
        ),
    }
}

/// Groups time-ordered items into bursts: a new burst starts when an item is more than
/// `window` after the burst's first.
fn bursts<'a, T>(
    items: &[&'a T],
    time: impl Fn(&T) -> DateTime<Utc>,
    window: Duration,
) -> Vec<Vec<&'a T>> {
    let mut out: Vec<Vec<&T>> = Vec::new();
    for it in items {
        match out.last_mut() {
            Some(b) if time(it) - time(b[0]) <= window => b.push(it),
            _ => out.push(vec![it]),
        }
    }
    out
}

/// Runs every detection over a batch of sign-ins and audit events (any order).
pub fn detect(
    sign_ins: &[SignIn],
    audits: &[AuditEvent],
    history: &History,
    t: &Thresholds,
) -> Vec<Detection> {
    let mut ordered: Vec<&SignIn> = sign_ins.iter().collect();
    ordered.sort_by_key(|s| (s.time, s.id.clone()));
    let mut out = Vec::new();
    out.extend(password_spray(&ordered, t));
    out.extend(brute_force(&ordered, history, t));
    out.extend(impossible_travel(&ordered, t));
    out.extend(mfa_fatigue(&ordered, t));
    // What the detections above flagged is an attacker's, not the organisation's, network.
    let flagged: BTreeSet<&str> = out
        .iter()
        .flat_map(|d| d.record_ids.iter().map(String::as_str))
        .collect();
    out.extend(disabled_account(&ordered, history, &flagged));
    out.extend(unfamiliar_properties(&ordered, history, t));
    out.extend(anonymous_ip(&ordered, t));
    out.extend(legacy_authentication(&ordered));
    for a in audits {
        out.extend(signals::audit_detection(a, t));
    }
    out.sort_by(|a, b| (a.first_seen, a.name.name()).cmp(&(b.first_seen, b.name.name())));
    out.dedup_by(|a, b| a.key == b.key);
    out
}

fn by<'a, K: Ord>(
    items: &[&'a SignIn],
    key: impl Fn(&SignIn) -> Option<K>,
) -> BTreeMap<K, Vec<&'a SignIn>> {
    let mut m: BTreeMap<K, Vec<&SignIn>> = BTreeMap::new();
    for s in items {
        if let Some(k) = key(s) {
            m.entry(k).or_default().push(s);
        }
    }
    m
}

fn password_spray(ordered: &[&SignIn], t: &Thresholds) -> Vec<Detection> {
    let mut out = Vec::new();
    for (ip, all) in by(ordered, |s| Some(s.ip.clone())) {
        let failures: Vec<&SignIn> = all
            .iter()
            .copied()
            .filter(|s| s.result == codes::INVALID_PASSWORD)
            .collect();
        for burst in bursts(&failures, |s| s.time, t.spray_window) {
            let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
            for s in &burst {
                *per_user.entry(s.user.to_ascii_lowercase()).or_default() += 1;
            }
            let few_each = per_user
                .values()
                .all(|n| *n <= t.spray_max_attempts_per_user);
            if per_user.len() < t.spray_min_users || !few_each {
                continue;
            }
            // The user whose password then worked from the same source.
            let end = burst.last().map(|s| s.time).unwrap_or_default();
            let success = all.iter().find(|s| {
                s.result == "0" && s.time >= burst[0].time && s.time <= end + t.spray_window
            });
            let mut records = burst.clone();
            let user = match success {
                Some(s) => {
                    records.push(s);
                    s.user.clone()
                }
                None => "(no success)".into(),
            };
            out.push(detection(
                DetectionKind::PasswordSpray,
                if success.is_some() { RiskLevel::High } else { RiskLevel::Medium },
                &user,
                Some(&ip),
                &records,
                format!(
                    "{} failed passwords against {} users from {ip} within {} min (threshold {} users, at most {} attempts each){}",
                    burst.len(),
                    per_user.len(),
                    t.spray_window.num_minutes(),
                    t.spray_min_users,
                    t.spray_max_attempts_per_user,
                    if success.is_some() { "; then a successful sign-in" } else { "" }
                ),
            ));
        }
    }
    out
}

fn brute_force(ordered: &[&SignIn], history: &History, t: &Thresholds) -> Vec<Detection> {
    let mut out = Vec::new();
    let failures: Vec<&SignIn> = ordered
        .iter()
        .copied()
        .filter(|s| s.result == codes::INVALID_PASSWORD && !history.familiar(s))
        .collect();
    for ((user, ip), list) in by(&failures, |s| {
        Some((s.user.to_ascii_lowercase(), s.ip.clone()))
    }) {
        for burst in bursts(&list, |s| s.time, t.brute_window) {
            if burst.len() >= t.brute_min_failures {
                out.push(detection(
                    DetectionKind::BruteForce,
                    RiskLevel::Medium,
                    &user,
                    Some(&ip),
                    &burst,
                    format!(
                        "{} failed passwords for {user} from {ip}, a network the user never signed in from, within {} min (threshold {})",
                        burst.len(),
                        t.brute_window.num_minutes(),
                        t.brute_min_failures
                    ),
                ));
            }
        }
    }
    out
}

fn impossible_travel(ordered: &[&SignIn], t: &Thresholds) -> Vec<Detection> {
    let mut out: Vec<Detection> = Vec::new();
    let ok: Vec<&SignIn> = ordered
        .iter()
        .copied()
        .filter(|s| {
            s.result == "0"
                && s.geo.is_some()
                && !t.vpn_egress.iter().any(|p| s.ip.starts_with(p.as_str()))
        })
        .collect();
    for (user, list) in by(&ok, |s| Some(s.user.to_ascii_lowercase())) {
        let mut legs: Vec<Detection> = Vec::new();
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (Some(ga), Some(gb)) = (a.geo, b.geo) else {
                continue;
            };
            let km = signals::distance_km(ga, gb);
            let hours = ((b.time - a.time).num_seconds() as f64 / 3600.0).max(1.0 / 60.0);
            let kmh = km / hours;
            if km >= t.travel_min_km && kmh > t.travel_max_kmh {
                legs.push(detection(
                    DetectionKind::ImpossibleTravel,
                    RiskLevel::Medium,
                    &user,
                    Some(&b.ip),
                    &[a, b],
                    format!(
                        "{km:.0} km between {} and {} in {:.0} min: {kmh:.0} km/h (threshold {} km/h)",
                        a.place(),
                        b.place(),
                        hours * 60.0,
                        t.travel_max_kmh
                    ),
                ));
            }
        }
        // The way there and the way back (or more legs within hours) are one incident.
        for leg in legs {
            match out.last_mut() {
                Some(trip)
                    if trip.user == leg.user
                        && leg.first_seen - trip.last_seen <= chrono::Duration::hours(6) =>
                {
                    for id in leg.record_ids {
                        if !trip.record_ids.contains(&id) {
                            trip.record_ids.push(id);
                        }
                    }
                    trip.last_seen = trip.last_seen.max(leg.last_seen);
                    trip.evidence = format!("{}; then {}", trip.evidence, leg.evidence);
                }
                _ => out.push(leg),
            }
        }
    }
    out
}

fn mfa_fatigue(ordered: &[&SignIn], t: &Thresholds) -> Vec<Detection> {
    let mut out = Vec::new();
    for (user, list) in by(ordered, |s| Some(s.user.to_ascii_lowercase())) {
        let denials: Vec<&SignIn> = list
            .iter()
            .copied()
            .filter(|s| s.result == codes::MFA_FAILED)
            .collect();
        for burst in bursts(&denials, |s| s.time, t.mfa_window) {
            if burst.len() < t.mfa_min_denials {
                continue;
            }
            let last = burst.last().map(|s| s.time).unwrap_or_default();
            // The approval: from where the prompts came, if any came from there.
            let after =
                |s: &&&SignIn| s.result == "0" && s.time > last && s.time - last <= t.mfa_window;
            let from_same = |s: &&&SignIn| burst.iter().any(|d| d.ip == s.ip);
            let Some(success) = list
                .iter()
                .filter(after)
                .find(from_same)
                .or_else(|| list.iter().find(after))
            else {
                continue;
            };
            let mut records = burst.clone();
            records.push(success);
            out.push(detection(
                DetectionKind::MfaFatigue,
                RiskLevel::High,
                &user,
                Some(&success.ip),
                &records,
                format!(
                    "{} MFA prompts denied or timed out within {} min, then approved (threshold {} denials)",
                    burst.len(),
                    t.mfa_window.num_minutes(),
                    t.mfa_min_denials
                ),
            ));
        }
    }
    out
}

/// Attempts on a disabled account from a network neither the account nor the organisation
/// uses. The organisation's networks are those learned, and — so a first run, with nothing
/// learned yet, does not take the office for a stranger — those from which at least
/// [`ORGANISATION_USERS`] users signed in successfully in the records at hand, not counting
/// sign-ins the other detections flagged (an attacker's successful accounts do not make a
/// network the organisation's). For an account with no
/// history at all, where an old device still trying from home cannot be told apart, only a
/// burst is reported: [`DISABLED_BURST`] attempts within ten minutes.
fn disabled_account(
    ordered: &[&SignIn],
    history: &History,
    flagged: &BTreeSet<&str>,
) -> Vec<Detection> {
    let mut users_by_asn: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for s in ordered
        .iter()
        .filter(|s| s.result == "0" && !flagged.contains(s.id.as_str()))
    {
        if let Some(a) = s.asn {
            users_by_asn
                .entry(a)
                .or_default()
                .insert(s.user.to_ascii_lowercase());
        }
    }
    let others = |s: &SignIn| {
        s.asn.and_then(|a| users_by_asn.get(&a)).map_or(0, |users| {
            users
                .iter()
                .filter(|u| !u.eq_ignore_ascii_case(&s.user))
                .count()
        })
    };
    let attempts: Vec<&SignIn> = ordered
        .iter()
        .copied()
        .filter(|s| {
            s.result == codes::ACCOUNT_DISABLED
                && !history.familiar(s)
                && !history.organisation_network(s)
                && others(s) < ORGANISATION_USERS
        })
        .collect();
    by(&attempts, |s| Some((s.user.to_ascii_lowercase(), s.ip.clone())))
        .into_iter()
        .filter(|((user, _), list)| {
            history.of(user).is_some()
                || bursts(list, |s| s.time, Duration::minutes(10))
                    .iter()
                    .any(|b| b.len() >= DISABLED_BURST)
        })
        .map(|((user, ip), list)| {
            let seen_by = others(list[0]);
            let network = if seen_by == 0 {
                "a network neither the account nor anyone in the organisation signed in from".to_string()
            } else {
                format!(
                    "a network the account never signed in from, and only {seen_by} other user(s) of the organisation did"
                )
            };
            detection(
                DetectionKind::DisabledAccountSignIn,
                RiskLevel::Medium,
                &user,
                Some(&ip),
                &list,
                format!(
                    "{} sign-in attempts on the disabled account {user} from {ip}, {network}",
                    list.len()
                ),
            )
        })
        .collect()
}

/// Users signing in successfully from a network that make it one of the organisation's.
pub const ORGANISATION_USERS: usize = 3;
/// Attempts within ten minutes that make attempts on a disabled account without history a
/// detection.
pub const DISABLED_BURST: usize = 3;

/// A successful sign-in from a network, a country and a device the user, with enough history,
/// never used. Each alone is common: people change phones, ride mobile networks, and travel
/// with their own laptop; a stolen password used from elsewhere has all three.
fn unfamiliar_properties(ordered: &[&SignIn], history: &History, t: &Thresholds) -> Vec<Detection> {
    ordered
        .iter()
        .filter(|s| s.result == "0")
        .filter_map(|s| {
            let h = history.of(&s.user)?;
            if h.sign_ins < t.unfamiliar_min_history {
                return None;
            }
            let new_asn = s.asn.is_some_and(|a| !h.asns.contains(&a));
            let new_country = s.country.as_ref().is_some_and(|c| !h.countries.contains(c));
            let new_device = !h.devices.contains(&s.device);
            if !(new_asn && new_country && new_device) {
                return None;
            }
            let new = ["network", "country", "device"];
            Some(detection(
                DetectionKind::UnfamiliarSignInProperties,
                RiskLevel::Medium,
                &s.user,
                Some(&s.ip),
                &[s],
                format!(
                    "successful sign-in from {} with a new {} (the user's history: {} sign-ins)",
                    s.place(),
                    new.join(", "),
                    h.sign_ins
                ),
            ))
        })
        .collect()
}

/// A successful sign-in from an address on the anonymising list.
fn anonymous_ip(ordered: &[&SignIn], t: &Thresholds) -> Vec<Detection> {
    ordered
        .iter()
        .filter(|s| s.result == "0" && t.anonymous_ips.iter().any(|p| s.ip.starts_with(p.as_str())))
        .map(|s| {
            detection(
                DetectionKind::AnonymousIpAddress,
                RiskLevel::Medium,
                &s.user,
                Some(&s.ip),
                &[s],
                format!(
                    "successful sign-in from {}, on the anonymising-address list",
                    s.ip
                ),
            )
        })
        .collect()
}

/// Successful sign-ins over legacy authentication protocols, one detection per user and
/// protocol in a batch.
fn legacy_authentication(ordered: &[&SignIn]) -> Vec<Detection> {
    let legacy: Vec<&SignIn> = ordered
        .iter()
        .copied()
        .filter(|s| s.result == "0" && signals::LEGACY_CLIENT_APPS.contains(&s.client_app.as_str()))
        .collect();
    by(&legacy, |s| {
        Some((s.user.to_ascii_lowercase(), s.client_app.clone()))
    })
    .into_iter()
    .map(|((user, app), list)| {
        detection(
            DetectionKind::LegacyAuthentication,
            RiskLevel::Low,
            &user,
            list.last().map(|s| s.ip.as_str()),
            &list,
            format!(
                "{} successful sign-ins over {app}, a legacy protocol that bypasses MFA",
                list.len()
            ),
        )
    })
    .collect()
}

/// Keeps detections to one per incident across batches that overlap (each batch re-reads a
/// look-back window): a detection whose key was reported, or whose records overlap an earlier
/// detection of the same name, is the same incident. What it remembers is pruned to a window.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Incidents {
    /// Per detection name, record id → when the incident was last seen.
    records: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
    keys: BTreeMap<String, DateTime<Utc>>,
}

impl Incidents {
    /// Whether `d` is a new incident (and remembers it).
    pub fn is_new(&mut self, d: &Detection) -> bool {
        let seen = self.records.entry(d.name.to_string()).or_default();
        let overlaps = d.record_ids.iter().any(|id| seen.contains_key(id));
        for id in &d.record_ids {
            seen.insert(id.clone(), d.last_seen);
        }
        self.keys.insert(d.key.clone(), d.last_seen).is_none() && !overlaps
    }

    /// Forgets incidents last seen before `before` (beyond any look-back).
    pub fn prune(&mut self, before: DateTime<Utc>) {
        for ids in self.records.values_mut() {
            ids.retain(|_, t| *t >= before);
        }
        self.keys.retain(|_, t| *t >= before);
    }
}

pub mod alerts;
pub mod risky;
pub mod run;
