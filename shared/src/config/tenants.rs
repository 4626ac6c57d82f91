//! The tenants collected from: the file's list and one from the environment, each with its
//! credential (its own, or the shared multi-tenant app registration), and the categories.

use super::read::flag;
use super::{AuthSettings, Credential, FileConfig, FileTenant, Secret, TenantConfig};
use crate::model::{Category, TenantId, is_guid};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The categories collected: every one unless narrowed (globally here, per tenant below).
pub(super) fn categories(
    env: &BTreeMap<String, String>,
    from_file: Option<&Vec<String>>,
    problem: &mut impl FnMut(&str, String),
) -> Vec<Category> {
    match env.get("ENTRA_MONITOR_CATEGORIES") {
        Some(list) => {
            let names: Vec<String> = list
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            parse_categories("ENTRA_MONITOR_CATEGORIES", &names, problem)
        }
        None => match from_file {
            Some(names) => parse_categories("categories", names, problem),
            None => Category::COLLECTED.to_vec(),
        },
    }
}

/// The tenants: the file's list, plus one from `ENTRA_MONITOR_TENANT_ID`; none twice.
pub(super) fn load(
    env: &BTreeMap<String, String>,
    file: &FileConfig,
    categories: &[Category],
    problem: &mut impl FnMut(&str, String),
) -> Vec<TenantConfig> {
    // A multi-tenant app registration shared by the file's tenants that name no credential:
    // the file's client_id / client_secret_env, or the environment's when it names no tenant.
    let env_is_shared_app =
        !env.contains_key("ENTRA_MONITOR_TENANT_ID") && !file.tenants.is_empty();
    let shared_app = shared_app(env, file, env_is_shared_app, problem);
    let mut tenants = Vec::new();
    for (i, t) in file.tenants.iter().enumerate() {
        if let Some(tenant) = tenant_from_file(i, t, env, shared_app.as_ref(), categories, problem)
        {
            tenants.push(tenant);
        }
    }
    if let Some(tenant) = tenant_from_env(env, env_is_shared_app, categories, problem) {
        tenants.push(tenant);
    }
    let mut seen = BTreeMap::new();
    for t in &tenants {
        if let Some(prev) = seen.insert(t.id.clone(), t.name.clone()) {
            problem(
                "tenants",
                format!(
                    "tenant {} is configured twice ({prev} and {})",
                    t.id, t.name
                ),
            );
        }
    }
    tenants
}

fn shared_app(
    env: &BTreeMap<String, String>,
    file: &FileConfig,
    env_is_shared_app: bool,
    problem: &mut impl FnMut(&str, String),
) -> Option<SharedApp> {
    match (&file.client_id, env_is_shared_app) {
        (Some(id), _) => {
            let secret = match &file.client_secret_env {
                Some(var) => match env.get(var) {
                    Some(v) => Some((var.clone(), v.clone())),
                    None => {
                        problem(
                            "client_secret_env",
                            format!("names the environment variable {var}, which is not set"),
                        );
                        None
                    }
                },
                None => None,
            };
            Some(SharedApp {
                setting: "client_id".into(),
                client_id: id.clone(),
                secret,
            })
        }
        (None, true) => env.get("ENTRA_MONITOR_CLIENT_ID").map(|id| SharedApp {
            setting: "ENTRA_MONITOR_CLIENT_ID".into(),
            client_id: id.clone(),
            secret: env
                .get("ENTRA_MONITOR_CLIENT_SECRET")
                .map(|s| ("ENTRA_MONITOR_CLIENT_SECRET".to_string(), s.clone())),
        }),
        (None, false) => None,
    }
}

/// A key limited to a tenant that is not configured reads nothing: a typo, said now. (With no
/// tenant configured — the simulated tenant, imported logs — tenants are named by id, a GUID
/// or a domain.)
pub(super) fn check_key_tenants(
    auth: &AuthSettings,
    tenants: &[TenantConfig],
    problem: &mut impl FnMut(&str, String),
) {
    for k in &auth.api_keys {
        for t in &k.tenants {
            let known = if tenants.is_empty() {
                TenantId::parse(t).is_ok() || t == "simulated"
            } else {
                tenants
                    .iter()
                    .any(|c| c.id.as_str().eq_ignore_ascii_case(t) || c.name == *t)
            };
            if !known {
                problem(
                    "api keys",
                    format!(
                        "the key {} names the tenant \"{t}\", which is not a configured tenant's id or name",
                        k.name
                    ),
                );
            }
        }
    }
}

