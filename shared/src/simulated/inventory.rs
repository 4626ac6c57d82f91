//! The simulated tenant's directory objects as Graph lists them: application registrations with
//! their credentials and owners, and service principals (the tenant's own apps, managed
//! identities, Microsoft's first-party apps, SAML gallery apps with signing certificates) — in
//! the shapes of Graph v1.0's `application` and `servicePrincipal`
//! (<https://learn.microsoft.com/graph/api/resources/application>,
//! <https://learn.microsoft.com/graph/api/resources/serviceprincipal>,
//! <https://learn.microsoft.com/graph/api/resources/passwordcredential>,
//! <https://learn.microsoft.com/graph/api/resources/keycredential>).
//!
//! Dates are set against an `anchor` (the day the simulated server started), so the conditions
//! the reports and recommendations must find hold whenever the tenant is served, and are named
//! in [`Seeded`] (ground truth). Everything is drawn from a generator of its own, so the rest of
//! the tenant is unchanged.

use super::details::SAML_APPS;
use super::directory::{APPS, Directory, guid};
use super::people::{People, SeededPeople};
use chrono::{DateTime, Duration, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

/// Microsoft's own tenant: `appOwnerOrganizationId` of its first-party apps.
pub const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// The conditions seeded into the inventory (ground truth).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seeded {
    /// An app registration whose service principal never signs in (appId).
    pub unused_app: String,
    /// Credentials never used to sign in (keyId).
    pub unused_credentials: Vec<String>,
    /// Credentials expiring 10 days after the anchor: an app's secret and a SAML app's
    /// signing certificate (keyId).
    pub expiring_in_10_days: Vec<String>,
    /// A certificate expiring 45 days after the anchor (keyId).
    pub expiring_in_45_days: Vec<String>,
    /// An app registration with no owner (appId).
    pub ownerless_app: String,
    /// Inactive guests, Global Administrators, administrators without MFA.
    pub people: SeededPeople,
}

/// The directory objects of the tenant at one moment.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub applications: Vec<Value>,
    pub service_principals: Vec<Value>,
    /// Users, role definitions and assignments, registration details, Conditional Access
    /// policies.
    pub people: People,
    /// Microsoft's usage reports (beta, Workload ID Premium):
    /// `servicePrincipalSignInActivities` and `appCredentialSignInActivities`.
    pub sp_sign_in_activities: Vec<Value>,
    pub credential_sign_in_activities: Vec<Value>,
    /// Microsoft's `userEventsSummary` (beta, P1/P2): self-service password resets with the
    /// method each was verified with.
    pub user_events: Vec<Value>,
    /// Microsoft's own recommendations (beta `directory/recommendations`), with their impacted
    /// resources, as its actions leave them.
    pub recommendations: Vec<Value>,
    /// Microsoft Entra Health's alerts (beta `healthMonitoring/alerts`), as they stand when
    /// listed (filled at each listing from the incidents: [`super::health_alerts`]).
    pub health_alerts: Vec<Value>,
    /// Whether the users' `signInActivity` and Microsoft's usage reports have been filled from
    /// the logs ([`Inventory::fill_from_logs`]; done when first listed, as it reads days of
    /// sign-ins).
    pub sign_in_activity_filled: bool,
    pub seeded: Seeded,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn secret(key_id: &str, name: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({ "customKeyIdentifier": null, "displayName": name, "endDateTime": iso(end),
        "hint": &key_id[..3], "keyId": key_id, "secretText": null, "startDateTime": iso(start) })
}

fn certificate(
    key_id: &str,
    name: &str,
    usage: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    json!({ "customKeyIdentifier": "A1B2C3D4E5F60718293A4B5C6D7E8F9001122334", "displayName": name,
        "endDateTime": iso(end), "key": null, "keyId": key_id, "startDateTime": iso(start),
        "type": "AsymmetricX509Cert", "usage": usage })
}

fn service_principal(
    id: &str,
    app_id: &str,
    name: &str,
    kind: &str,
    owner: Option<&str>,
    keys: Value,
) -> Value {
    json!({ "id": id, "appId": app_id, "displayName": name, "accountEnabled": true,
        "servicePrincipalType": kind, "appOwnerOrganizationId": owner,
        "passwordCredentials": [], "keyCredentials": keys, "tags": [] })
}

