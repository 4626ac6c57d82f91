//! The simulated tenant's directory: users (members and guests) with home places, working
//! hours and devices; applications and their service principals; managed identities; groups
//! and directory roles. Built deterministically from a seed.

use fastrand::Rng;

/// A place sign-ins come from.
#[derive(Debug, Clone)]
pub struct Place {
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    /// The first three octets of the place's public IPv4 range.
    pub ip_prefix: &'static str,
    pub asn: u32,
}

pub const PLACES: &[Place] = &[
    Place {
        city: "Seattle",
        state: "Washington",
        country: "US",
        latitude: 47.61,
        longitude: -122.33,
        ip_prefix: "131.107.160",
        asn: 8075,
    },
    Place {
        city: "New York",
        state: "New York",
        country: "US",
        latitude: 40.71,
        longitude: -74.01,
        ip_prefix: "198.51.100",
        asn: 7018,
    },
    Place {
        city: "London",
        state: "England",
        country: "GB",
        latitude: 51.51,
        longitude: -0.13,
        ip_prefix: "81.2.69",
        asn: 2856,
    },
    Place {
        city: "Amsterdam",
        state: "Noord-Holland",
        country: "NL",
        latitude: 52.37,
        longitude: 4.90,
        ip_prefix: "145.53.12",
        asn: 1136,
    },
    Place {
        city: "Berlin",
        state: "Berlin",
        country: "DE",
        latitude: 52.52,
        longitude: 13.40,
        ip_prefix: "91.64.33",
        asn: 3320,
    },
    Place {
        city: "Bengaluru",
        state: "Karnataka",
        country: "IN",
        latitude: 12.97,
        longitude: 77.59,
        ip_prefix: "49.207.48",
        asn: 24560,
    },
    Place {
        city: "Sydney",
        state: "New South Wales",
        country: "AU",
        latitude: -33.87,
        longitude: 151.21,
        ip_prefix: "203.0.113",
        asn: 1221,
    },
];

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub display_name: String,
    pub operating_system: &'static str,
    pub browser: &'static str,
    pub is_managed: bool,
    pub is_compliant: bool,
    pub trust_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: bool,
    pub home: usize,
    pub device: Device,
    /// Working hours in UTC, start inclusive, end exclusive.
    pub work_start_hour: u32,
    pub work_end_hour: u32,
    /// How active the user is (sign-ins per working hour).
    pub activity: f64,
    pub account_enabled: bool,
}

#[derive(Debug, Clone)]
pub struct App {
    pub app_id: &'static str,
    pub display_name: &'static str,
    /// The resource the app mostly calls.
    pub resource_id: &'static str,
    pub resource_display_name: &'static str,
}

/// A workload identity: an app's service principal or a managed identity.
#[derive(Debug, Clone)]
pub struct Workload {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub credential_key_id: String,
    /// Sign-ins per hour.
    pub rate: f64,
    pub place: usize,
    pub resource_id: String,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub privileged: bool,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: &'static str,
    pub display_name: &'static str,
}

/// Built-in role template ids (Entra documentation).
pub const ROLES: &[Role] = &[
    Role {
        id: "62e90394-69f5-4237-9190-012177145e10",
        display_name: "Global Administrator",
    },
    Role {
        id: "fe930be7-5e62-47db-91af-98c3a49a38b1",
        display_name: "User Administrator",
    },
    Role {
        id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        display_name: "Helpdesk Administrator",
    },
    Role {
        id: "194ae4cb-b126-40b2-bd5b-6091b380977d",
        display_name: "Security Administrator",
    },
    Role {
        id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        display_name: "Global Reader",
    },
];

