//! `applicationCredentialExpiry` and `servicePrincipalKeyExpiry`: "Renew expiring application
//! credentials" / "Renew expiring service principal credentials" — Microsoft's documented
//! rules: a credential of an app registration (or of a service principal, often a SAML signing
//! certificate) expiring within the next 30 days; removed credentials are exempt and lapsed
//! ones are no longer listed (the resource completes).
//! <https://learn.microsoft.com/entra/identity/monitoring-health/recommendation-renew-expiring-application-credential>
//! <https://learn.microsoft.com/entra/identity/monitoring-health/recommendation-renew-expiring-service-principal-credential>

use super::{Definition, Facts, Thresholds, Verdict, iso};
use chrono::Duration;

pub static APPLICATIONS: Definition = Definition {
    kind: "applicationCredentialExpiry",
    display_name: "Renew expiring application credentials",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "high",
    impact_type: "apps",
    insights: "Client secrets or certificates of app registrations expire soon: the applications using them will fail to sign in.",
    benefits: "No outage when a credential expires.",
    action_steps: &[
        (
            "Add a new credential to the app registration and deploy it where the app runs.",
            "App registrations",
            "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
        ),
        (
            "Remove the old credential once nothing signs in with it.",
            "",
            "",
        ),
    ],
    condition: "Microsoft's documented rule: a credential of an app registration expiring within the next 30 days.",
    evaluate: applications,
};

pub static SERVICE_PRINCIPALS: Definition = Definition {
    kind: "servicePrincipalKeyExpiry",
    display_name: "Renew expiring service principal credentials",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "high",
    impact_type: "apps",
    insights: "Credentials of service principals (often SAML signing certificates) expire soon: single sign-on to the application will fail.",
    benefits: "No outage when a signing certificate or key expires.",
    action_steps: &[
        (
            "Create a new certificate on the enterprise application's single sign-on page and give it to the application.",
            "Enterprise applications",
            "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/StartboardApplicationsMenuBlade/~/AppAppsPreview",
        ),
        ("Make it active, then remove the old one.", "", ""),
    ],
    condition: "Microsoft's documented rule: a credential of a service principal expiring within the next 30 days.",
    evaluate: service_principals,
};

fn expiring(facts: &Facts, t: &Thresholds, origin: &str) -> Verdict {
    let kind = if origin == "application" {
        "applications"
    } else {
        "servicePrincipals"
    };
    if let Err(v) = super::listed(facts, kind) {
        return v;
    }
    let until = facts.now + Duration::days(t.expiry_days);
    let out = facts
        .credentials
        .iter()
        .filter(|c| c.origin == origin)
        .filter(|c| c.end.is_some_and(|e| e > facts.now && e <= until))
        .map(|c| {
            super::credential(
                c,
                vec![("expiryDateTime", c.end.map(iso).unwrap_or_default())],
            )
        })
        .collect();
    Verdict::Impacted(out)
}

fn applications(facts: &Facts, t: &Thresholds) -> Verdict {
    expiring(facts, t, "application")
}

fn service_principals(facts: &Facts, t: &Thresholds) -> Verdict {
    expiring(facts, t, "servicePrincipal")
}
