//! The parts of a user sign-in that real tenants fill and the reports read: the Conditional
//! Access policies applied and their results, device-compliance failures (53000/53001), SAML 2.0
//! apps, several authentication methods, and the beta fields the workbooks need
//! (`authenticationProcessingDetails`, `authenticationRequirementPolicies`,
//! `networkLocationDetails`, `authenticationMethodsUsed`, `originalRequestId`,
//! `alternateSignInName`, `mfaDetail`). Shapes and values as Graph publishes them (the beta
//! `signIn` resource, <https://learn.microsoft.com/graph/api/resources/signin?view=graph-rest-beta>).
//!
//! Every choice here is drawn from a generator seeded by the record's own id, so adding these
//! details leaves the rest of the tenant's activity as it was.

use super::directory::{Directory, User};
use fastrand::Rng;
use serde_json::{Value, json};

/// A Conditional Access policy of the simulated tenant.
pub struct CaPolicy {
    pub id: &'static str,
    pub display_name: &'static str,
    /// `enabled` or `enabledForReportingButNotEnforced`.
    pub state: &'static str,
    pub grant_controls: &'static [&'static str],
}

pub const REQUIRE_MFA: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a61",
    display_name: "Require multifactor authentication for all users",
    state: "enabled",
    grant_controls: &["Mfa"],
};
pub const BLOCK_LEGACY: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a62",
    display_name: "Block legacy authentication",
    state: "enabled",
    grant_controls: &["Block"],
};
pub const COMPLIANT_EXCHANGE: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a63",
    display_name: "Require compliant device for Exchange Online",
    state: "enabled",
    grant_controls: &["RequireCompliantDevice"],
};
pub const HYBRID_PORTAL: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a64",
    display_name: "Require hybrid joined device for Azure management on Windows",
    state: "enabled",
    grant_controls: &["RequireDomainJoinedDevice"],
};
pub const BLOCK_UNSUPPORTED: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a65",
    display_name: "Block access from unsupported device platforms",
    state: "enabled",
    grant_controls: &["Block"],
};
pub const REPORT_ONLY_COMPLIANT: CaPolicy = CaPolicy {
    id: "5f2b1c8e-7a3d-4e6f-9b0a-1c2d3e4f5a66",
    display_name: "Require compliant or hybrid joined device (report-only)",
    state: "enabledForReportingButNotEnforced",
    grant_controls: &["RequireCompliantDevice", "RequireDomainJoinedDevice"],
};

/// The tenant's Conditional Access policies, in the order sign-ins list them.
pub const CA_POLICIES: [&CaPolicy; 6] = [
    &REQUIRE_MFA,
    &BLOCK_LEGACY,
    &COMPLIANT_EXCHANGE,
    &HYBRID_PORTAL,
    &BLOCK_UNSUPPORTED,
    &REPORT_ONLY_COMPLIANT,
];

const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";
const AZURE_PORTAL: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";

/// Enterprise apps signed in to with SAML 2.0 (the tenant's own registrations).
pub const SAML_APPS: &[(&str, &str)] = &[
    ("2f7c0b58-1d4e-4a8b-9c3f-6e5d4c3b2a11", "Salesforce"),
    ("2f7c0b58-1d4e-4a8b-9c3f-6e5d4c3b2a12", "ServiceNow"),
    ("2f7c0b58-1d4e-4a8b-9c3f-6e5d4c3b2a13", "Workday"),
];

/// The offices' named location (the first three places are offices).
pub const OFFICE_LOCATION: &str = "Contoso offices";
pub const OFFICES: usize = 3;

/// Codes of the device-compliance failures.
pub const DEVICE_NOT_COMPLIANT: i64 = 53000;
pub const DEVICE_NOT_DOMAIN_JOINED: i64 = 53001;

/// A generator for one purpose (`salt`) seeded by the record's id.
fn seeded(json: &Value, salt: u64) -> Rng {
    let id = json["id"].as_str().unwrap_or_default();
    let bits = u128::from_str_radix(&id.replace('-', ""), 16).unwrap_or(0);
    Rng::with_seed((bits as u64) ^ ((bits >> 64) as u64).rotate_left(17) ^ salt)
}

/// The trust type of a user's device: of managed devices, Windows ones are split between
/// Entra joined and hybrid joined, others registered (as a tenant's mix is).
pub fn trust_type(user: &User) -> &'static str {
    if !user.device.is_managed {
        return "";
    }
    let first = user.device.id.chars().next().unwrap_or('0');
    if user.device.operating_system.starts_with("Windows") {
        if first < '8' {
            "Hybrid Azure AD joined"
        } else {
            "Azure AD joined"
        }
    } else if user.device.operating_system == "MacOs" {
        "Azure AD joined"
    } else {
        "Azure AD registered"
    }
}

