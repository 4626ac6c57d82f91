//! The names of our detections and the risk levels, as types: detections, the simulated
//! attacks' ground truth, alerts and risky users speak them, so a misspelt name does not compile.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A detection of ours, named like Identity Protection's `riskEventType` values where one
/// matches (<https://learn.microsoft.com/en-us/graph/api/resources/riskdetection>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DetectionKind {
    PasswordSpray,
    BruteForce,
    ImpossibleTravel,
    MfaFatigue,
    DisabledAccountSignIn,
    UnfamiliarSignInProperties,
    AnonymousIpAddress,
    LegacyAuthentication,
    HighPrivilegeConsent,
    AppCredentialAdded,
    PrivilegedRoleOutsidePim,
    PrivilegedGroupMemberOutsidePim,
}

impl DetectionKind {
    pub const ALL: [DetectionKind; 12] = [
        DetectionKind::PasswordSpray,
        DetectionKind::BruteForce,
        DetectionKind::ImpossibleTravel,
        DetectionKind::MfaFatigue,
        DetectionKind::DisabledAccountSignIn,
        DetectionKind::UnfamiliarSignInProperties,
        DetectionKind::AnonymousIpAddress,
        DetectionKind::LegacyAuthentication,
        DetectionKind::HighPrivilegeConsent,
        DetectionKind::AppCredentialAdded,
        DetectionKind::PrivilegedRoleOutsidePim,
        DetectionKind::PrivilegedGroupMemberOutsidePim,
    ];

    /// The name as stored, listed and sent (`riskEventType`).
    pub fn name(self) -> &'static str {
        match self {
            DetectionKind::PasswordSpray => "passwordSpray",
            DetectionKind::BruteForce => "bruteForce",
            DetectionKind::ImpossibleTravel => "impossibleTravel",
            DetectionKind::MfaFatigue => "mfaFatigue",
            DetectionKind::DisabledAccountSignIn => "disabledAccountSignIn",
            DetectionKind::UnfamiliarSignInProperties => "unfamiliarSignInProperties",
            DetectionKind::AnonymousIpAddress => "anonymousIpAddress",
            DetectionKind::LegacyAuthentication => "legacyAuthentication",
            DetectionKind::HighPrivilegeConsent => "highPrivilegeConsent",
            DetectionKind::AppCredentialAdded => "appCredentialAdded",
            DetectionKind::PrivilegedRoleOutsidePim => "privilegedRoleOutsidePim",
            DetectionKind::PrivilegedGroupMemberOutsidePim => "privilegedGroupMemberOutsidePim",
        }
    }

    /// Found in audit events (the user's activity), not in sign-ins.
    pub fn from_audit(self) -> bool {
        matches!(
            self,
            DetectionKind::HighPrivilegeConsent
                | DetectionKind::AppCredentialAdded
                | DetectionKind::PrivilegedRoleOutsidePim
                | DetectionKind::PrivilegedGroupMemberOutsidePim
        )
    }
}

impl fmt::Display for DetectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DetectionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("\"{s}\" is not a detection of entra-monitor"))
    }
}

/// How risky: Graph's `riskLevel` without `hidden` (
/// <https://learn.microsoft.com/en-us/graph/api/resources/riskyuser>). Ordered: `None` is lowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    None,
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn name(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RiskLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RiskLevel::None,
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("\"{s}\" is not a level; expected low, medium or high"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serialise_as_named() {
        for k in DetectionKind::ALL {
            assert_eq!(k.name().parse::<DetectionKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        for l in ["none", "low", "medium", "high"] {
            let level: RiskLevel = l.parse().unwrap();
            assert_eq!(serde_json::to_value(level).unwrap(), l);
        }
        assert!(RiskLevel::High > RiskLevel::Medium && RiskLevel::Low > RiskLevel::None);
        assert!("severe".parse::<RiskLevel>().is_err());
    }
}