impl Inventory {
    /// The inventory of `dir` (generated from `seed`) with dates set against `anchor`.
    pub fn generate(seed: u64, dir: &Directory, anchor: DateTime<Utc>) -> Self {
        let mut rng = Rng::with_seed(seed ^ 0x1A7E_57A0_C0FF_EE11);
        let day = |n: i64| anchor + Duration::days(n);
        let mut seeded = Seeded::default();
        let (mut applications, mut service_principals) =
            tenant_apps(&mut rng, dir, anchor, &mut seeded);
        // An app registered long ago and never used since.
        let (app_id, secret_id) = (guid(&mut rng), guid(&mut rng));
        let owner = &dir.users[rng.usize(..dir.users.len())];
        applications.push(json!({
            "id": guid(&mut rng), "appId": app_id, "displayName": "legacy-reporting",
            "createdDateTime": iso(day(-400)), "signInAudience": "AzureADMyOrg",
            "publisherDomain": dir.domain,
            "passwordCredentials": [secret(&secret_id, "reports", day(-400), day(330))],
            "keyCredentials": [], "owners": [{ "@odata.type": "#microsoft.graph.user", "id": owner.id }],
        }));
        service_principals.push(service_principal(
            &guid(&mut rng),
            &app_id,
            "legacy-reporting",
            "Application",
            Some(&dir.tenant_id),
            json!([]),
        ));
        seeded.unused_app = app_id;
        seeded.unused_credentials.push(secret_id);
        for w in &dir.managed_identities {
            service_principals.push(service_principal(
                &w.id,
                &w.app_id,
                &w.display_name,
                "ManagedIdentity",
                None,
                json!([]),
            ));
        }
        let mut microsoft: Vec<(&str, &str)> = APPS
            .iter()
            .flat_map(|a| {
                [
                    (a.app_id, a.display_name),
                    (a.resource_id, a.resource_display_name),
                ]
            })
            .collect();
        microsoft.sort();
        microsoft.dedup_by_key(|a| a.0);
        for (app_id, name) in microsoft {
            service_principals.push(service_principal(
                &guid(&mut rng),
                app_id,
                name,
                "Application",
                Some(MICROSOFT_TENANT),
                json!([]),
            ));
        }
        // SAML gallery apps sign with a certificate on their service principal; Salesforce's
        // expires in 10 days.
        for (n, (app_id, name)) in SAML_APPS.iter().enumerate() {
            let key = guid(&mut rng);
            let end = if n == 0 {
                seeded.expiring_in_10_days.push(key.clone());
                day(10)
            } else {
                day(400 + 100 * n as i64)
            };
            let start = end - Duration::days(3 * 365);
            service_principals.push(service_principal(
                &guid(&mut rng),
                app_id,
                name,
                "Application",
                Some(&dir.tenant_id),
                json!([certificate(
                    &key,
                    &format!("CN={name} SSO"),
                    "Sign",
                    start,
                    end
                )]),
            ));
        }
        let people = super::people::generate(seed, dir, anchor, &mut seeded.people);
        let mut inventory = Inventory {
            applications,
            service_principals,
            people,
            sp_sign_in_activities: Vec::new(),
            credential_sign_in_activities: Vec::new(),
            user_events: Vec::new(),
            recommendations: Vec::new(),
            health_alerts: Vec::new(),
            sign_in_activity_filled: false,
            seeded,
        };
        inventory.recommendations = inventory.microsoft_recommendations(&dir.tenant_id, anchor);
        inventory
    }
}

impl Inventory {
    /// Microsoft's own recommendations for this directory at `anchor`.
    fn microsoft_recommendations(&self, tenant_id: &str, anchor: DateTime<Utc>) -> Vec<Value> {
        super::recommendations::generate(
            &super::recommendations::Directory {
                tenant_id,
                applications: &self.applications,
                registration_details: &self.people.registration_details,
                unused_app: &self.seeded.unused_app,
            },
            anchor,
        )
    }