/// The multi-tenant app registration tenants fall back to.
struct SharedApp {
    setting: String,
    client_id: String,
    secret: Option<(String, String)>,
}

fn parse_categories(
    setting: &str,
    names: &[String],
    problem: &mut impl FnMut(&str, String),
) -> Vec<Category> {
    let mut out = Vec::new();
    for name in names {
        match name.parse::<Category>() {
            Ok(c) if c.is_own() => problem(
                setting,
                format!(
                    "{c} is entra-monitor's own ({}), not collected: give it routes with ENTRA_MONITOR_ROUTES_{} instead",
                    if c == Category::EntraMonitorHealthAlerts {
                        "the health alerts' changes of state"
                    } else {
                        "the recommendations' changes of status"
                    },
                    c.name().to_ascii_uppercase()
                ),
            ),
            Ok(c) if c.definition().graph.is_none() => problem(
                setting,
                format!(
                    "{c} is not served by any Graph API, so it cannot be collected: Entra sends it only through diagnostic settings; export it to Storage or Event Hubs and load it with `entra-monitor import` (docs/import.md)"
                ),
            ),
            Ok(c) if !out.contains(&c) => out.push(c),
            Ok(_) => {}
            Err(e) => problem(setting, e),
        }
    }
    out
}

fn tenant_from_file(
    i: usize,
    t: &FileTenant,
    env: &BTreeMap<String, String>,
    shared_app: Option<&SharedApp>,
    default_categories: &[Category],
    problem: &mut impl FnMut(&str, String),
) -> Option<TenantConfig> {
    let at = |field: &str| format!("tenants[{i}].{field}");
    let Some(id_text) = &t.id else {
        problem(
            &at("id"),
            "missing; expected the tenant GUID or a domain such as contoso.onmicrosoft.com".into(),
        );
        return None;
    };
    let id = match TenantId::parse(id_text) {
        Ok(id) => Some(id),
        Err(e) => {
            problem(&at("id"), e);
            None
        }
    };
    let name = t.name.clone().unwrap_or_else(|| id_text.trim().to_string());
    let secret = match (&t.client_secret, &t.client_secret_env) {
        (Some(_), Some(_)) => {
            problem(
                &at("client_secret"),
                "set either client_secret or client_secret_env, not both".into(),
            );
            None
        }
        (Some(s), None) => Some((at("client_secret"), s.clone())),
        (None, Some(var)) => match env.get(var) {
            Some(s) => Some((var.clone(), s.clone())),
            None => {
                problem(
                    &at("client_secret_env"),
                    format!("names the environment variable {var}, which is not set"),
                );
                return None;
            }
        },
        (None, None) => None,
    };
    let categories = match &t.categories {
        Some(names) => parse_categories(&at("categories"), names, problem),
        None => default_categories.to_vec(),
    };
    // A tenant naming no credential of its own uses the shared multi-tenant app.
    let own = t.client_id.is_some()
        || secret.is_some()
        || t.certificate_path.is_some()
        || t.managed_identity
        || t.simulated;
    let (client_id, secret) = match shared_app.filter(|_| !own) {
        Some(app) => (
            Some((app.setting.clone(), app.client_id.as_str())),
            app.secret.clone(),
        ),
        None => (t.client_id.as_deref().map(|c| (at("client_id"), c)), secret),
    };
    let credential = credential(
        &format!("tenants[{i}] ({name})"),
        client_id,
        secret,
        t.certificate_path
            .clone()
            .map(|p| (at("certificate_path"), p)),
        t.managed_identity,
        t.simulated,
        problem,
    )?;
    Some(TenantConfig {
        id: id?,
        name,
        credential,
        categories,
    })
}

