//! The domain vocabulary every module speaks: tenants, log categories and destinations; and
//! [`rows`], the one place Graph records become rows shaped like the Entra tables.

pub mod export;
pub mod rows;
pub mod tables;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An Entra tenant, named by its GUID or one of its verified domains
/// (`contoso.onmicrosoft.com`, `contoso.com`). Only [`TenantId::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Accepts a GUID (any case, normalised to lower case) or a DNS domain name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if is_guid(t) {
            return Ok(Self(t.to_ascii_lowercase()));
        }
        if is_domain(t) {
            return Ok(Self(t.to_ascii_lowercase()));
        }
        Err(format!(
            "\"{t}\" is neither a tenant GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) nor a domain such as contoso.onmicrosoft.com"
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_guid(t: &str) -> bool {
    let groups: Vec<&str> = t.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// At least two dot-separated labels of letters, digits and inner hyphens; an alphabetic TLD.
fn is_domain(t: &str) -> bool {
    let labels: Vec<&str> = t.split('.').collect();
    t.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// An Entra log category, named as diagnostic settings name it (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/howto-configure-diagnostic-settings>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    SignInLogs,
    NonInteractiveUserSignInLogs,
    ServicePrincipalSignInLogs,
    ManagedIdentitySignInLogs,
    AuditLogs,
    ProvisioningLogs,
    UserRiskEvents,
    RiskyUsers,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::SignInLogs,
        Category::NonInteractiveUserSignInLogs,
        Category::ServicePrincipalSignInLogs,
        Category::ManagedIdentitySignInLogs,
        Category::AuditLogs,
        Category::ProvisioningLogs,
        Category::UserRiskEvents,
        Category::RiskyUsers,
    ];

    /// The diagnostic-settings category name.
    pub fn name(self) -> &'static str {
        match self {
            Category::SignInLogs => "SignInLogs",
            Category::NonInteractiveUserSignInLogs => "NonInteractiveUserSignInLogs",
            Category::ServicePrincipalSignInLogs => "ServicePrincipalSignInLogs",
            Category::ManagedIdentitySignInLogs => "ManagedIdentitySignInLogs",
            Category::AuditLogs => "AuditLogs",
            Category::ProvisioningLogs => "ProvisioningLogs",
            Category::UserRiskEvents => "UserRiskEvents",
            Category::RiskyUsers => "RiskyUsers",
        }
    }

    /// The Log Analytics table the category fills.
    pub fn table(self) -> &'static str {
        match self {
            Category::SignInLogs => "SigninLogs",
            Category::NonInteractiveUserSignInLogs => "AADNonInteractiveUserSignInLogs",
            Category::ServicePrincipalSignInLogs => "AADServicePrincipalSignInLogs",
            Category::ManagedIdentitySignInLogs => "AADManagedIdentitySignInLogs",
            Category::AuditLogs => "AuditLogs",
            Category::ProvisioningLogs => "AADProvisioningLogs",
            Category::UserRiskEvents => "AADUserRiskEvents",
            Category::RiskyUsers => "AADRiskyUsers",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown category \"{}\"; expected one of {}",
                    s.trim(),
                    names.join(", ")
                )
            })
    }
}

/// Where a category's records go, like a diagnostic setting's destinations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Destination {
    LogAnalytics,
    Storage,
    EventHubs,
    Embedded,
}

impl Destination {
    pub const ALL: [Destination; 4] = [
        Destination::LogAnalytics,
        Destination::Storage,
        Destination::EventHubs,
        Destination::Embedded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Destination::LogAnalytics => "log-analytics",
            Destination::Storage => "storage",
            Destination::EventHubs => "event-hubs",
            Destination::Embedded => "embedded",
        }
    }
}

impl FromStr for Destination {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Destination::ALL.into_iter().find(|d| d.name() == s.trim()).ok_or_else(|| {
            format!(
                "unknown destination \"{}\"; expected one of log-analytics, storage, event-hubs, embedded",
                s.trim()
            )
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_accept_guids_and_domains_only() {
        assert_eq!(
            TenantId::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47")
                .unwrap()
                .as_str(),
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert!(TenantId::parse("contoso.onmicrosoft.com").is_ok());
        assert!(TenantId::parse("sub-domain.contoso.co.uk").is_ok());
        for bad in [
            "",
            "contoso",
            "72f988bf-86f1-41af-91ab",
            "not a tenant",
            "-x.com",
            "x.c0m",
            "a..b.com",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn categories_and_destinations_round_trip_their_names() {
        for c in Category::ALL {
            assert_eq!(c.name().parse::<Category>(), Ok(c));
        }
        assert_eq!("signinlogs".parse::<Category>(), Ok(Category::SignInLogs));
        assert!(
            "SignIns"
                .parse::<Category>()
                .unwrap_err()
                .contains("expected one of")
        );
        for d in Destination::ALL {
            assert_eq!(d.name().parse::<Destination>(), Ok(d));
        }
        assert!(
            "splunk"
                .parse::<Destination>()
                .unwrap_err()
                .contains("unknown destination \"splunk\"")
        );
    }
}
