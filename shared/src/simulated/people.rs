//! The people side of the simulated tenant's directory, as Graph v1.0 lists it: users (with
//! `signInActivity`), directory role definitions and assignments, the authentication-methods
//! `userRegistrationDetails`, and the Conditional Access policies its sign-ins are evaluated
//! against (<https://learn.microsoft.com/graph/api/resources/user>,
//! <https://learn.microsoft.com/graph/api/resources/unifiedroleassignment>,
//! <https://learn.microsoft.com/graph/api/resources/userregistrationdetails>,
//! <https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy>).
//!
//! Seeded conditions (ground truth in [`SeededPeople`]): two guests who have not
//! signed in for months (they exist only in the directory, never in the logs), six Global
//! Administrators, and two administrators with no MFA method registered; every other
//! administrator is registered.

use super::SimulatedTenant;
use super::details::CA_POLICIES;
use super::directory::{Directory, REPORTS_READER, ROLES, guid};
use crate::model::Category;
use chrono::{DateTime, Duration, Utc};
use fastrand::Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The conditions seeded into the people side (ground truth).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeededPeople {
    /// Guests whose last sign-in was months ago (user ids).
    pub inactive_guests: Vec<String>,
    /// The Global Administrators (user ids): six, more than Microsoft advises.
    pub global_admins: Vec<String>,
    /// Role holders with no MFA method registered (user ids).
    pub admins_without_mfa: Vec<String>,
}

/// The people-side lists of the directory.
#[derive(Debug, Clone, Default)]
pub struct People {
    pub users: Vec<Value>,
    pub role_definitions: Vec<Value>,
    pub role_assignments: Vec<Value>,
    pub registration_details: Vec<Value>,
    pub conditional_access_policies: Vec<Value>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A user's methods: strong ones registered, or only an email (no MFA).
fn methods(rng: &mut Rng, registered: bool) -> Vec<&'static str> {
    if !registered {
        return if rng.bool() {
            vec!["email"]
        } else {
            Vec::new()
        };
    }
    let mut m = vec!["microsoftAuthenticatorPush", "mobilePhone"];
    if rng.f64() < 0.3 {
        m.push("softwareOneTimePasscode");
    }
    if rng.f64() < 0.15 {
        m.push("fido2");
    }
    if rng.f64() < 0.25 {
        m.push("windowsHelloForBusiness");
    }
    m
}

fn registration(user: &Value, admin: bool, methods: &[&str], anchor: DateTime<Utc>) -> Value {
    // Every method but email can be a second factor.
    let mfa = methods.iter().any(|m| *m != "email");
    let passwordless = methods
        .iter()
        .any(|m| ["fido2", "windowsHelloForBusiness"].contains(m));
    let member = user["userType"] == "Member";
    let sspr_registered = methods
        .iter()
        .any(|m| ["mobilePhone", "email", "microsoftAuthenticatorPush"].contains(m));
    json!({
        "id": user["id"], "userPrincipalName": user["userPrincipalName"],
        "userDisplayName": user["displayName"],
        "userType": if member { "member" } else { "guest" }, "isAdmin": admin,
        "isMfaCapable": mfa, "isMfaRegistered": mfa, "isPasswordlessCapable": passwordless,
        "isSsprCapable": member && sspr_registered, "isSsprEnabled": member,
        "isSsprRegistered": sspr_registered,
        "isSystemPreferredAuthenticationMethodEnabled": true,
        "methodsRegistered": methods,
        "systemPreferredAuthenticationMethods": if mfa { json!(["push"]) } else { json!([]) },
        "userPreferredMethodForSecondaryAuthentication": if mfa { "push" } else { "none" },
        "lastUpdatedDateTime": iso(anchor - Duration::days(3)),
    })
}

fn user(
    id: &str,
    name: &str,
    upn: &str,
    guest: bool,
    enabled: bool,
    created: DateTime<Utc>,
) -> Value {
    json!({ "id": id, "displayName": name, "userPrincipalName": upn,
        "userType": if guest { "Guest" } else { "Member" }, "accountEnabled": enabled,
        "createdDateTime": iso(created), "signInActivity": null })
}

