//! The domain vocabulary every module speaks: tenants, log categories and destinations; and
//! [`rows`], the one place Graph records become rows shaped like the Entra tables.

mod category;
pub mod export;
pub mod rows;
pub mod tables;

pub use category::{Category, Definition, ExportFields, ExportValue, GraphSource, Mapping};

use serde::Serialize;
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
    fn destinations_round_trip_their_names() {
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