fn tenant_from_env(
    env: &BTreeMap<String, String>,
    env_is_shared_app: bool,
    categories: &[Category],
    problem: &mut impl FnMut(&str, String),
) -> Option<TenantConfig> {
    let credential_vars = [
        "ENTRA_MONITOR_CLIENT_ID",
        "ENTRA_MONITOR_CLIENT_SECRET",
        "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH",
        "ENTRA_MONITOR_MANAGED_IDENTITY",
    ];
    let Some(id_text) = env.get("ENTRA_MONITOR_TENANT_ID") else {
        // With tenants in the file, the client id and secret are their shared app.
        let shared = ["ENTRA_MONITOR_CLIENT_ID", "ENTRA_MONITOR_CLIENT_SECRET"];
        for var in credential_vars
            .iter()
            .filter(|v| env.contains_key(**v) && !(env_is_shared_app && shared.contains(*v)))
        {
            problem(
                var,
                "is set but ENTRA_MONITOR_TENANT_ID is not; set the tenant it belongs to".into(),
            );
        }
        return None;
    };
    let id = match TenantId::parse(id_text) {
        Ok(id) => Some(id),
        Err(e) => {
            problem("ENTRA_MONITOR_TENANT_ID", e);
            None
        }
    };
    let name = env
        .get("ENTRA_MONITOR_TENANT_NAME")
        .cloned()
        .unwrap_or_else(|| id_text.trim().to_string());
    let managed_identity = flag(env, "ENTRA_MONITOR_MANAGED_IDENTITY", problem).unwrap_or(false);
    let credential = credential(
        &format!("tenant {name} (ENTRA_MONITOR_TENANT_ID)"),
        env.get("ENTRA_MONITOR_CLIENT_ID")
            .map(|c| ("ENTRA_MONITOR_CLIENT_ID".to_string(), c.as_str())),
        env.get("ENTRA_MONITOR_CLIENT_SECRET")
            .map(|s| ("ENTRA_MONITOR_CLIENT_SECRET".to_string(), s.clone())),
        env.get("ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH").map(|p| {
            (
                "ENTRA_MONITOR_CLIENT_CERTIFICATE_PATH".to_string(),
                PathBuf::from(p),
            )
        }),
        managed_identity,
        false,
        problem,
    )?;
    Some(TenantConfig {
        id: id?,
        name,
        credential,
        categories: categories.to_vec(),
    })
}

/// Works out one tenant's credential from what was given, reporting what is missing or
/// contradictory. `who` names the tenant in messages; secret values are never included.
fn credential(
    who: &str,
    client_id: Option<(String, &str)>,
    secret: Option<(String, String)>,
    certificate: Option<(String, PathBuf)>,
    managed_identity: bool,
    simulated: bool,
    problem: &mut impl FnMut(&str, String),
) -> Option<Credential> {
    let client_id = match client_id {
        Some((setting, c)) if !is_guid(c.trim()) => {
            problem(
                &setting,
                format!(
                    "\"{}\" is not an application (client) id; expected a GUID",
                    c.trim()
                ),
            );
            return None;
        }
        Some((_, c)) => Some(c.trim().to_ascii_lowercase()),
        None => None,
    };
    if simulated {
        return Some(Credential::Simulated);
    }
    if managed_identity {
        if secret.is_some() || certificate.is_some() {
            problem(
                who,
                "managed identity is on, so no client secret or certificate may be set".into(),
            );
            return None;
        }
        return Some(Credential::ManagedIdentity { client_id });
    }
    let Some(client_id) = client_id else {
        problem(who, "no credential: set client_id with client_secret_env (or client_secret, or certificate_path), or managed_identity = true".into());
        return None;
    };
    match (secret, certificate) {
        (Some(_), Some((setting, _))) => {
            problem(
                &setting,
                format!("{who} has both a client secret and a certificate; keep one"),
            );
            None
        }
        (Some((setting, s)), None) if s.trim().is_empty() => {
            problem(&setting, format!("the client secret of {who} is empty"));
            None
        }
        (Some((_, s)), None) => Some(Credential::ClientSecret {
            client_id,
            secret: Secret::new(s),
        }),
        (None, Some((setting, path))) => {
            if !path.is_file() {
                problem(
                    &setting,
                    format!(
                        "{} is not a readable file; expected a PEM file with the key and certificate",
                        path.display()
                    ),
                );
                return None;
            }
            Some(Credential::Certificate { client_id, path })
        }
        (None, None) => {
            problem(
                who,
                format!(
                    "client id {client_id} has no secret: set its client secret (client_secret_env or ENTRA_MONITOR_CLIENT_SECRET) or a certificate_path"
                ),
            );
            None
        }
    }
}