/// The Conditional Access policies of [`CA_POLICIES`] in Graph's shape.
fn policies(anchor: DateTime<Utc>) -> Vec<Value> {
    CA_POLICIES
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let controls: Vec<&str> = p
                .grant_controls
                .iter()
                .map(|c| match *c {
                    "Mfa" => "mfa",
                    "Block" => "block",
                    "RequireCompliantDevice" => "compliantDevice",
                    "RequireDomainJoinedDevice" => "domainJoinedDevice",
                    other => other,
                })
                .collect();
            let legacy = p.display_name.contains("legacy");
            let apps = match p.display_name {
                n if n.contains("Exchange") => json!(["00000002-0000-0ff1-ce00-000000000000"]),
                n if n.contains("Azure management") => json!(["797f4846-ba00-4fd7-ba43-dac1f8f63013"]),
                _ => json!(["All"]),
            };
            json!({
                "id": p.id, "displayName": p.display_name, "state": p.state,
                "createdDateTime": iso(anchor - Duration::days(300 - 20 * i as i64)),
                "modifiedDateTime": iso(anchor - Duration::days(40 - 5 * i as i64)),
                "conditions": {
                    "users": { "includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": [] },
                    "applications": { "includeApplications": apps, "excludeApplications": [] },
                    "clientAppTypes": if legacy { json!(["exchangeActiveSync", "other"]) } else { json!(["all"]) },
                },
                "grantControls": { "operator": "OR", "builtInControls": controls },
            })
        })
        .collect()
}

/// The people-side lists of `dir`, seeding the conditions into `seeded`.
pub fn generate(
    seed: u64,
    dir: &Directory,
    anchor: DateTime<Utc>,
    seeded: &mut SeededPeople,
) -> People {
    let mut rng = Rng::with_seed(seed ^ 0x5EED_9E0B_A11C_E5ED);
    let mut users: Vec<Value> = dir
        .users
        .iter()
        .map(|u| {
            let created = anchor - Duration::days(rng.i64(30..1500));
            user(
                &u.id,
                &u.display_name,
                &u.user_principal_name,
                u.is_guest,
                u.account_enabled,
                created,
            )
        })
        .collect();
    // Guests invited long ago who stopped signing in months before the anchor.
    for (n, days) in [(0, 120), (1, 200)] {
        let id = guid(&mut rng);
        let upn = format!("partner.{n}_adatum.example#ext#@{}", dir.domain);
        let mut guest = user(
            &id,
            &format!("Adatum Partner {n}"),
            &upn,
            true,
            true,
            anchor - Duration::days(400),
        );
        let last = iso(anchor - Duration::days(days));
        guest["signInActivity"] = json!({ "lastSignInDateTime": last, "lastSignInRequestId": guid(&mut rng),
            "lastNonInteractiveSignInDateTime": null, "lastNonInteractiveSignInRequestId": null,
            "lastSuccessfulSignInDateTime": last, "lastSuccessfulSignInRequestId": guid(&mut rng) });
        seeded.inactive_guests.push(id);
        users.push(guest);
    }
    let mut role_definitions: Vec<Value> = ROLES
        .iter()
        .map(|r| (r.id, r.display_name, true))
        .chain([(REPORTS_READER.0, REPORTS_READER.1, false)])
        .map(|(id, name, privileged)| {
            json!({ "id": id, "displayName": name, "isBuiltIn": true, "isEnabled": true,
                "isPrivileged": privileged, "templateId": id })
        })
        .collect();
    role_definitions.sort_by(|a, b| a["displayName"].as_str().cmp(&b["displayName"].as_str()));
    // The directory's role holders (distinct enabled members, in the order of ROLES then
    // Reports Reader).
    let mut role_assignments = Vec::new();
    let mut roles_of: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (principal, role) in &dir.role_holders {
        if *role == ROLES[0].id {
            seeded.global_admins.push(principal.clone());
        }
        roles_of.entry(principal.clone()).or_default().push(role);
        role_assignments.push(json!({ "id": guid(&mut rng), "principalId": principal,
            "roleDefinitionId": role, "directoryScopeId": "/" }));
    }
    // The first Global Administrator and the first Helpdesk Administrator have no MFA method
    // (and sign in with a password alone); the other administrators sign in with MFA.
    let unregistered = dir.without_mfa.clone();
    seeded.admins_without_mfa = unregistered.clone();
    let registration_details = users
        .iter()
        .map(|u| {
            let id = u["id"].as_str().unwrap_or_default();
            let admin = roles_of.contains_key(id);
            let registered = if admin {
                !unregistered.iter().any(|x| x == id)
            } else if u["userType"] == "Guest" {
                rng.f64() < 0.3
            } else {
                rng.f64() < 0.85
            };
            let m = methods(&mut rng, registered);
            registration(u, admin, &m, anchor)
        })
        .collect();
    People {
        users,
        role_definitions,
        role_assignments,
        registration_details,
        conditional_access_policies: policies(anchor),
    }
}