/// First-party apps (well-known app ids) users sign in to.
pub const APPS: &[App] = &[
    App {
        app_id: "00000002-0000-0ff1-ce00-000000000000",
        display_name: "Office 365 Exchange Online",
        resource_id: "00000002-0000-0ff1-ce00-000000000000",
        resource_display_name: "Office 365 Exchange Online",
    },
    App {
        app_id: "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        display_name: "Microsoft Teams",
        resource_id: "00000003-0000-0000-c000-000000000000",
        resource_display_name: "Microsoft Graph",
    },
    App {
        app_id: "00000003-0000-0ff1-ce00-000000000000",
        display_name: "Office 365 SharePoint Online",
        resource_id: "00000003-0000-0ff1-ce00-000000000000",
        resource_display_name: "Office 365 SharePoint Online",
    },
    App {
        app_id: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        display_name: "Azure Portal",
        resource_id: "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        resource_display_name: "Windows Azure Service Management API",
    },
    App {
        app_id: "4765445b-32c6-49b0-83e6-1d93765276ca",
        display_name: "OfficeHome",
        resource_id: "00000003-0000-0000-c000-000000000000",
        resource_display_name: "Microsoft Graph",
    },
    App {
        app_id: "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        display_name: "Microsoft Office",
        resource_id: "00000003-0000-0000-c000-000000000000",
        resource_display_name: "Microsoft Graph",
    },
];

const FIRST: &[&str] = &[
    "Adele",
    "Alex",
    "Diego",
    "Grady",
    "Henrietta",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Aiko",
    "Bram",
    "Chen",
    "Fatima",
];
const LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Siciliani",
    "Archie",
    "Taylor",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Smith",
    "Bowen",
    "Patel",
    "Garcia",
    "Fernandes",
    "Kim",
    "Nakamura",
    "de Vries",
    "Okafor",
    "Haddad",
];

/// Formats 128 random bits as a GUID.
pub fn guid(rng: &mut Rng) -> String {
    guid_from(rng.u128(..))
}