/// A short trip from each home place (same order as `PLACES`), under the distance impossible
/// travel looks at: city, country, latitude, longitude, address prefix, ASN.
const TRIPS: [(&str, &str, f64, f64, &str, i64); 7] = [
    ("Vancouver", "CA", 49.28, -123.12, "24.85.112", 6327),
    ("Philadelphia", "US", 39.95, -75.17, "68.82.40", 7922),
    ("Paris", "FR", 48.86, 2.35, "90.84.160", 3215),
    ("Brussels", "BE", 50.85, 4.35, "81.82.200", 6848),
    ("Prague", "CZ", 50.08, 14.44, "89.24.56", 5610),
    ("Chennai", "IN", 13.08, 80.27, "106.51.64", 24560),
    ("Canberra", "AU", -35.28, 149.13, "101.160.32", 1221),
];

/// Each home place's mobile carrier: address prefix, ASN (same country, same city).
const MOBILE: [(&str, i64); 7] = [
    ("172.58.96", 21928),
    ("174.201.12", 6167),
    ("31.94.40", 12576),
    ("62.140.132", 33915),
    ("109.42.240", 3209),
    ("157.32.8", 55836),
    ("120.16.72", 4804),
];

/// What a user does on a given UTC day (seeded by user and day): 2% of user-days away on a
/// short trip abroad with their own device, 3% (not away) on a second device, a new phone
/// not enrolled.
fn user_day(user: &User, time: &str) -> (bool, Option<String>) {
    let day = chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.timestamp().div_euclid(86_400))
        .unwrap_or(0) as u64;
    let bits = u128::from_str_radix(&user.id.replace('-', ""), 16).unwrap_or(0) as u64;
    let mut r = Rng::with_seed(bits ^ day.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7A11_0C8D);
    let away = r.f64() < 0.02;
    let second = !away && r.f64() < 0.03;
    (
        away,
        second.then(|| super::directory::guid_from(r.u128(..))),
    )
}

