//! What the detections read from rows of the Entra tables (`SigninLogs`, `AuditLogs`), and the
//! audit detections (consent, credentials, roles), which need no history.

use super::{Detection, DetectionKind, RiskLevel, Thresholds};
use crate::query::codes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The parts of a sign-in the detections use.
#[derive(Debug, Clone, PartialEq)]
pub struct SignIn {
    pub id: String,
    pub time: DateTime<Utc>,
    pub user: String,
    pub ip: String,
    pub asn: Option<i64>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// (latitude, longitude)
    pub geo: Option<(f64, f64)>,
    /// `ResultType`: "0" for success, else the error code.
    pub result: String,
    /// Operating system and browser.
    pub device: String,
    /// `ClientAppUsed`: `Browser`, `Mobile Apps and Desktop clients`, or a legacy protocol.
    pub client_app: String,
}

fn text(row: &Map<String, Value>, col: &str) -> Option<String> {
    match row.get(col) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A dynamic column as an object (the embedded store may hold it as JSON text).
fn object(row: &Map<String, Value>, col: &str) -> Value {
    match row.get(col) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

impl SignIn {
    /// From a `SigninLogs` row; None when it has no time or user.
    pub fn from_row(row: &Map<String, Value>) -> Option<SignIn> {
        let time = DateTime::parse_from_rfc3339(&text(row, "TimeGenerated")?)
            .ok()?
            .with_timezone(&Utc);
        let location = object(row, "LocationDetails");
        let device = object(row, "DeviceDetail");
        let geo = match (
            location
                .pointer("/geoCoordinates/latitude")
                .and_then(Value::as_f64),
            location
                .pointer("/geoCoordinates/longitude")
                .and_then(Value::as_f64),
        ) {
            (Some(la), Some(lo)) => Some((la, lo)),
            _ => None,
        };
        Some(SignIn {
            id: text(row, "Id")?,
            time,
            user: text(row, "UserPrincipalName")?,
            ip: text(row, "IPAddress").unwrap_or_default(),
            asn: text(row, "AutonomousSystemNumber").and_then(|a| a.parse().ok()),
            country: text(row, "Location"),
            city: location["city"].as_str().map(String::from),
            geo,
            result: text(row, "ResultType").unwrap_or_else(|| "0".into()),
            device: format!(
                "{} / {}",
                device["operatingSystem"].as_str().unwrap_or(""),
                device["browser"].as_str().unwrap_or("")
            ),
            client_app: text(row, "ClientAppUsed").unwrap_or_default(),
        })
    }

    pub fn place(&self) -> String {
        match (&self.city, &self.country) {
            (Some(c), Some(k)) => format!("{c} ({k})"),
            (None, Some(k)) => k.clone(),
            _ => self.ip.clone(),
        }
    }
}

/// Failures that an attacker produces at will (wrong password, MFA denied, lockout): never
/// learned as usual.
pub fn is_credential_failure(result: &str) -> bool {
    [
        codes::INVALID_PASSWORD,
        codes::MFA_FAILED,
        codes::ACCOUNT_LOCKED,
        codes::PASSWORD_EXPIRED,
    ]
    .contains(&result)
}

/// Client apps that use legacy authentication (no MFA, no Conditional Access device checks),
/// as the sign-in logs name them.
pub const LEGACY_CLIENT_APPS: [&str; 9] = [
    "Exchange ActiveSync",
    "IMAP4",
    "POP3",
    "SMTP",
    "Authenticated SMTP",
    "MAPI Over HTTP",
    "Exchange Web Services",
    "Exchange Online PowerShell",
    "Other clients",
];

/// Great-circle distance in km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// The parts of a directory audit event the detections use.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub time: DateTime<Utc>,
    pub operation: String,
    /// Who did it: a user principal name or an app name.
    pub actor: String,
    /// When an app did it: its app id (may be absent in the log).
    pub actor_app_id: Option<String>,
    pub actor_ip: Option<String>,
    pub targets: Value,
}

impl AuditEvent {
    /// From an `AuditLogs` row.
    pub fn from_row(row: &Map<String, Value>) -> Option<AuditEvent> {
        let initiated = object(row, "InitiatedBy");
        Some(AuditEvent {
            id: text(row, "Id")?,
            time: DateTime::parse_from_rfc3339(&text(row, "TimeGenerated")?)
                .ok()?
                .with_timezone(&Utc),
            operation: text(row, "OperationName").unwrap_or_default(),
            actor: initiated
                .pointer("/user/userPrincipalName")
                .or_else(|| initiated.pointer("/app/displayName"))
                .and_then(Value::as_str)
                .unwrap_or("(unknown)")
                .to_string(),
            actor_app_id: initiated
                .pointer("/app/appId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            actor_ip: initiated
                .pointer("/user/ipAddress")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            targets: object(row, "TargetResources"),
        })
    }

    fn targets(&self) -> &[Value] {
        self.targets.as_array().map(Vec::as_slice).unwrap_or(&[])
    }

    /// A modified property's new value (quotes trimmed) on any target.
    fn modified(&self, name: &str) -> Option<String> {
        self.targets().iter().find_map(|t| {
            t["modifiedProperties"].as_array()?.iter().find_map(|p| {
                (p["displayName"].as_str() == Some(name)).then(|| {
                    p["newValue"]
                        .as_str()
                        .unwrap_or("")
                        .trim_matches('"')
                        .to_string()
                })
            })
        })
    }

    /// The first target of a type (`Group`, `User`, …; Graph has spelled the key `Type` too).
    fn target_of(&self, kind: &str) -> Option<&Value> {
        self.targets().iter().find(|t| {
            t.get("type")
                .or_else(|| t.get("Type"))
                .and_then(Value::as_str)
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
        })
    }

    /// The user or service principal a change was made to.
    fn subject(&self) -> String {
        self.target_of("User")
            .and_then(|t| t["userPrincipalName"].as_str())
            .or_else(|| {
                self.target_of("ServicePrincipal")
                    .and_then(|t| t["displayName"].as_str())
            })
            .unwrap_or("(unknown)")
            .to_string()
    }

    /// Made by Microsoft's PIM service (app `MS-PIM`) activating an eligible assignment: the
    /// directory logs the resulting membership as that app's change.
    fn by_pim(&self) -> bool {
        self.actor_app_id.as_deref() == Some(PIM_APP_ID)
            || self.actor.eq_ignore_ascii_case("MS-PIM")
    }

    /// Entra rotating a managed identity's certificate: initiated by `Managed Service Identity`
    /// on a service principal whose names include `https://identity.azure.net/` (routine, every
    /// few weeks for each managed identity).
    fn managed_identity_rotation(&self) -> bool {
        self.actor.eq_ignore_ascii_case("Managed Service Identity")
            && self
                .modified("TargetId.ServicePrincipalNames")
                .is_some_and(|n| n.contains("https://identity.azure.net/"))
    }
}

/// The app id of Microsoft's `MS-PIM` service principal, the same in every tenant.
const PIM_APP_ID: &str = "01fc33a7-78ba-4d2f-a4b7-768e336e890e";

fn audit(
    e: &AuditEvent,
    name: DetectionKind,
    risk_level: RiskLevel,
    user: &str,
    evidence: String,
) -> Detection {
    Detection {
        name,
        source: "entra-monitor",
        risk_level,
        user: user.to_string(),
        ip: e.actor_ip.clone(),
        first_seen: e.time,
        last_seen: e.time,
        record_ids: vec![e.id.clone()],
        evidence,
        key: format!("{name}:{}", e.id),
        service_principal: None,
    }
}

/// The app registration or service principal an audit event changed, with the key ids named
/// in its `KeyDescription` (`[KeyIdentifier=…,KeyType=…]`).
fn app_subject(e: &AuditEvent) -> Option<super::AppSubject> {
    let (kind, target) = ["ServicePrincipal", "Application"]
        .into_iter()
        .find_map(|k| e.target_of(k).map(|t| (k, t)))?;
    let key_ids = e
        .modified("KeyDescription")
        .unwrap_or_default()
        .split("KeyIdentifier=")
        .skip(1)
        .filter_map(|s| s.split([',', ']']).next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some(super::AppSubject {
        id: target["id"].as_str().unwrap_or_default().to_string(),
        kind: kind.to_string(),
        display_name: target["displayName"]
            .as_str()
            .unwrap_or("(unnamed app)")
            .to_string(),
        key_ids,
    })
}

/// The detection an audit event is, if any.
pub fn audit_detection(e: &AuditEvent, t: &Thresholds) -> Option<Detection> {
    let op = e.operation.as_str();
    if op == "Consent to application" {
        return consent(e, t);
    }
    if (op.starts_with("Update application") && op.contains("Certificates and secrets")
        || op == "Add service principal credentials")
        && !e.managed_identity_rotation()
    {
        return Some(credential_added(e));
    }
    if op == "Add member to role" && !e.by_pim() {
        return role_outside_pim(e, t);
    }
    if (op == "Add member to group" || op == "Add owner to group") && !e.by_pim() {
        return group_outside_pim(e, t);
    }
    None
}

/// A consent that grants a high-privilege permission.
fn consent(e: &AuditEvent, t: &Thresholds) -> Option<Detection> {
    let permissions = e.modified("ConsentAction.Permissions").unwrap_or_default();
    let scopes: Vec<&str> = permissions
        .split("Scope:")
        .skip(1)
        .flat_map(|s| s.split([']', ',']).next().unwrap_or("").split_whitespace())
        .collect();
    let risky: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| {
            t.high_privilege_scopes
                .iter()
                .any(|p| s.starts_with(p.as_str()))
        })
        .collect();
    if risky.is_empty() {
        return None;
    }
    let admin = e
        .modified("ConsentContext.IsAdminConsent")
        .unwrap_or_default();
    let app = e
        .target_of("ServicePrincipal")
        .and_then(|t| t["displayName"].as_str())
        .unwrap_or("(unnamed app)");
    let mut d = audit(
        e,
        DetectionKind::HighPrivilegeConsent,
        RiskLevel::High,
        &e.actor,
        format!(
            "{} consented{} to {app} with high-privilege permissions: {}",
            e.actor,
            if admin.eq_ignore_ascii_case("true") {
                " for the organisation"
            } else {
                ""
            },
            risky.join(", ")
        ),
    );
    d.service_principal = app_subject(e);
    Some(d)
}

/// A credential added to an app (not Entra's own rotation of a managed identity's).
fn credential_added(e: &AuditEvent) -> Detection {
    let app = e
        .target_of("Application")
        .or_else(|| e.target_of("ServicePrincipal"))
        .and_then(|t| t["displayName"].as_str())
        .unwrap_or("(unnamed app)");
    let key = e.modified("KeyDescription").unwrap_or_default();
    let mut d = audit(
        e,
        DetectionKind::AppCredentialAdded,
        RiskLevel::Medium,
        &e.actor,
        format!("{} added a credential to {app}: {key}", e.actor),
    );
    d.service_principal = app_subject(e);
    d
}

/// A privileged role assigned directly, not through PIM.
fn role_outside_pim(e: &AuditEvent, t: &Thresholds) -> Option<Detection> {
    let role = e
        .target_of("Role")
        .and_then(|t| t["displayName"].as_str())
        .map(String::from)
        .or_else(|| e.modified("Role.DisplayName"))?;
    if !t
        .privileged_roles
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&role))
    {
        return None;
    }
    let user = e.subject();
    Some(audit(
        e,
        DetectionKind::PrivilegedRoleOutsidePim,
        RiskLevel::High,
        &user,
        format!(
            "{} assigned {role} to {user} directly, not through PIM",
            e.actor
        ),
    ))
}

/// A member or owner added to a privileged group directly, not through PIM.
fn group_outside_pim(e: &AuditEvent, t: &Thresholds) -> Option<Detection> {
    let op = e.operation.as_str();
    let group = e.target_of("Group")?;
    let id = group["id"].as_str().unwrap_or("");
    let name = group["displayName"]
        .as_str()
        .map(String::from)
        .or_else(|| e.modified("Group.DisplayName"))
        .unwrap_or_default();
    if !t
        .privileged_groups
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&name) || g.eq_ignore_ascii_case(id))
    {
        return None;
    }
    let user = e.subject();
    let what = if op == "Add owner to group" {
        "an owner of"
    } else {
        "a member of"
    };
    Some(audit(
        e,
        DetectionKind::PrivilegedGroupMemberOutsidePim,
        RiskLevel::High,
        &user,
        format!(
            "{} made {user} {what} the privileged group {name} directly, not through PIM",
            e.actor
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle() {
        // London to New York: about 5,570 km.
        let d = distance_km((51.5074, -0.1278), (40.7128, -74.0060));
        assert!((5500.0..5650.0).contains(&d), "{d}");
    }
}
