//! 1. Who gave users access to an admin group or a directory role, when, through what.

use super::build::{Builder, Plan, kql_id, page};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

/// The audit activities that give access to a directory role, and how.
pub const ROLE_ACTIVITIES: [(&str, &str); 4] = [
    ("Add member to role", "direct"),
    ("Add eligible member to role", "PIM (eligible)"),
    (
        "Add member to role completed (PIM activation)",
        "PIM (activated)",
    ),
    ("Add member to group", "group"),
];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "admin-access",
        description: "Who gave a user access to an admin group or a directory role, when, and through what (direct, PIM, group).",
        trigger: Trigger::Http {
            route: "audit/admin-access",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "user",
            required: false,
            description: "Only grants to this user (user principal name, any case).",
            example: "adele.vance@contoso.com",
            values: &[],
        },
        Param {
            name: "admin_groups",
            required: false,
            description: "Groups whose name contains this text count as admin groups (default: admin).",
            example: "admin",
            values: &[],
        },
    ],
    default_days: 30,
};

pub struct AdminAccess;

#[derive(Debug)]
struct Asking {
    user: Option<String>,
    /// Groups whose name contains this (case-insensitive) count as admin groups.
    admin_groups: String,
}

impl Question for AdminAccess {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            user: text(q, "user")?,
            admin_groups: text(q, "admin_groups")?.unwrap_or_else(|| "admin".into()),
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::AuditLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        let activities: Vec<&str> = ROLE_ACTIVITIES.iter().map(|(a, _)| *a).collect();
        let placeholders = vec!["?"; activities.len()].join(", ");
        b.filter(
            &format!("\"OperationName\" IN ({placeholders})"),
            &activities,
            format!(
                "OperationName in ({})",
                activities
                    .iter()
                    .map(|a| lit(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        // The group or role is the second target; a group counts when its name matches.
        b.filter(
            "(\"OperationName\" != 'Add member to group' OR instr(lower(json_extract(\"TargetResources\", '$[1].displayName')), lower(?)) > 0)",
            &[&self.admin_groups],
            format!(
                "OperationName != \"Add member to group\" or tostring(TargetResources[1].displayName) contains {}",
                lit(&self.admin_groups)
            ),
        );
        if let Some(u) = &self.user {
            b.filter(
                "lower(json_extract(\"TargetResources\", '$[0].userPrincipalName')) = lower(?)",
                &[u],
                format!(
                    "tostring(TargetResources[0].userPrincipalName) =~ {}",
                    lit(u)
                ),
            );
        }
        let how_sql: String = ROLE_ACTIVITIES
            .iter()
            .map(|(a, h)| format!("WHEN '{a}' THEN '{h}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let how_kql: String = ROLE_ACTIVITIES
            .iter()
            .map(|(a, h)| format!("OperationName == {}, {}", lit(a), lit(h)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT \"TimeGenerated\", json_extract(\"TargetResources\", '$[0].userPrincipalName'), json_extract(\"TargetResources\", '$[1].displayName'), CASE \"OperationName\" {how_sql} END, COALESCE(json_extract(\"InitiatedBy\", '$.user.userPrincipalName'), json_extract(\"InitiatedBy\", '$.app.displayName')), \"OperationName\", \"CorrelationId\" {} ORDER BY \"TimeGenerated\" DESC, \"Id\"",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push(format!(
            "| project ['time'] = TimeGenerated, user = tostring(TargetResources[0].userPrincipalName), granted = tostring(TargetResources[1].displayName), through = case({how_kql}, \"\"), initiated_by = coalesce(tostring(InitiatedBy.user.userPrincipalName), tostring(InitiatedBy.app.displayName)), operation = OperationName, correlation_id = CorrelationId, record_id = {}",
            kql_id(c)
        ));
        kql.push("| order by ['time'] desc, record_id asc | project-away record_id".into());
        let mut params = b.params;
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: vec![
                "time",
                "user",
                "granted",
                "through",
                "initiated_by",
                "operation",
                "correlation_id",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }
}
