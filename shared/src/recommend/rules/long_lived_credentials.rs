//! `longLivedCredentials`: "Replace long-lived application credentials" — no rule is
//! published. Ours: a valid client secret whose lifetime (end less start) is over 730 days —
//! the longest the Entra admin center offers, so a longer one was made through the API — or a
//! certificate's over 1095 days (the three years of the SAML signing certificates Entra
//! creates). Both are settings; Microsoft's app management policies can enforce a maximum.
//! <https://learn.microsoft.com/graph/api/resources/applicationauthenticationmethodpolicy>

use super::{Definition, Facts, Thresholds, Verdict, iso};

pub static DEFINITION: Definition = Definition {
    kind: "longLivedCredentials",
    display_name: "Replace long-lived application credentials",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "low",
    impact_type: "apps",
    insights: "Secrets and certificates valid for years stay usable long after they leak.",
    benefits: "A leaked credential stops working sooner.",
    action_steps: &[
        (
            "Replace the credential with a shorter-lived one (or a managed identity or federated credential), then remove it.",
            "App registrations",
            "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
        ),
        ("Limit lifetimes with an app management policy.", "", ""),
    ],
    condition: "Ours (no rule is published): a credential not yet expired whose lifetime is over 730 days for a client secret (the most the admin center offers) or over 1095 days for a certificate (Entra's SAML signing certificates last three years).",
    evaluate,
};

fn evaluate(facts: &Facts, t: &Thresholds) -> Verdict {
    if let Err(v) = super::credentials_listed(facts) {
        return v;
    }
    let out = facts
        .credentials
        .iter()
        .filter(|c| c.end.is_some_and(|e| e > facts.now))
        .filter_map(|c| {
            let days = (c.end? - c.start?).num_days();
            let most = if c.key_type == "clientSecret" {
                t.long_secret_days
            } else {
                t.long_certificate_days
            };
            (days > most).then(|| {
                super::credential(
                    c,
                    vec![
                        ("lifetimeDays", days.to_string()),
                        ("expiryDateTime", c.end.map(iso).unwrap_or_default()),
                    ],
                )
            })
        })
        .collect();
    Verdict::Impacted(out)
}
