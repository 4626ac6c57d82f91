//! `staleApps`: "Remove unused applications" — Microsoft's documented rule: an application not
//! used for more than 90 days (no token issued to it as a client, none requested for it as a
//! resource), exempting applications created in the last 90 days and Microsoft's own.
//! <https://learn.microsoft.com/entra/identity/monitoring-health/recommendation-remove-unused-apps>
//!
//! The tenant's app registrations are judged; Microsoft's apps have none in it. Last use is the
//! latest sign-in in any role — our logs', or Microsoft's `servicePrincipalSignInActivities`
//! (all history) where collected. Without Microsoft's report, our logs must reach back the
//! whole window, or the rule waits rather than call every app unused. Use in other tenants
//! (multi-tenant apps) is invisible here.

use super::{Definition, Facts, Impacted, Thresholds, Verdict, app_url, iso, listed, text};
use chrono::{DateTime, Duration};

pub static DEFINITION: Definition = Definition {
    kind: "staleApps",
    display_name: "Remove unused applications",
    category: "identityBestPractice",
    feature_areas: &["applications"],
    priority: "medium",
    impact_type: "apps",
    insights: "Applications that no one signed in to, as a client or a resource, for the window: their credentials and permissions are attack surface with no use.",
    benefits: "Fewer applications with credentials and permissions an attacker could use.",
    action_steps: &[
        (
            "Review each application: confirm with its owners that it is no longer needed.",
            "App registrations",
            "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
        ),
        (
            "Remove its credentials first, or delete it (it stays restorable for 30 days).",
            "",
            "",
        ),
    ],
    condition: "Microsoft's documented rule: an app registration created more than 90 days ago whose last sign-in in any role (our logs, or Microsoft's servicePrincipalSignInActivities where collected) is older than 90 days or never happened. Waits when neither Microsoft's report nor 90 days of our logs are at hand.",
    evaluate,
};

fn evaluate(facts: &Facts, t: &Thresholds) -> Verdict {
    let apps = match listed(facts, "applications") {
        Ok(a) => a,
        Err(v) => return v,
    };
    let days = t.stale_app_days;
    if facts.microsoft_app_sign_ins.is_none() && !facts.logs_cover(days) {
        return Verdict::Undecided(format!(
            "needs {days} days of sign-ins or Microsoft's servicePrincipalSignInActivities (Workload ID Premium); the logs reach back {} days",
            facts.logs_days()
        ));
    }
    let since = facts.now - Duration::days(days);
    let mut out = Vec::new();
    for app in apps {
        let app_id = text(&app["appId"]);
        let created = DateTime::parse_from_rfc3339(&text(&app["createdDateTime"])).ok();
        if created.is_none_or(|c| c > since) {
            continue;
        }
        let ours = facts.app_sign_ins.get(&app_id).copied();
        let microsoft = facts
            .microsoft_app_sign_ins
            .as_ref()
            .and_then(|m| m.get(&app_id).copied());
        let last = ours.max(microsoft);
        if last.is_some_and(|l| l >= since) {
            continue;
        }
        out.push(Impacted {
            subject_id: text(&app["id"]),
            resource_type: "application",
            display_name: text(&app["displayName"]),
            details: vec![
                ("appId", app_id.clone()),
                ("createdDateTime", text(&app["createdDateTime"])),
                (
                    "lastSignInDateTime",
                    last.map(iso).unwrap_or_else(|| "never".into()),
                ),
            ],
            portal_url: app_url(&app_id),
        });
    }
    Verdict::Impacted(out)
}
