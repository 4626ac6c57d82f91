//! `staleAppCreds`: "Remove unused credentials from applications" — Microsoft's documented
//! rule: a credential (added to an app for OAuth/OIDC, or to a service principal for SAML) not
//! used in 30 days; expired ones are not listed.
//! <https://learn.microsoft.com/entra/identity/monitoring-health/recommendation-remove-unused-credential-from-apps>
//!
//! Last use is the `app-credentials` report's: ours (a service principal signing in with the
//! key, a SAML sign-in for a signing certificate) or Microsoft's `appCredentialSignInActivities`
//! where collected. A credential younger than the window is not judged; without Microsoft's
//! report our logs must reach back the whole window.

use super::{Definition, Facts, Thresholds, Verdict, iso};
use chrono::Duration;

pub static DEFINITION: Definition = Definition {
    kind: "staleAppCreds",
    display_name: "Remove unused credentials from applications",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "medium",
    impact_type: "apps",
    insights: "Client secrets and certificates no one signed in with for the window: each is a way in that nobody needs.",
    benefits: "Fewer valid credentials to leak.",
    action_steps: &[
        (
            "Confirm with the application's owners that the credential is not used.",
            "App registrations",
            "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
        ),
        ("Remove it under Certificates & secrets.", "", ""),
    ],
    condition: "Microsoft's documented rule: a credential that has not expired, is older than 30 days, and was not used to sign in for 30 days (our logs, or Microsoft's appCredentialSignInActivities where collected). Waits when neither Microsoft's report nor 30 days of our logs are at hand.",
    evaluate,
};

fn evaluate(facts: &Facts, t: &Thresholds) -> Verdict {
    if let Err(v) = super::credentials_listed(facts) {
        return v;
    }
    let days = t.stale_credential_days;
    if !facts.microsoft_credentials && !facts.logs_cover(days) {
        return Verdict::Undecided(format!(
            "needs {days} days of sign-ins or Microsoft's appCredentialSignInActivities (Workload ID Premium); the logs reach back {} days",
            facts.logs_days()
        ));
    }
    let since = facts.now - Duration::days(days);
    let out = facts
        .credentials
        .iter()
        .filter(|c| c.end.is_some_and(|e| e > facts.now))
        .filter(|c| c.start.is_some_and(|s| s <= since))
        .filter(|c| {
            c.last_used
                .max(c.microsoft_last_used)
                .is_none_or(|l| l < since)
        })
        .map(|c| {
            let last = c.last_used.max(c.microsoft_last_used);
            let last = last.map(iso).unwrap_or_else(|| "never".into());
            super::credential(c, vec![("lastUsedDateTime", last)])
        })
        .collect();
    Verdict::Impacted(out)
}
