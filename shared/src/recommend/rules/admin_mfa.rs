//! `adminMFAV2`: "Require multifactor authentication for administrative roles". Microsoft's
//! secure-score action "tracks the MFA usage" of administrators over 30 days; the exact rule
//! is not published. Ours: a holder of a privileged directory role (`isPrivileged`) who signed
//! in successfully and interactively with single-factor authentication in the last 30 days, or
//! who cannot do MFA at all (no MFA method registered, per `userRegistrationDetails`) — an
//! administrator who cannot complete MFA is not protected by it, signing in or not.
//! <https://learn.microsoft.com/entra/identity/authentication/how-to-authentication-find-coverage-gaps>

use super::{Definition, Facts, Thresholds, Verdict, listed, privileged_holders, user};

pub static DEFINITION: Definition = Definition {
    kind: "adminMFAV2",
    display_name: "Require multifactor authentication for administrative roles",
    category: "identitySecureScore",
    feature_areas: &["users", "conditionalAccess"],
    priority: "high",
    impact_type: "users",
    insights: "Holders of privileged directory roles signed in with a password alone, or have no MFA method to sign in with.",
    benefits: "An administrator's stolen password is not enough to take over the tenant.",
    action_steps: &[
        (
            "Have each administrator register an MFA method.",
            "Authentication methods",
            "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/AuthenticationMethodsMenuBlade/~/AdminAuthMethods",
        ),
        (
            "Require MFA for directory roles with a Conditional Access policy.",
            "Conditional Access",
            "https://entra.microsoft.com/#view/Microsoft_AAD_ConditionalAccess/ConditionalAccessBlade/~/Policies",
        ),
    ],
    condition: "Ours (Microsoft publishes no rule): a holder of a privileged directory role who, in the last 30 days, signed in successfully and interactively with single-factor authentication, or who has no MFA method registered.",
    evaluate,
};

fn evaluate(facts: &Facts, _t: &Thresholds) -> Verdict {
    let holders = match privileged_holders(facts) {
        Ok(h) => h,
        Err(v) => return v,
    };
    let registration = match listed(facts, "userRegistrationDetails") {
        Ok(r) => r,
        Err(v) => return v,
    };
    let users = facts.kind("users").unwrap_or_default();
    let mut out = Vec::new();
    for (id, roles) in holders {
        let unregistered = registration
            .iter()
            .any(|r| r["id"] == id.as_str() && r["isMfaRegistered"] == false);
        let single = facts.single_factor.get(&id);
        if !unregistered && single.is_none() {
            continue;
        }
        let mut details = vec![("roles", roles.join(", "))];
        if unregistered {
            details.push(("mfaRegistered", "false".into()));
        }
        if let Some(s) = single {
            details.push(("singleFactorSignIns", s.count.to_string()));
            details.push(("lastSingleFactorSignIn", s.last.clone()));
        }
        out.push(user(&id, users, details));
    }
    Verdict::Impacted(out)
}