/// Varies a normal interactive sign-in before its details are filled, as real users do: away
/// on a trip, on a mobile network (10% of sign-ins at home), on a second device; 6% go to a
/// SAML 2.0 app; the second factor is one of several methods; sign-ins the device policies
/// refuse fail with 53000 / 53001.
pub fn vary(json: &mut Value, user: &User) {
    let mut x = seeded(json, 0xD1B5_4A32_D192_ED03);
    let (away, second_device) = user_day(user, json["createdDateTime"].as_str().unwrap_or(""));
    let home = user.home.min(TRIPS.len() - 1);
    if away {
        let (city, country, latitude, longitude, prefix, asn) = TRIPS[home];
        json["ipAddress"] = json!(format!("{prefix}.{}", x.u8(2..250)));
        json["autonomousSystemNumber"] = json!(asn);
        json["location"] = json!({ "city": city, "state": null, "countryOrRegion": country,
            "geoCoordinates": { "altitude": null, "latitude": latitude, "longitude": longitude } });
    } else if x.f64() < 0.1 {
        let (prefix, asn) = MOBILE[home];
        json["ipAddress"] = json!(format!("{prefix}.{}", x.u8(2..250)));
        json["autonomousSystemNumber"] = json!(asn);
    }
    if let Some(device) = &second_device {
        json["deviceDetail"] = json!({ "deviceId": device, "displayName": "", "operatingSystem": "Ios",
            "browser": "Mobile Safari", "isCompliant": false, "isManaged": false, "trustType": "" });
    }
    let interactive = json["isInteractive"].as_bool().unwrap_or(false);
    if interactive && x.f64() < 0.06 {
        let (app_id, name) = SAML_APPS[x.usize(..SAML_APPS.len())];
        json["appId"] = json!(app_id);
        json["appDisplayName"] = json!(name);
        json["resourceId"] = json!(app_id);
        json["resourceDisplayName"] = json!(name);
        json["authenticationProtocol"] = json!("saml20");
    }
    let method = [
        ("Mobile app notification", "MFA successfully completed"),
        ("Mobile app notification", "MFA successfully completed"),
        ("OATH verification code", "MFA successfully completed"),
        ("Text message", "MFA successfully completed"),
        ("Phone call", "MFA successfully completed"),
        ("FIDO2 security key", "MFA successfully completed"),
    ][x.usize(..6)];
    if let Some(step) = json["authenticationDetails"].get_mut(1) {
        step["authenticationMethod"] = json!(method.0);
        step["authenticationStepResultDetail"] = json!(method.1);
    }
    let trust = if second_device.is_some() {
        ""
    } else {
        trust_type(user)
    };
    json["deviceDetail"]["trustType"] = json!(trust);
    if json["status"]["errorCode"].as_i64() != Some(0) || !interactive {
        return;
    }
    let app = json["appId"].as_str().unwrap_or_default();
    let compliant = json["deviceDetail"]["isCompliant"] == true;
    let windows = json["deviceDetail"]["operatingSystem"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Windows");
    let failure = if app == EXCHANGE && !compliant && x.f64() < 0.5 {
        Some((
            DEVICE_NOT_COMPLIANT,
            "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant. The user must enroll their device with an approved MDM provider like Intune.",
        ))
    } else if app == AZURE_PORTAL && windows && trust != "Hybrid Azure AD joined" {
        Some((
            DEVICE_NOT_DOMAIN_JOINED,
            "Device is not in required device state: domainJoined. Conditional Access policy requires a domain joined device, and the device is not domain joined. Have the user use a domain joined device.",
        ))
    } else {
        None
    };
    if let Some((code, reason)) = failure {
        json["status"] =
            json!({ "errorCode": code, "failureReason": reason, "additionalDetails": null });
        json["authenticationDetails"] = json!([]);
        json["authenticationRequirement"] = json!("singleFactorAuthentication");
    }
}

fn applied(policy: &CaPolicy, result: &str) -> Value {
    let enforced = matches!(
        result,
        "success" | "failure" | "reportOnlySuccess" | "reportOnlyFailure"
    );
    json!({
        "id": policy.id,
        "displayName": policy.display_name,
        "enforcedGrantControls": if enforced { json!(policy.grant_controls) } else { json!([]) },
        "enforcedSessionControls": [],
        "result": result,
        "conditionsSatisfied": if result.ends_with("otApplied") { "none" } else { "application,users" },
        "conditionsNotSatisfied": if result.ends_with("otApplied") { "application" } else { "none" },
    })
}

/// What a sign-in's fields say about the policies' conditions.
struct Facts {
    code: i64,
    legacy: bool,
    mfa_done: bool,
    exchange: bool,
    portal_from_windows: bool,
    compliant: bool,
    hybrid: bool,
}

/// The result of policy `id` for a sign-in that reached Conditional Access.
fn policy_result(id: &str, f: &Facts) -> &'static str {
    match id {
        id if id == REQUIRE_MFA.id => {
            if f.legacy {
                "notApplied"
            } else if f.mfa_done {
                "success"
            } else if matches!(f.code, 50074 | 50076 | 500121) {
                "failure"
            } else {
                "notApplied"
            }
        }
        // A legacy sign-in that succeeded came from a user the policy excludes.
        id if id == BLOCK_LEGACY.id => {
            if f.legacy && f.code == 53003 {
                "failure"
            } else {
                "notApplied"
            }
        }
        id if id == COMPLIANT_EXCHANGE.id => match (f.exchange, f.compliant) {
            (false, _) => "notApplied",
            (true, true) => "success",
            (true, false) if f.code == DEVICE_NOT_COMPLIANT => "failure",
            // The policy is satisfied by a device-compliance grace period.
            (true, false) => "success",
        },
        id if id == HYBRID_PORTAL.id => match (f.portal_from_windows, f.hybrid) {
            (false, _) => "notApplied",
            (true, true) => "success",
            (true, false) => "failure",
        },
        id if id == BLOCK_UNSUPPORTED.id => {
            if f.code == 53003 && !f.legacy {
                "failure"
            } else {
                "notApplied"
            }
        }
        _ => {
            if f.legacy {
                "reportOnlyNotApplied"
            } else if f.compliant || f.hybrid {
                "reportOnlySuccess"
            } else {
                "reportOnlyFailure"
            }
        }
    }
}

