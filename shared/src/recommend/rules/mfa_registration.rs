//! `mfaRegistrationV2`: "Ensure all users can complete multifactor authentication". Microsoft
//! scores it per user ("X out of Y users registered and protected with MFA") without publishing
//! the rule. Ours: an enabled account whose `userRegistrationDetails` says it has no MFA method
//! registered (`isMfaRegistered` false).

use super::{Definition, Facts, Thresholds, Verdict, listed, user};

pub static DEFINITION: Definition = Definition {
    kind: "mfaRegistrationV2",
    display_name: "Ensure all users can complete multifactor authentication",
    category: "identitySecureScore",
    feature_areas: &["users"],
    priority: "high",
    impact_type: "users",
    insights: "Users with no method to complete MFA: a policy requiring it either blocks them or is not applied to them.",
    benefits: "Every account can be protected by MFA.",
    action_steps: &[(
        "Have the users register (a registration campaign or the combined registration page).",
        "Registration campaign",
        "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/AuthenticationMethodsMenuBlade/~/RegistrationCampaign",
    )],
    condition: "Ours (Microsoft publishes no rule): an enabled account with no MFA method registered (userRegistrationDetails.isMfaRegistered is false).",
    evaluate,
};

fn evaluate(facts: &Facts, _t: &Thresholds) -> Verdict {
    let registration = match listed(facts, "userRegistrationDetails") {
        Ok(r) => r,
        Err(v) => return v,
    };
    let users = facts.kind("users").unwrap_or_default();
    let disabled = |id: &serde_json::Value| {
        users
            .iter()
            .any(|u| u["id"] == *id && u["accountEnabled"] == false)
    };
    let out = registration
        .iter()
        .filter(|r| r["isMfaRegistered"] == false && !disabled(&r["id"]))
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            user(id, users, vec![("userType", super::text(&r["userType"]))])
        })
        .collect();
    Verdict::Impacted(out)
}
