//! One file per recommendation type, each a [`Definition`]; [`RULES`] lists them.

use super::{Definition, Facts, Impacted, Thresholds, Verdict};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

mod admin_mfa;
mod block_legacy;
mod credential_expiry;
mod inactive_guests;
mod long_lived_credentials;
mod mfa_registration;
mod one_admin;
mod ownerless_apps;
mod stale_app_creds;
mod stale_apps;

pub(super) static RULES: &[&Definition] = &[
    &stale_apps::DEFINITION,
    &stale_app_creds::DEFINITION,
    &credential_expiry::APPLICATIONS,
    &credential_expiry::SERVICE_PRINCIPALS,
    &admin_mfa::DEFINITION,
    &mfa_registration::DEFINITION,
    &one_admin::DEFINITION,
    &block_legacy::DEFINITION,
    &inactive_guests::DEFINITION,
    &ownerless_apps::DEFINITION,
    &long_lived_credentials::DEFINITION,
];

/// The Entra admin center.
const PORTAL: &str = "https://entra.microsoft.com/#view";

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// An app registration's page.
fn app_url(app_id: &str) -> String {
    format!("{PORTAL}/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Overview/appId/{app_id}")
}

/// An enterprise application's (service principal's) page.
fn enterprise_app_url(object_id: &str, app_id: &str) -> String {
    format!(
        "{PORTAL}/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/Overview/objectId/{object_id}/appId/{app_id}"
    )
}

/// A user's page.
fn user_url(id: &str) -> String {
    format!("{PORTAL}/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/overview/userId/{id}")
}

/// A credential as impacted: its key id, the app or service principal carrying it, and its
/// facts followed by `more`.
fn credential(c: &super::facts::Credential, more: Vec<(&'static str, String)>) -> Impacted {
    let application = c.origin == "application";
    let mut details = vec![
        ("appId", c.app_id.clone()),
        ("credentialId", c.key_id.clone()),
        ("origin", c.origin.clone()),
        ("keyType", c.key_type.clone()),
    ];
    details.extend(more);
    Impacted {
        subject_id: c.key_id.clone(),
        resource_type: if application {
            "application"
        } else {
            "servicePrincipal"
        },
        display_name: c.display_name.clone(),
        details,
        portal_url: if application {
            app_url(&c.app_id)
        } else {
            enterprise_app_url(&c.object_id, &c.app_id)
        },
    }
}

/// Whether the inventory lists the objects credentials come from; else why not.
fn credentials_listed(facts: &Facts) -> Result<(), Verdict> {
    for kind in ["applications", "servicePrincipals"] {
        listed(facts, kind)?;
    }
    Ok(())
}

/// The inventory kind `name`, or the verdict that it was never listed.
fn listed<'a>(facts: &'a Facts, name: &str) -> Result<&'a [Value], Verdict> {
    facts.kind(name).ok_or_else(|| {
        Verdict::Undecided(format!(
            "the directory inventory has no {name} yet (collect-inventory lists them; it needs the permission docs/insights.md names)"
        ))
    })
}

/// A user as impacted, from the inventory's user object (or only its id).
fn user(id: &str, users: &[Value], details: Vec<(&'static str, String)>) -> Impacted {
    let u = users.iter().find(|u| u["id"] == id);
    let name = u
        .map(|u| text(&u["displayName"]))
        .filter(|n| !n.is_empty())
        .or_else(|| u.map(|u| text(&u["userPrincipalName"])))
        .unwrap_or_else(|| id.to_string());
    let mut details = details;
    if let Some(upn) = u
        .map(|u| text(&u["userPrincipalName"]))
        .filter(|s| !s.is_empty())
    {
        details.insert(0, ("userPrincipalName", upn));
    }
    Impacted {
        subject_id: id.to_string(),
        resource_type: "user",
        display_name: name,
        details,
        portal_url: user_url(id),
    }
}

/// The user ids holding a directory role whose definition is privileged, with the roles.
fn privileged_holders(facts: &Facts) -> Result<Vec<(String, Vec<String>)>, Verdict> {
    let definitions = listed(facts, "roleDefinitions")?;
    let assignments = listed(facts, "roleAssignments")?;
    let mut holders: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for a in assignments {
        let role = definitions
            .iter()
            .find(|d| d["id"] == a["roleDefinitionId"] || d["templateId"] == a["roleDefinitionId"]);
        if let Some(d) = role.filter(|d| d["isPrivileged"] == true) {
            holders
                .entry(text(&a["principalId"]))
                .or_default()
                .push(text(&d["displayName"]));
        }
    }
    Ok(holders.into_iter().collect())
}