/// Fills the Conditional Access and authentication details of a user sign-in from its own
/// fields (status, app, client, device, place, authentication steps), consistently: a sign-in
/// that failed before Conditional Access (a bad password, a disabled account) lists no policy.
pub fn complete(json: &mut Value, dir: &Directory) {
    let mut x = seeded(json, 0x8CB9_2BA7_2F3D_8DD7);
    let code = json["status"]["errorCode"].as_i64().unwrap_or(0);
    let app = json["appId"].as_str().unwrap_or_default().to_string();
    let client = json["clientAppUsed"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let legacy = client != "Browser" && client != "Mobile Apps and Desktop clients";
    let device = &json["deviceDetail"];
    let compliant = device["isCompliant"].as_bool().unwrap_or(false);
    let hybrid = device["trustType"] == "Hybrid Azure AD joined";
    let windows = device["operatingSystem"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Windows");
    let steps: Vec<Value> = json["authenticationDetails"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mfa_step = steps
        .iter()
        .find(|s| s["authenticationStepRequirement"] == "MFA");
    let mfa_done = mfa_step.is_some_and(|s| s["succeeded"] == true);
    let before_ca = matches!(code, 50126 | 50057 | 50053 | 50055);
    let facts = Facts {
        code,
        legacy,
        mfa_done,
        exchange: app == EXCHANGE,
        portal_from_windows: app == AZURE_PORTAL && windows,
        compliant,
        hybrid,
    };
    let policies: Vec<Value> = if before_ca {
        Vec::new()
    } else {
        CA_POLICIES
            .iter()
            .map(|p| applied(p, policy_result(p.id, &facts)))
            .collect()
    };
    let enforced: Vec<&str> = policies
        .iter()
        .filter(|p| {
            !p["result"]
                .as_str()
                .unwrap_or_default()
                .starts_with("reportOnly")
        })
        .filter_map(|p| p["result"].as_str())
        .collect();
    json["conditionalAccessStatus"] = json!(if enforced.contains(&"failure") {
        "failure"
    } else if enforced.contains(&"success") {
        "success"
    } else {
        "notApplied"
    });
    json["appliedConditionalAccessPolicies"] = json!(policies);
    json["authenticationRequirementPolicies"] = if mfa_step.is_some() || code == 500121 {
        json!([{ "requirementProvider": "multiConditionalAccess", "detail": "Conditional Access" }])
    } else {
        json!([])
    };
    let methods: Vec<&str> = steps
        .iter()
        .filter(|s| s["succeeded"] == true)
        .filter_map(|s| s["authenticationMethod"].as_str())
        .filter(|m| *m != "Previously satisfied")
        .collect();
    json["authenticationMethodsUsed"] = json!(methods);
    json["mfaDetail"] = match mfa_step {
        Some(s) => json!({ "authMethod": s["authenticationMethod"], "authDetail": null }),
        None => Value::Null,
    };
    let adal = x.f64() < 0.03;
    let legacy_tls = x.f64() < 0.02;
    json["authenticationProcessingDetails"] = json!([
        { "key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": if legacy_tls { "True" } else { "False" } },
        { "key": "Is CAE Token", "value": "False" },
        { "key": "Azure AD App Authentication Library", "value": if adal {
            "Family: ADAL Library: ADAL.NET 3.19.8 Platform: .NET"
        } else {
            "Family: MSAL Library: MSAL.JS 2.38.0 Platform: JS"
        } },
    ]);
    let ip = json["ipAddress"].as_str().unwrap_or_default();
    let office = super::directory::PLACES
        .iter()
        .take(OFFICES)
        .any(|p| ip.starts_with(&format!("{}.", p.ip_prefix)));
    json["networkLocationDetails"] = if office {
        json!([{ "networkType": "namedNetwork", "networkNames": [OFFICE_LOCATION] }])
    } else {
        json!([])
    };
    json["originalRequestId"] = json["id"].clone();
    json["alternateSignInName"] = json["userPrincipalName"].clone();
    json["resourceTenantId"] = json!(dir.tenant_id);
}

/// Whether Entra publishes this sign-in first without its MFA step (30% of those with one) and
/// when it completes it: 20–100 minutes after the sign-in, within the FAQ's "up to ~2 h" for
/// MFA data (a sign-in published later than that is published complete).
pub fn revision(
    json: &Value,
    time: chrono::DateTime<chrono::Utc>,
    visible_at: chrono::DateTime<chrono::Utc>,
) -> Option<super::record::Revision> {
    let steps = json["authenticationDetails"].as_array()?;
    let mfa = steps
        .iter()
        .position(|s| s["authenticationStepRequirement"] == "MFA")?;
    let mut x = seeded(json, 0x52DC_E729_DA3E_D6F1);
    let revised_at = time + chrono::Duration::minutes(x.i64(20..100));
    if x.f64() >= 0.3 || revised_at <= visible_at {
        return None;
    }
    let mut first = json.clone();
    let mut early = steps.clone();
    early.remove(mfa);
    first["authenticationMethodsUsed"] = json!(
        early
            .iter()
            .filter_map(|s| s["authenticationMethod"].as_str())
            .collect::<Vec<_>>()
    );
    first["authenticationDetails"] = json!(early);
    first["mfaDetail"] = Value::Null;
    Some(super::record::Revision { first, revised_at })
}
