//! The Entra log categories, each defined once: its names, where Graph serves it, its event
//! time and overlap, its table's columns, how a Graph record becomes a row, what its export
//! record says and how an import recognises it. [`Category::definition`] is the one `match`
//! over the categories; everything else reads the definition, so a new category that misses
//! a piece does not compile.

use super::tables::{self, Column};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

/// Where Graph serves a category's records
/// (<https://learn.microsoft.com/en-us/graph/api/resources/azure-ad-auditlog-overview>).
#[derive(Debug)]
pub struct GraphSource {
    /// `v1.0` or `beta`: the sign-in kinds other than interactive are listed only in beta.
    pub version: &'static str,
    /// The collection, e.g. `auditLogs/signIns`.
    pub path: &'static str,
    /// The `signInEventTypes` value filtering `auditLogs/signIns` to this kind.
    pub sign_in_event_type: Option<&'static str>,
}

/// Which Graph→row mapping shapes the records (categories of one resource share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    UserSignIn,
    AppSignIn,
    Audit,
    Provisioning,
    RiskEvent,
    RiskyUser,
}

/// Where a field of the export record comes from.
#[derive(Debug)]
pub enum ExportValue {
    Fixed(&'static str),
    /// A column of the row.
    Column(&'static str),
    /// A JSON pointer into the Graph record.
    Raw(&'static str),
    Null,
}

/// The fields of the diagnostic-settings record that differ by category
/// (<https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/resource-logs-schema>).
#[derive(Debug)]
pub struct ExportFields {
    pub operation: ExportValue,
    pub caller_ip: ExportValue,
    pub identity: ExportValue,
}

/// Everything about one category.
#[derive(Debug)]
pub struct Definition {
    /// The diagnostic-settings category name.
    pub name: &'static str,
    /// The Log Analytics table the category fills.
    pub table: &'static str,
    pub graph: GraphSource,
    /// The Graph property carrying the event time; collection windows filter and order on it.
    pub time_property: &'static str,
    /// How far back each run re-reads, to catch records published late
    /// (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-latencies>).
    pub overlap_hours: i64,
    /// The table's columns, as Microsoft's table reference publishes them.
    pub columns: &'static [Column],
    pub mapping: Mapping,
    pub export: ExportFields,
    /// Graph properties only this category's records have, for imports that do not say what
    /// they hold. Empty for the sign-in kinds, which share a resource and are told apart by
    /// `signInEventTypes` and their other properties.
    pub graph_markers: &'static [&'static str],
    /// The same for Log Analytics rows: columns only this table has.
    pub column_markers: &'static [&'static str],
}

use ExportValue::{Column as Col, Fixed, Null, Raw};

const SIGN_IN_EXPORT: ExportFields = ExportFields {
    operation: Fixed("Sign-in activity"),
    caller_ip: Col("IPAddress"),
    identity: Col("Identity"),
};

const fn sign_ins(kind: &'static str) -> GraphSource {
    GraphSource {
        version: "beta",
        path: "auditLogs/signIns",
        sign_in_event_type: Some(kind),
    }
}

const fn v1(path: &'static str) -> GraphSource {
    GraphSource {
        version: "v1.0",
        path,
        sign_in_event_type: None,
    }
}

const SIGN_IN_LOGS: Definition = Definition {
    name: "SignInLogs",
    table: "SigninLogs",
    graph: sign_ins("interactiveUser"),
    time_property: "createdDateTime",
    // Sign-ins up to 30 min late, their MFA details up to about 2 h.
    overlap_hours: 2,
    columns: tables::SIGNIN_LOGS,
    mapping: Mapping::UserSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const NON_INTERACTIVE: Definition = Definition {
    name: "NonInteractiveUserSignInLogs",
    table: "AADNonInteractiveUserSignInLogs",
    graph: sign_ins("nonInteractiveUser"),
    time_property: "createdDateTime",
    overlap_hours: 2,
    columns: tables::NON_INTERACTIVE_LOGS,
    mapping: Mapping::UserSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const SERVICE_PRINCIPAL: Definition = Definition {
    name: "ServicePrincipalSignInLogs",
    table: "AADServicePrincipalSignInLogs",
    graph: sign_ins("servicePrincipal"),
    time_property: "createdDateTime",
    overlap_hours: 1,
    columns: tables::SERVICE_PRINCIPAL_LOGS,
    mapping: Mapping::AppSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const MANAGED_IDENTITY: Definition = Definition {
    name: "ManagedIdentitySignInLogs",
    table: "AADManagedIdentitySignInLogs",
    graph: sign_ins("managedIdentity"),
    time_property: "createdDateTime",
    overlap_hours: 1,
    columns: tables::MANAGED_IDENTITY_LOGS,
    mapping: Mapping::AppSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const AUDIT: Definition = Definition {
    name: "AuditLogs",
    table: "AuditLogs",
    graph: v1("auditLogs/directoryAudits"),
    time_property: "activityDateTime",
    overlap_hours: 1,
    columns: tables::AUDIT_LOGS,
    mapping: Mapping::Audit,
    export: ExportFields {
        operation: Col("OperationName"),
        caller_ip: Raw("/initiatedBy/user/ipAddress"),
        identity: Col("Identity"),
    },
    graph_markers: &["activityDisplayName", "loggedByService"],
    column_markers: &["ActivityDisplayName", "LoggedByService"],
};

const PROVISIONING: Definition = Definition {
    name: "ProvisioningLogs",
    table: "AADProvisioningLogs",
    graph: v1("auditLogs/provisioning"),
    time_property: "activityDateTime",
    overlap_hours: 1,
    columns: tables::PROVISIONING_LOGS,
    mapping: Mapping::Provisioning,
    export: ExportFields {
        operation: Fixed("Provisioning activity"),
        caller_ip: Null,
        identity: Raw("/initiatedBy/displayName"),
    },
    graph_markers: &["provisioningAction", "provisioningStatusInfo", "jobId"],
    column_markers: &["ProvisioningAction", "JobId", "CycleId"],
};

const USER_RISK_EVENTS: Definition = Definition {
    name: "UserRiskEvents",
    table: "AADUserRiskEvents",
    graph: v1("identityProtection/riskDetections"),
    time_property: "lastUpdatedDateTime",
    // Offline risk detections arrive up to 48 h late.
    overlap_hours: 48,
    columns: tables::USER_RISK_EVENTS,
    mapping: Mapping::RiskEvent,
    export: ExportFields {
        operation: Fixed("User Risk Detection"),
        caller_ip: Col("IpAddress"),
        identity: Col("UserDisplayName"),
    },
    graph_markers: &["riskEventType"],
    column_markers: &["RiskEventType"],
};

const RISKY_USERS: Definition = Definition {
    name: "RiskyUsers",
    table: "AADRiskyUsers",
    graph: v1("identityProtection/riskyUsers"),
    time_property: "riskLastUpdatedDateTime",
    overlap_hours: 48,
    columns: tables::RISKY_USERS,
    mapping: Mapping::RiskyUser,
    export: ExportFields {
        operation: Fixed("Risky user"),
        caller_ip: Null,
        identity: Col("UserDisplayName"),
    },
    graph_markers: &["riskLastUpdatedDateTime"],
    column_markers: &["RiskLastUpdatedDateTime"],
};

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

    /// Everything about the category.
    pub const fn definition(self) -> &'static Definition {
        match self {
            Category::SignInLogs => &SIGN_IN_LOGS,
            Category::NonInteractiveUserSignInLogs => &NON_INTERACTIVE,
            Category::ServicePrincipalSignInLogs => &SERVICE_PRINCIPAL,
            Category::ManagedIdentitySignInLogs => &MANAGED_IDENTITY,
            Category::AuditLogs => &AUDIT,
            Category::ProvisioningLogs => &PROVISIONING,
            Category::UserRiskEvents => &USER_RISK_EVENTS,
            Category::RiskyUsers => &RISKY_USERS,
        }
    }

    /// The diagnostic-settings category name.
    pub fn name(self) -> &'static str {
        self.definition().name
    }

    /// The Log Analytics table the category fills.
    pub fn table(self) -> &'static str {
        self.definition().table
    }

    /// The category whose Graph records alone carry one of these properties, if any.
    pub fn by_graph_marker(has: impl Fn(&str) -> bool) -> Option<Category> {
        Self::ALL
            .into_iter()
            .find(|c| c.definition().graph_markers.iter().any(|m| has(m)))
    }

    /// The category whose table alone has one of these columns, if any.
    pub fn by_column_marker(has: impl Fn(&str) -> bool) -> Option<Category> {
        Self::ALL
            .into_iter()
            .find(|c| c.definition().column_markers.iter().any(|m| has(m)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
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
    }

    #[test]
    fn recognition_markers_are_unambiguous_and_real_columns() {
        // Recognition tries the categories in order: a marker two categories shared would
        // make the answer depend on that order.
        for a in Category::ALL {
            let da = a.definition();
            for b in Category::ALL.into_iter().filter(|b| *b != a) {
                let db = b.definition();
                assert!(
                    !da.graph_markers
                        .iter()
                        .any(|m| db.graph_markers.contains(m))
                );
                assert!(
                    !da.column_markers
                        .iter()
                        .any(|m| db.column_markers.contains(m))
                );
                // A column marker names a column of its own table only.
                for m in da.column_markers {
                    assert!(
                        !db.columns.iter().any(|(n, _)| n == m),
                        "{m} is in {b}'s table"
                    );
                }
            }
            for m in da.column_markers {
                assert!(
                    da.columns.iter().any(|(n, _)| n == m),
                    "{m} not in {a}'s table"
                );
            }
        }
    }
}