/// The people side with its seeded conditions fixed: three Global Administrators, every user
/// registered for MFA, the inactive guests gone.
pub fn clean(people: &mut People, seeded: &SeededPeople) {
    let ga = ROLES[0].id;
    let mut kept = 0;
    people.role_assignments.retain(|a| {
        if a["roleDefinitionId"] != ga {
            return true;
        }
        kept += 1;
        kept <= 3
    });
    for r in &mut people.registration_details {
        if r["isMfaRegistered"] == false {
            r["isMfaRegistered"] = json!(true);
            r["isMfaCapable"] = json!(true);
            r["methodsRegistered"] = json!(["microsoftAuthenticatorPush", "mobilePhone"]);
            r["isSsprRegistered"] = json!(true);
        }
    }
    let gone = |id: &Value| seeded.inactive_guests.iter().any(|g| *id == json!(g));
    people.users.retain(|u| !gone(&u["id"]));
    people.registration_details.retain(|r| !gone(&r["id"]));
}

/// Fills each logged user's `signInActivity` from the tenant's sign-ins of the `days` before
/// `anchor`, as Graph defines it: the last interactive sign-in (successful or not), the last
/// non-interactive one, and the last successful one of either kind, each with its request id.
/// A user with none in that time keeps `null` (never signed in, as far as this shows).
pub fn fill_sign_in_activity(
    users: &mut [Value],
    tenant: &SimulatedTenant,
    anchor: DateTime<Utc>,
    days: i64,
) {
    type Last = BTreeMap<String, (DateTime<Utc>, String)>;
    let (mut interactive, mut background, mut success): (Last, Last, Last) = Default::default();
    let keep = |map: &mut Last, user: &str, t: DateTime<Utc>, id: &str| {
        let e = map.entry(user.to_string()).or_insert((t, id.to_string()));
        if t > e.0 {
            *e = (t, id.to_string());
        }
    };
    for category in [Category::SignInLogs, Category::NonInteractiveUserSignInLogs] {
        for r in tenant.records(
            category,
            anchor - Duration::days(days),
            anchor,
            Some(anchor),
        ) {
            let user = r.json["userId"].as_str().unwrap_or_default().to_string();
            let id = r.json["id"].as_str().unwrap_or_default().to_string();
            let map = if category == Category::SignInLogs {
                &mut interactive
            } else {
                &mut background
            };
            keep(map, &user, r.time, &id);
            if r.json["status"]["errorCode"] == 0 {
                keep(&mut success, &user, r.time, &id);
            }
        }
    }
    let pair = |map: &Last, id: &str| match map.get(id) {
        Some((t, r)) => (
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            json!(r),
        ),
        None => (Value::Null, Value::Null),
    };
    for u in users.iter_mut().filter(|u| u["signInActivity"].is_null()) {
        let id = u["id"].as_str().unwrap_or_default().to_string();
        let (i, ir) = pair(&interactive, &id);
        let (b, br) = pair(&background, &id);
        let (s, sr) = pair(&success, &id);
        if [&i, &b, &s].iter().all(|v| v.is_null()) {
            continue;
        }
        u["signInActivity"] = json!({ "lastSignInDateTime": i, "lastSignInRequestId": ir,
            "lastNonInteractiveSignInDateTime": b, "lastNonInteractiveSignInRequestId": br,
            "lastSuccessfulSignInDateTime": s, "lastSuccessfulSignInRequestId": sr });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sign_in_activity_is_each_users_last_sign_in_of_the_week() {
        let tenant = SimulatedTenant::new(9, 40);
        let anchor = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let mut seeded = SeededPeople::default();
        let mut people = generate(9, &tenant.directory, anchor, &mut seeded);
        let started = std::time::Instant::now();
        fill_sign_in_activity(&mut people.users, &tenant, anchor, 7);
        eprintln!("filled in {:?}", started.elapsed());
        let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for r in tenant.records(
            Category::SignInLogs,
            anchor - Duration::days(7),
            anchor,
            Some(anchor),
        ) {
            let e = last
                .entry(r.json["userId"].as_str().unwrap().to_string())
                .or_insert(r.time);
            *e = (*e).max(r.time);
        }
        assert!(last.len() > 30);
        for u in &people.users {
            let id = u["id"].as_str().unwrap();
            if seeded.inactive_guests.iter().any(|g| g == id) {
                continue;
            }
            let got = u["signInActivity"]["lastSignInDateTime"].as_str();
            let want = last
                .get(id)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            assert_eq!(got.map(String::from), want, "{id}");
        }
    }
}