pub fn guid_from(bits: u128) -> String {
    let h = format!("{bits:032x}");
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub tenant_id: String,
    pub domain: String,
    pub users: Vec<User>,
    pub service_principals: Vec<Workload>,
    pub managed_identities: Vec<Workload>,
    pub groups: Vec<Group>,
    /// Who holds each directory role: (user id, role id), in the order of [`ROLES`] then
    /// Reports Reader; distinct enabled members.
    pub role_holders: Vec<(String, &'static str)>,
    /// The holders of privileged roles ([`ROLES`]), who sign in with MFA...
    pub privileged: std::collections::BTreeSet<String>,
    /// ...but these two (the first Global Administrator and the first Helpdesk
    /// Administrator), who have no MFA method and sign in with a password alone (seeded).
    pub without_mfa: Vec<String>,
    /// Whether attacks are injected (one of each kind a day).
    pub attacks: bool,
    /// Public holidays (UTC dates): weekdays on which people work as little as at a weekend
    /// (none by default).
    pub holidays: Vec<chrono::NaiveDate>,
    /// How many users have an old mail client or device (a scanner, an old phone) that signs in
    /// with a legacy protocol around the clock, refused by "Block legacy authentication" (none
    /// by default; see [`super::sign_ins::legacy_sign_in`]).
    pub legacy_clients: usize,
}

/// A directory role that holds no privilege.
pub const REPORTS_READER: (&str, &str) = ("4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader");

/// How many holders each role gets: Global Administrator six (more than the five Microsoft
/// advises at most), the others a few; the last is Reports Reader.
pub const HOLDERS: [usize; 6] = [6, 2, 3, 1, 2, 2];

/// The role holders, the privileged ones, and those without MFA (see [`Directory`]).
type Roles = (
    Vec<(String, &'static str)>,
    std::collections::BTreeSet<String>,
    Vec<String>,
);

/// Distinct enabled members for the roles, drawn from a generator of their own (so the rest of
/// the tenant is as it was).
fn roles(seed: u64, users: &[User]) -> Roles {
    let mut rng = Rng::with_seed(seed ^ 0x0AD3_1A55_16E5_7EED);
    let mut candidates: Vec<&User> = users
        .iter()
        .filter(|u| !u.is_guest && u.account_enabled)
        .collect();
    rng.shuffle(&mut candidates);
    let mut holders = candidates.into_iter();
    let roles = ROLES.iter().map(|r| r.id).chain([REPORTS_READER.0]);
    let mut out = Vec::new();
    for (role, count) in roles.zip(HOLDERS) {
        for u in holders.by_ref().take(count) {
            out.push((u.id.clone(), role));
        }
    }
    let privileged = out
        .iter()
        .filter(|(_, role)| *role != REPORTS_READER.0)
        .map(|(id, _)| id.clone())
        .collect();
    let without_mfa = [0, HOLDERS[0] + HOLDERS[1]]
        .iter()
        .filter_map(|n| out.get(*n))
        .map(|(id, _)| id.clone())
        .collect();
    (out, privileged, without_mfa)
}

/// The `i`th person of the directory.
fn person(rng: &mut Rng, i: usize, domain: &str) -> User {
    let first = FIRST[rng.usize(..FIRST.len())];
    let last = LAST[rng.usize(..LAST.len())];
    let is_guest = rng.f64() < 0.05;
    let upn = if is_guest {
        format!(
            "{}.{}_fabrikam.example#ext#@{domain}",
            first.to_lowercase(),
            i
        )
    } else {
        format!(
            "{}.{}{}@{domain}",
            first.to_lowercase(),
            last.to_lowercase().replace(' ', ""),
            i
        )
    };
    let home = rng.usize(..PLACES.len());
    let (os, browser) = [
        ("Windows 11", "Edge 131.0.0"),
        ("MacOs", "Chrome 131.0.0"),
        ("Ios", "Mobile Safari"),
        ("Android", "Chrome Mobile 130.0.0"),
    ][rng.usize(..4)];
    let managed = !is_guest && rng.f64() < 0.8;
    // Working hours roughly follow the home place's time zone.
    let offset = (PLACES[home].longitude / 15.0).round() as i64;
    let start = (9 - offset).rem_euclid(24) as u32;
    User {
        id: guid(rng),
        display_name: format!("{first} {last}"),
        user_principal_name: upn,
        is_guest,
        home,
        device: Device {
            id: if managed { guid(rng) } else { String::new() },
            display_name: if managed {
                format!("CONTOSO-{:04}", i)
            } else {
                String::new()
            },
            operating_system: os,
            browser,
            is_managed: managed,
            is_compliant: managed && rng.f64() < 0.9,
            trust_type: if managed { "Azure AD joined" } else { "" },
        },
        work_start_hour: start,
        work_end_hour: (start + 9) % 24,
        activity: 0.3 + rng.f64() * 0.7,
        account_enabled: rng.f64() > 0.02,
    }
}

impl Directory {
    /// A tenant of `users` people (about 5% guests), a tenth as many service principals and a
    /// few managed identities.
    pub fn generate(seed: u64, users: usize) -> Self {
        let mut rng = Rng::with_seed(seed);
        let tenant_id = guid(&mut rng);
        let domain = "contoso.example".to_string();
        let users: Vec<User> = (0..users.max(1))
            .map(|i| person(&mut rng, i, &domain))
            .collect();
        let workload = |rng: &mut Rng, name: String, rate: f64| Workload {
            id: guid(rng),
            app_id: guid(rng),
            display_name: name,
            credential_key_id: guid(rng),
            rate,
            place: rng.usize(..PLACES.len()),
            resource_id: "00000003-0000-0000-c000-000000000000".to_string(),
        };
        let n_sp = (users.len() / 10).clamp(3, 200);
        let service_principals = (0..n_sp)
            .map(|i| {
                let name = [
                    "hr-sync",
                    "backup-agent",
                    "crm-connector",
                    "billing-export",
                    "monitoring",
                    "ci-deploy",
                ][i % 6];
                let rate = 1.0 + rng.f64() * 3.0;
                workload(&mut rng, format!("{name}-{i}"), rate)
            })
            .collect();
        let managed_identities = (0..(n_sp / 3).max(2))
            .map(|i| {
                let rate = 2.0 + rng.f64() * 4.0;
                workload(&mut rng, format!("func-app-{i}"), rate)
            })
            .collect();
        let groups = [
            "All Staff",
            "Finance",
            "Engineering",
            "Sales",
            "Helpdesk Admins",
            "Privileged Access Admins",
        ]
        .iter()
        .map(|name| Group {
            id: guid(&mut rng),
            display_name: name.to_string(),
            privileged: name.contains("Admins"),
        })
        .collect();
        let (role_holders, privileged, without_mfa) = roles(seed, &users);
        Directory {
            tenant_id,
            domain,
            users,
            service_principals,
            managed_identities,
            groups,
            role_holders,
            privileged,
            without_mfa,
            attacks: true,
            holidays: Vec::new(),
            legacy_clients: 0,
        }
    }
}
