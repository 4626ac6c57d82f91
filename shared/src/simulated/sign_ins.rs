//! A user's sign-in as Graph returns it: the user, an app, a result (failures at the rates of
//! real tenants), MFA, device and place; then its Conditional Access and authentication
//! details ([`super::details`]).

use super::directory::{APPS, Directory, PLACES};
use super::record::{id, ip, iso, location};
use chrono::{DateTime, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

/// Sign-in failures seen in real tenants (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>).
const FAILURES: &[(i64, &str)] = &[
    (
        50126,
        "Error validating credentials due to invalid username or password.",
    ),
    (50074, "Strong Authentication is required."),
    (
        50140,
        "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
    ),
    (
        53003,
        "Access has been blocked by Conditional Access policies.",
    ),
    (
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication.",
    ),
];

/// The protocols old clients sign in with (`clientAppUsed`).
const LEGACY_PROTOCOLS: [&str; 4] = ["IMAP4", "POP3", "Authenticated SMTP", "Exchange ActiveSync"];

/// The users with a legacy client ([`Directory::legacy_clients`]): enabled members spread over
/// the directory.
pub fn legacy_users(dir: &Directory) -> impl Iterator<Item = &super::directory::User> {
    let members: Vec<&super::directory::User> = dir
        .users
        .iter()
        .filter(|u| u.account_enabled && !u.is_guest)
        .collect();
    let n = dir.legacy_clients.min(members.len());
    let stride = members.len().checked_div(n).unwrap_or(1);
    members.into_iter().step_by(stride.max(1)).take(n)
}

/// A legacy client's sign-in to Exchange Online (its protocol fixed per user), refused by the
/// "Block legacy authentication" policy with 53003, as Entra logs it: an interactive sign-in
/// with no authentication step.
pub fn legacy_sign_in(
    rng: &mut Rng,
    dir: &Directory,
    user: &super::directory::User,
    t: DateTime<Utc>,
) -> Value {
    let mut json = user_sign_in(rng, dir, user, t, true);
    let exchange = &APPS[0];
    let protocol = LEGACY_PROTOCOLS[user.id.bytes().map(usize::from).sum::<usize>() % 4];
    json["appId"] = json!(exchange.app_id);
    json["appDisplayName"] = json!(exchange.display_name);
    json["resourceId"] = json!(exchange.resource_id);
    json["resourceDisplayName"] = json!(exchange.resource_display_name);
    json["clientAppUsed"] = json!(protocol);
    json["userAgent"] = json!("");
    json["authenticationDetails"] = json!([]);
    json["authenticationRequirement"] = json!("singleFactorAuthentication");
    json["status"] = json!({ "errorCode": 53003, "failureReason": "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "additionalDetails": null });
    super::details::complete(&mut json, dir);
    json
}

pub fn user_sign_in(
    rng: &mut Rng,
    dir: &Directory,
    user: &super::directory::User,
    t: DateTime<Utc>,
    interactive: bool,
) -> Value {
    let app = &APPS[rng.usize(..APPS.len())];
    let (code, reason) = if !user.account_enabled {
        (
            50057,
            "User account is disabled. The account has been disabled by an administrator.",
        )
    } else if rng.f64() < if interactive { 0.08 } else { 0.03 } {
        FAILURES[rng.usize(..FAILURES.len())]
    } else {
        (0, "")
    };
    // Most people pass MFA on six sign-ins in ten (the others are not asked); administrators
    // always do, but those with no MFA method (seeded) sign in with a password alone.
    let asked = rng.f64() < 0.6;
    let mfa = interactive
        && code == 0
        && if dir.privileged.contains(&user.id) {
            !dir.without_mfa.contains(&user.id)
        } else {
            asked
        };
    // Drawn to keep the generator's sequence; the status is derived from the policies applied
    // (details::complete).
    if code != 53003 {
        let _ = rng.f64();
    }
    let mut json = json!({
        "id": id(rng),
        "createdDateTime": iso(t),
        "userDisplayName": user.display_name,
        "userPrincipalName": user.user_principal_name,
        "userId": user.id,
        "userType": if user.is_guest { "guest" } else { "member" },
        "appId": app.app_id,
        "appDisplayName": app.display_name,
        "ipAddress": ip(rng, user.home),
        "autonomousSystemNumber": PLACES[user.home].asn,
        "clientAppUsed": if interactive { "Browser" } else { "Mobile Apps and Desktop clients" },
        "userAgent": format!("Mozilla/5.0 ({}) {}", user.device.operating_system, user.device.browser),
        "correlationId": id(rng),
        "conditionalAccessStatus": "notApplied",
        "isInteractive": interactive,
        "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "resourceDisplayName": app.resource_display_name,
        "resourceId": app.resource_id,
        "resourceTenantId": dir.tenant_id,
        "homeTenantId": dir.tenant_id,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "authenticationRequirement": if mfa { "multiFactorAuthentication" } else { "singleFactorAuthentication" },
        "authenticationProtocol": "none",
        "tokenIssuerType": "AzureAD",
        "tokenIssuerName": "",
        "uniqueTokenIdentifier": id(rng).replace('-', ""),
        "processingTimeInMilliseconds": rng.i64(40..900),
        "status": { "errorCode": code, "failureReason": if code == 0 { "Other." } else { reason }, "additionalDetails": null },
        "deviceDetail": {
            "deviceId": user.device.id, "displayName": user.device.display_name,
            "operatingSystem": user.device.operating_system, "browser": user.device.browser,
            "isCompliant": user.device.is_compliant, "isManaged": user.device.is_managed,
            "trustType": user.device.trust_type
        },
        "location": location(user.home),
        "appliedConditionalAccessPolicies": [],
        "authenticationDetails": if mfa {
            json!([
                { "authenticationStepDateTime": iso(t), "authenticationMethod": "Password", "authenticationMethodDetail": "Password in the cloud", "succeeded": true, "authenticationStepResultDetail": "Correct password", "authenticationStepRequirement": "Primary authentication" },
                { "authenticationStepDateTime": iso(t), "authenticationMethod": "Mobile app notification", "authenticationMethodDetail": null, "succeeded": true, "authenticationStepResultDetail": "MFA successfully completed", "authenticationStepRequirement": "MFA" }
            ])
        } else { json!([]) },
        "servicePrincipalId": "",
        "servicePrincipalName": null,
        "managedServiceIdentity": { "msiType": "none", "associatedResourceId": null },
        "clientCredentialType": "none",
        "crossTenantAccessType": "none",
        "incomingTokenType": "none",
        "flaggedForReview": false,
        "mfaDetail": null
    });
    super::details::vary(&mut json, user);
    super::details::complete(&mut json, dir);
    json
}
