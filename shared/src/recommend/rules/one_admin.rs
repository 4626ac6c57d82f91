//! `oneAdmin`: "Designate more than one Global Administrator". Microsoft gives the title only;
//! its best practice is at least two and fewer than five Global Administrators (the overview
//! page warns at five). Ours: fewer than 2 or at least 5 (both settings); the impacted
//! resources are the Global Administrators (the tenant itself when there are none).
//! <https://learn.microsoft.com/entra/identity/role-based-access-control/best-practices>

use super::{Definition, Facts, Impacted, Thresholds, Verdict, listed, text, user};

/// The Global Administrator role's template id (the same in every tenant).
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

pub static DEFINITION: Definition = Definition {
    kind: "oneAdmin",
    display_name: "Designate more than one Global Administrator, and fewer than five",
    category: "identitySecureScore",
    feature_areas: &["users"],
    priority: "medium",
    impact_type: "users",
    insights: "One Global Administrator is a single point of failure; many are many ways to take over the tenant.",
    benefits: "The tenant can be administered if one account is lost, and few accounts hold every right.",
    action_steps: &[(
        "Keep two to four Global Administrators; give the others the narrowest role that does their work.",
        "Roles and administrators",
        "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/RolesManagementMenuBlade/~/AllRoles",
    )],
    condition: "Ours (Microsoft gives the title; its best practice says at least two and fewer than five): fewer than 2 or at least 5 active Global Administrator assignments.",
    evaluate,
};

fn evaluate(facts: &Facts, t: &Thresholds) -> Verdict {
    let assignments = match listed(facts, "roleAssignments") {
        Ok(a) => a,
        Err(v) => return v,
    };
    let users = facts.kind("users").unwrap_or_default();
    let mut admins: Vec<String> = assignments
        .iter()
        .filter(|a| a["roleDefinitionId"] == GLOBAL_ADMINISTRATOR)
        .map(|a| text(&a["principalId"]))
        .collect();
    admins.sort();
    admins.dedup();
    let n = admins.len();
    if n >= t.min_global_admins && n < t.max_global_admins {
        return Verdict::Impacted(Vec::new());
    }
    if admins.is_empty() {
        return Verdict::Impacted(vec![Impacted {
            subject_id: facts.tenant.clone(),
            resource_type: "tenant",
            display_name: facts.tenant.clone(),
            details: vec![("globalAdministrators", "0".into())],
            portal_url: "https://entra.microsoft.com/#view/Microsoft_AAD_IAM/RolesManagementMenuBlade/~/AllRoles".into(),
        }]);
    }
    Verdict::Impacted(
        admins
            .iter()
            .map(|id| user(id, users, vec![("globalAdministrators", n.to_string())]))
            .collect(),
    )
}
