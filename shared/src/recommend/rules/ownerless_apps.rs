//! `ownerlessApps`: "Assign owners to applications" — no rule is published. Ours: an app
//! registration with no owner (listed with `$expand=owners`): nobody is accountable for its
//! credentials and permissions, and nobody is asked in a review.

use super::{Definition, Facts, Impacted, Thresholds, Verdict, app_url, listed, text};

pub static DEFINITION: Definition = Definition {
    kind: "ownerlessApps",
    display_name: "Assign owners to applications",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "low",
    impact_type: "apps",
    insights: "App registrations with no owner: nobody answers for their credentials and permissions.",
    benefits: "Each application has someone to review and renew it.",
    action_steps: &[(
        "Add at least two owners to each application.",
        "App registrations",
        "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
    )],
    condition: "Ours (no rule is published): an app registration listed with its owners that has none.",
    evaluate,
};

fn evaluate(facts: &Facts, _t: &Thresholds) -> Verdict {
    let apps = match listed(facts, "applications") {
        Ok(a) => a,
        Err(v) => return v,
    };
    let out = apps
        .iter()
        .filter(|a| a["owners"].as_array().is_some_and(Vec::is_empty))
        .map(|a| {
            let app_id = text(&a["appId"]);
            Impacted {
                subject_id: text(&a["id"]),
                resource_type: "application",
                display_name: text(&a["displayName"]),
                details: vec![("appId", app_id.clone()), ("owners", "0".into())],
                portal_url: app_url(&app_id),
            }
        })
        .collect();
    Verdict::Impacted(out)
}
