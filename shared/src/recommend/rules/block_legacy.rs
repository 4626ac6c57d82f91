//! `blockLegacyAuthentication`: "Enable policy to block legacy authentication". The rule is not
//! published. Ours: someone signed in (or tried) with a legacy-authentication client in the
//! last 30 days — the clients the "Sign-ins using legacy authentication" workbook counts — and
//! no enabled Conditional Access policy blocks legacy clients (`exchangeActiveSync` and `other`)
//! for all users and all applications. The impacted resources are the users seen using them.

use super::{Definition, Facts, Thresholds, Verdict, listed, user};
use serde_json::Value;

pub static DEFINITION: Definition = Definition {
    kind: "blockLegacyAuthentication",
    display_name: "Block legacy authentication",
    category: "identitySecureScore",
    feature_areas: &["conditionalAccess"],
    priority: "high",
    impact_type: "users",
    insights: "Legacy-authentication clients (IMAP, POP, SMTP, ActiveSync basic, older Office) were used, and no Conditional Access policy blocks them: they cannot do MFA, so a password is enough.",
    benefits: "Password spray and replay through legacy protocols stop working.",
    action_steps: &[
        (
            "Move the users seen here to modern-authentication clients.",
            "",
            "",
        ),
        (
            "Create a Conditional Access policy blocking the client apps 'Exchange ActiveSync' and 'Other clients' for all users (report-only first).",
            "Conditional Access",
            "https://entra.microsoft.com/#view/Microsoft_AAD_ConditionalAccess/ConditionalAccessBlade/~/Policies",
        ),
    ],
    condition: "Ours (the rule is not published): a legacy-authentication sign-in or attempt in the last 30 days and no enabled Conditional Access policy that blocks the exchangeActiveSync and other client app types for all users and all applications.",
    evaluate,
};

/// Whether `policy` is enabled and blocks legacy clients for everyone everywhere.
fn blocks_legacy(policy: &Value) -> bool {
    let has = |v: &Value, x: &str| v.as_array().is_some_and(|a| a.iter().any(|e| e == x));
    let c = &policy["conditions"];
    policy["state"] == "enabled"
        && has(&policy["grantControls"]["builtInControls"], "block")
        && has(&c["clientAppTypes"], "exchangeActiveSync")
        && has(&c["clientAppTypes"], "other")
        && has(&c["users"]["includeUsers"], "All")
        && has(&c["applications"]["includeApplications"], "All")
}

fn evaluate(facts: &Facts, _t: &Thresholds) -> Verdict {
    let policies = match listed(facts, "conditionalAccessPolicies") {
        Ok(p) => p,
        Err(v) => return v,
    };
    if policies.iter().any(blocks_legacy) || facts.legacy.is_empty() {
        return Verdict::Impacted(Vec::new());
    }
    let users = facts.kind("users").unwrap_or_default();
    let out = facts
        .legacy
        .iter()
        .map(|(id, u)| {
            let mut impacted = user(
                id,
                users,
                vec![
                    ("legacySignIns", u.count.to_string()),
                    ("lastLegacySignIn", u.last.clone()),
                    (
                        "clientApps",
                        u.clients.iter().cloned().collect::<Vec<_>>().join(", "),
                    ),
                ],
            );
            if impacted.display_name == *id && !u.user_principal_name.is_empty() {
                impacted.display_name = u.user_principal_name.clone();
            }
            impacted
        })
        .collect();
    Verdict::Impacted(out)
}
