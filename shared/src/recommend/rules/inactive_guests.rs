//! `inactiveGuests`: "Remove inactive guests" — no rule is published (Microsoft suggests 90 to
//! 180 days for inactive accounts). Ours: an enabled guest account created more than 90 days ago
//! (a setting) with no successful sign-in in the last 90 days — from `signInActivity` where the
//! tenant has Entra ID P1 (it covers all history), else from our logs when they reach back the
//! whole window.
//! <https://learn.microsoft.com/entra/identity/monitoring-health/howto-manage-inactive-user-accounts>

use super::{Definition, Facts, Thresholds, Verdict, iso, listed, text, user};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

pub static DEFINITION: Definition = Definition {
    kind: "inactiveGuests",
    display_name: "Remove inactive guest accounts",
    category: "identityBestPractice",
    feature_areas: &["users"],
    priority: "medium",
    impact_type: "users",
    insights: "Guests who have not signed in for months keep their access to the tenant's resources.",
    benefits: "Access ends when the collaboration does.",
    action_steps: &[
        (
            "Review the guests with their sponsors; remove or disable those no longer needed.",
            "Users",
            "https://entra.microsoft.com/#view/Microsoft_AAD_UsersAndTenants/UserManagementMenuBlade/~/AllUsers",
        ),
        (
            "Keep it so with an access review of guests.",
            "Access reviews",
            "https://entra.microsoft.com/#view/Microsoft_AAD_ERM/DashboardBlade/~/Controls",
        ),
    ],
    condition: "Ours (no rule is published; Microsoft suggests 90 to 180 days): an enabled guest created more than 90 days ago with no successful sign-in in the last 90 days, from signInActivity (P1) or else our logs when they cover the 90 days.",
    evaluate,
};

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn evaluate(facts: &Facts, t: &Thresholds) -> Verdict {
    let users = match listed(facts, "users") {
        Ok(u) => u,
        Err(v) => return v,
    };
    let days = t.inactive_guest_days;
    let licensed = users.iter().any(|u| u.get("signInActivity").is_some());
    if !licensed && !facts.logs_cover(days) {
        return Verdict::Undecided(format!(
            "needs signInActivity (Entra ID P1) or {days} days of sign-ins; the logs reach back {} days",
            facts.logs_days()
        ));
    }
    let since = facts.now - Duration::days(days);
    let mut out = Vec::new();
    for u in users {
        if u["userType"] != "Guest" || u["accountEnabled"] == false {
            continue;
        }
        if time(&u["createdDateTime"]).is_none_or(|c| c > since) {
            continue;
        }
        let id = text(&u["id"]);
        let (last, source) = match u.get("signInActivity") {
            Some(a) => (time(&a["lastSuccessfulSignInDateTime"]), "signInActivity"),
            None => (facts.user_sign_ins.get(&id).copied(), "logs"),
        };
        if last.is_some_and(|l| l >= since) {
            continue;
        }
        out.push(user(
            &id,
            users,
            vec![
                (
                    "lastSuccessfulSignInDateTime",
                    last.map(iso).unwrap_or_else(|| "never".into()),
                ),
                ("source", source.into()),
            ],
        ));
    }
    Verdict::Impacted(out)
}
