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
    ServicePrincipalRiskEvents,
    RiskyServicePrincipals,
    MicrosoftGraphActivityLogs,
    ADFSSignInLogs,
    /// entra-monitor's own: each change of a recommendation's or impacted resource's status
    /// (ours and Microsoft's), so a SIEM sees them.
    EntraMonitorRecommendations,
    /// entra-monitor's own: each change of a health alert's state (raised, resolved, dismissed),
    /// so a SIEM sees them.
    EntraMonitorHealthAlerts,
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
    ServicePrincipalRiskEvent,
    RiskyServicePrincipal,
    /// A diagnostic-settings record (its envelope and `properties` together), each column
    /// from the field of the same name: the categories no Graph API serves.
    Exported,
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
    /// Where Graph serves it; None for the categories that arrive only through
    /// diagnostic-settings export (imported, then routed like the others).
    pub graph: Option<GraphSource>,
    /// The record's property holding its id, and the table's column for it.
    pub id_property: &'static str,
    pub key_column: &'static str,
    /// The Graph property carrying the event time; collection windows filter and order on it.
    pub time_property: &'static str,
    /// How far back each run re-reads, to catch records published late
    /// (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-latencies>).
    pub overlap_hours: i64,
    /// The table's columns, as Microsoft's table reference publishes them.
    pub columns: &'static [Column],
    /// The add-on licence Graph wants besides Entra ID P1/P2, if any. Most tenants lack it, so
    /// its refusal pauses the category without failing the run.
    pub add_on: Option<&'static str>,
    pub mapping: Mapping,
    pub export: ExportFields,
    /// Graph properties that say a record is this category's, for imports that do not say
    /// what they hold: the category whose markers a record has most of is its category (a
    /// service principal's risk detection has the user's marker and one more). Empty for the
    /// sign-in kinds, which share a resource and are told apart by `signInEventTypes` and
    /// their other properties.
    pub graph_markers: &'static [&'static str],
    /// The same for Log Analytics rows, by column.
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
    graph: Some(sign_ins("interactiveUser")),
    id_property: "id",
    key_column: "Id",
    time_property: "createdDateTime",
    // Sign-ins up to 30 min late, their MFA details up to about 2 h.
    overlap_hours: 2,
    columns: tables::SIGNIN_LOGS,
    add_on: None,
    mapping: Mapping::UserSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const NON_INTERACTIVE: Definition = Definition {
    name: "NonInteractiveUserSignInLogs",
    table: "AADNonInteractiveUserSignInLogs",
    graph: Some(sign_ins("nonInteractiveUser")),
    id_property: "id",
    key_column: "Id",
    time_property: "createdDateTime",
    overlap_hours: 2,
    columns: tables::NON_INTERACTIVE_LOGS,
    add_on: None,
    mapping: Mapping::UserSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const SERVICE_PRINCIPAL: Definition = Definition {
    name: "ServicePrincipalSignInLogs",
    table: "AADServicePrincipalSignInLogs",
    graph: Some(sign_ins("servicePrincipal")),
    id_property: "id",
    key_column: "Id",
    time_property: "createdDateTime",
    overlap_hours: 1,
    columns: tables::SERVICE_PRINCIPAL_LOGS,
    add_on: None,
    mapping: Mapping::AppSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const MANAGED_IDENTITY: Definition = Definition {
    name: "ManagedIdentitySignInLogs",
    table: "AADManagedIdentitySignInLogs",
    graph: Some(sign_ins("managedIdentity")),
    id_property: "id",
    key_column: "Id",
    time_property: "createdDateTime",
    overlap_hours: 1,
    columns: tables::MANAGED_IDENTITY_LOGS,
    add_on: None,
    mapping: Mapping::AppSignIn,
    export: SIGN_IN_EXPORT,
    graph_markers: &[],
    column_markers: &[],
};

const AUDIT: Definition = Definition {
    name: "AuditLogs",
    table: "AuditLogs",
    graph: Some(v1("auditLogs/directoryAudits")),
    id_property: "id",
    key_column: "Id",
    time_property: "activityDateTime",
    overlap_hours: 1,
    columns: tables::AUDIT_LOGS,
    add_on: None,
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
    graph: Some(v1("auditLogs/provisioning")),
    id_property: "id",
    key_column: "Id",
    time_property: "activityDateTime",
    overlap_hours: 1,
    columns: tables::PROVISIONING_LOGS,
    add_on: None,
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
    graph: Some(v1("identityProtection/riskDetections")),
    id_property: "id",
    key_column: "Id",
    time_property: "lastUpdatedDateTime",
    // Offline risk detections arrive up to 48 h late.
    overlap_hours: 48,
    columns: tables::USER_RISK_EVENTS,
    add_on: None,
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
    graph: Some(v1("identityProtection/riskyUsers")),
    id_property: "id",
    key_column: "Id",
    time_property: "riskLastUpdatedDateTime",
    overlap_hours: 48,
    columns: tables::RISKY_USERS,
    add_on: None,
    mapping: Mapping::RiskyUser,
    export: ExportFields {
        operation: Fixed("Risky user"),
        caller_ip: Null,
        identity: Col("UserDisplayName"),
    },
    graph_markers: &["riskLastUpdatedDateTime"],
    column_markers: &["RiskLastUpdatedDateTime"],
};

const SERVICE_PRINCIPAL_RISK_EVENTS: Definition = Definition {
    name: "ServicePrincipalRiskEvents",
    table: "AADServicePrincipalRiskEvents",
    // Workload ID Premium; without it Graph refuses and the category is paused.
    graph: Some(v1("identityProtection/servicePrincipalRiskDetections")),
    id_property: "id",
    key_column: "Id",
    time_property: "lastUpdatedDateTime",
    overlap_hours: 48,
    columns: tables::SERVICE_PRINCIPAL_RISK_EVENTS,
    add_on: Some("Microsoft Entra Workload ID Premium"),
    mapping: Mapping::ServicePrincipalRiskEvent,
    export: ExportFields {
        operation: Fixed("Service Principal Risk Detection"),
        caller_ip: Col("IpAddress"),
        identity: Col("ServicePrincipalDisplayName"),
    },
    graph_markers: &["riskEventType", "servicePrincipalDisplayName"],
    column_markers: &["RiskEventType", "ServicePrincipalDisplayName"],
};

const RISKY_SERVICE_PRINCIPALS: Definition = Definition {
    name: "RiskyServicePrincipals",
    table: "AADRiskyServicePrincipals",
    graph: Some(v1("identityProtection/riskyServicePrincipals")),
    id_property: "id",
    key_column: "Id",
    time_property: "riskLastUpdatedDateTime",
    overlap_hours: 48,
    columns: tables::RISKY_SERVICE_PRINCIPALS,
    add_on: Some("Microsoft Entra Workload ID Premium"),
    mapping: Mapping::RiskyServicePrincipal,
    export: ExportFields {
        operation: Fixed("Risky service principal"),
        caller_ip: Null,
        identity: Col("DisplayName"),
    },
    graph_markers: &["riskLastUpdatedDateTime", "servicePrincipalType"],
    column_markers: &["RiskLastUpdatedDateTime", "ServicePrincipalType"],
};

const GRAPH_ACTIVITY: Definition = Definition {
    name: "MicrosoftGraphActivityLogs",
    table: "MicrosoftGraphActivityLogs",
    graph: None,
    // One record per request; the table has no Id.
    id_property: "requestId",
    key_column: "RequestId",
    // The diagnostic-settings record's time.
    time_property: "time",
    overlap_hours: 0,
    columns: tables::GRAPH_ACTIVITY_LOGS,
    add_on: None,
    mapping: Mapping::Exported,
    export: ExportFields {
        operation: Fixed("Microsoft Graph Activity"),
        caller_ip: Col("IPAddress"),
        identity: Col("UserId"),
    },
    graph_markers: &[],
    column_markers: &["RequestUri", "ResponseStatusCode"],
};

const ADFS_SIGN_INS: Definition = Definition {
    name: "ADFSSignInLogs",
    table: "ADFSSignInLogs",
    graph: None,
    id_property: "id",
    key_column: "Id",
    time_property: "time",
    overlap_hours: 0,
    columns: tables::ADFS_SIGN_IN_LOGS,
    add_on: None,
    mapping: Mapping::Exported,
    export: ExportFields {
        operation: Fixed("Sign-in activity"),
        caller_ip: Col("IPAddress"),
        identity: Col("Identity"),
    },
    graph_markers: &[],
    column_markers: &["Requirement"],
};

const RECOMMENDATIONS: Definition = Definition {
    name: "EntraMonitorRecommendations",
    // A custom table: no Entra table holds recommendations.
    table: "EntraMonitorRecommendations",
    graph: None,
    id_property: "Id",
    key_column: "Id",
    time_property: "TimeGenerated",
    overlap_hours: 0,
    columns: tables::ENTRA_MONITOR_RECOMMENDATIONS,
    add_on: None,
    mapping: Mapping::Exported,
    export: ExportFields {
        operation: Fixed("Recommendation status changed"),
        caller_ip: Null,
        identity: Col("ChangedBy"),
    },
    graph_markers: &[],
    column_markers: &["RecommendationType", "StatusFrom"],
};

const HEALTH_ALERTS: Definition = Definition {
    name: "EntraMonitorHealthAlerts",
    // A custom table: no Entra table holds our health alerts.
    table: "EntraMonitorHealthAlerts",
    graph: None,
    id_property: "Id",
    key_column: "Id",
    time_property: "TimeGenerated",
    overlap_hours: 0,
    columns: tables::ENTRA_MONITOR_HEALTH_ALERTS,
    add_on: None,
    mapping: Mapping::Exported,
    export: ExportFields {
        operation: Fixed("Health alert state changed"),
        caller_ip: Null,
        identity: Col("ChangedBy"),
    },
    graph_markers: &[],
    column_markers: &["AlertType", "StateFrom"],
};

impl Category {
    pub const ALL: [Category; 14] = [
        Category::SignInLogs,
        Category::NonInteractiveUserSignInLogs,
        Category::ServicePrincipalSignInLogs,
        Category::ManagedIdentitySignInLogs,
        Category::AuditLogs,
        Category::ProvisioningLogs,
        Category::UserRiskEvents,
        Category::RiskyUsers,
        Category::ServicePrincipalRiskEvents,
        Category::RiskyServicePrincipals,
        Category::MicrosoftGraphActivityLogs,
        Category::ADFSSignInLogs,
        Category::EntraMonitorRecommendations,
        Category::EntraMonitorHealthAlerts,
    ];

    /// The categories collected from Graph, in [`Category::ALL`]'s order (the others arrive only
    /// through export). Computed from the definitions; a wrong length does not compile.
    pub const COLLECTED: [Category; 10] = {
        let mut out = [Category::SignInLogs; 10];
        let (mut i, mut n) = (0, 0);
        while i < Category::ALL.len() {
            if Category::ALL[i].definition().graph.is_some() {
                assert!(n < out.len(), "more categories have a Graph source");
                out[n] = Category::ALL[i];
                n += 1;
            }
            i += 1;
        }
        assert!(n == out.len(), "fewer categories have a Graph source");
        out
    };

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
            Category::ServicePrincipalRiskEvents => &SERVICE_PRINCIPAL_RISK_EVENTS,
            Category::RiskyServicePrincipals => &RISKY_SERVICE_PRINCIPALS,
            Category::MicrosoftGraphActivityLogs => &GRAPH_ACTIVITY,
            Category::ADFSSignInLogs => &ADFS_SIGN_INS,
            Category::EntraMonitorRecommendations => &RECOMMENDATIONS,
            Category::EntraMonitorHealthAlerts => &HEALTH_ALERTS,
        }
    }

    /// Whether the category is entra-monitor's own (its table is ours, not one Microsoft
    /// publishes).
    pub const fn is_own(self) -> bool {
        matches!(
            self,
            Category::EntraMonitorRecommendations | Category::EntraMonitorHealthAlerts
        )
    }

    /// The diagnostic-settings category name.
    pub fn name(self) -> &'static str {
        self.definition().name
    }

    /// The Log Analytics table the category fills.
    pub fn table(self) -> &'static str {
        self.definition().table
    }

    /// The category whose Graph markers a record has most of, if it has any.
    pub fn by_graph_marker(has: impl Fn(&str) -> bool) -> Option<Category> {
        Self::most_markers(|d| d.graph_markers, has)
    }

    /// The category whose column markers a row has most of, if it has any.
    pub fn by_column_marker(has: impl Fn(&str) -> bool) -> Option<Category> {
        Self::most_markers(|d| d.column_markers, has)
    }

    fn most_markers(
        markers: impl Fn(&Definition) -> &'static [&'static str],
        has: impl Fn(&str) -> bool,
    ) -> Option<Category> {
        // The first of the categories with the most (`max_by_key` would take the last).
        Self::ALL
            .into_iter()
            .map(|c| (markers(c.definition()).iter().filter(|m| has(m)).count(), c))
            .filter(|(n, _)| *n > 0)
            .fold(None, |best: Option<(usize, Category)>, (n, c)| match best {
                Some((most, _)) if most >= n => best,
                _ => Some((n, c)),
            })
            .map(|(_, c)| c)
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
    fn the_collected_categories_are_those_graph_serves() {
        let served: Vec<Category> = Category::ALL
            .into_iter()
            .filter(|c| c.definition().graph.is_some())
            .collect();
        assert_eq!(served, Category::COLLECTED);
    }

    #[test]
    fn recognition_markers_pick_their_own_category() {
        // A row with every column of a table is recognised as that table's category, and a
        // Graph record with every marker of a category as that category: no other category
        // has as many of them.
        for a in Category::ALL {
            let da = a.definition();
            let columns: Vec<&str> = da.columns.iter().map(|(n, _)| *n).collect();
            let by_columns = Category::by_column_marker(|m| columns.contains(&m));
            let by_markers = Category::by_graph_marker(|m| da.graph_markers.contains(&m));
            if da.column_markers.is_empty() {
                // The sign-in tables are told apart by other columns.
                assert_eq!(by_columns, None, "{a}");
                assert_eq!(by_markers, None, "{a}");
                continue;
            }
            assert_eq!(by_columns, Some(a));
            // The exported categories have no Graph records to recognise.
            let expected = (!da.graph_markers.is_empty()).then_some(a);
            assert_eq!(by_markers, expected, "{a}");
            for m in da.column_markers {
                assert!(columns.contains(m), "{m} not in {a}'s table");
            }
        }
        // One marker of two is the other category's.
        assert_eq!(
            Category::by_graph_marker(|m| m == "riskEventType"),
            Some(Category::UserRiskEvents)
        );
    }
}