    /// The same directory with the seeded conditions fixed — the unused app and credentials
    /// gone, expiring credentials renewed, long-lived ones shortened, every app owned, three
    /// Global Administrators, every user registered for MFA, the inactive guests removed — for a
    /// tenant ([`super::SimulatedTenant::clean`]) that must get no recommendation.
    pub fn clean(&mut self, anchor: DateTime<Utc>) {
        let seeded = std::mem::take(&mut self.seeded);
        self.applications
            .retain(|a| a["appId"] != json!(seeded.unused_app));
        self.service_principals
            .retain(|s| s["appId"] != json!(seeded.unused_app));
        for o in self
            .applications
            .iter_mut()
            .chain(self.service_principals.iter_mut())
        {
            if o["owners"].as_array().is_some_and(Vec::is_empty) {
                o["owners"] = json!([{ "@odata.type": "#microsoft.graph.user", "id": seeded.people.global_admins.first() }]);
            }
            for (list, most) in [("passwordCredentials", 700), ("keyCredentials", 1095)] {
                let Some(keys) = o[list].as_array_mut() else {
                    continue;
                };
                keys.retain(|k| {
                    !seeded
                        .unused_credentials
                        .iter()
                        .any(|u| k["keyId"] == json!(u))
                });
                for k in keys {
                    renew(k, anchor, most);
                }
            }
        }
        super::people::clean(&mut self.people, &seeded.people);
        let tenant_id = self
            .recommendations
            .first()
            .and_then(|r| {
                r["id"]
                    .as_str()?
                    .split_once(crate::recommend::MICROSOFT_ID_MARKER)
            })
            .map(|(t, _)| t.to_string())
            .unwrap_or_default();
        self.recommendations = self.microsoft_recommendations(&tenant_id, anchor);
        self.sp_sign_in_activities
            .retain(|a| a["appId"] != json!(seeded.unused_app));
        self.credential_sign_in_activities.retain(|c| {
            !seeded
                .unused_credentials
                .iter()
                .any(|u| c["keyId"] == json!(u))
        });
    }
}

/// A credential expiring within 60 days of `anchor` renewed for a year; one valid longer than
/// `most` days shortened to it.
fn renew(key: &mut Value, anchor: DateTime<Utc>, most: i64) {
    let time = |v: &Value| {
        DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(start), Some(mut end)) = (time(&key["startDateTime"]), time(&key["endDateTime"]))
    else {
        return;
    };
    if end <= anchor + Duration::days(60) {
        end = anchor + Duration::days(365);
        key["endDateTime"] = json!(iso(end));
    }
    if (end - start).num_days() > most || start > anchor {
        key["startDateTime"] = json!(iso(end - Duration::days(most.min(365))));
    }
}

/// The tenant's own app registrations (one per workload identity that signs in) and their
/// service principals, seeding an unused secret, a secret expiring in 10 days, a certificate
/// expiring in 45, and an app with no owner.
fn tenant_apps(
    rng: &mut Rng,
    dir: &Directory,
    anchor: DateTime<Utc>,
    seeded: &mut Seeded,
) -> (Vec<Value>, Vec<Value>) {
    let day = |n: i64| anchor + Duration::days(n);
    let mut applications = Vec::new();
    let mut service_principals = Vec::new();
    for (i, w) in dir.service_principals.iter().enumerate() {
        let created = day(-(200 + 7 * i as i64));
        let mut end = day(200 + rng.i64(0..500));
        if i == 1 {
            end = day(10);
            seeded.expiring_in_10_days.push(w.credential_key_id.clone());
        }
        let mut passwords = vec![secret(&w.credential_key_id, "deploy", created, end)];
        let mut keys = Vec::new();
        if i == 0 {
            let spare = guid(rng);
            passwords.push(secret(&spare, "spare", created, day(300)));
            seeded.unused_credentials.push(spare);
        }
        if i == 2 {
            let cert = guid(rng);
            keys.push(certificate(&cert, "CN=backup", "Verify", created, day(45)));
            seeded.unused_credentials.push(cert.clone());
            seeded.expiring_in_45_days.push(cert);
        }
        let owners = if i == 3 {
            seeded.ownerless_app = w.app_id.clone();
            json!([])
        } else {
            let owner = &dir.users[rng.usize(..dir.users.len())];
            json!([{ "@odata.type": "#microsoft.graph.user", "id": owner.id }])
        };
        applications.push(json!({
            "id": guid(rng), "appId": w.app_id, "displayName": w.display_name,
            "createdDateTime": iso(created), "signInAudience": "AzureADMyOrg",
            "publisherDomain": dir.domain, "passwordCredentials": passwords,
            "keyCredentials": keys, "owners": owners,
        }));
        service_principals.push(service_principal(
            &w.id,
            &w.app_id,
            &w.display_name,
            "Application",
            Some(&dir.tenant_id),
            json!([]),
        ));
    }
    (applications, service_principals)
}
