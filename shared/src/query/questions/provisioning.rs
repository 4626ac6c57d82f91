//! 7–9 and the general case: provisioning events by source, target, action, object type and
//! status. The presets (`groups_created`, `users_removed`, `users_created`) fix some of them.

use super::build::{Builder, Plan, kql_id, one_of, page};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

/// Graph's `provisioningAction` values (the `ProvisioningAction` column).
/// <https://learn.microsoft.com/en-us/graph/api/resources/provisioningobjectsummary>
pub const PROVISIONING_ACTIONS: [&str; 6] = [
    "create",
    "update",
    "delete",
    "disable",
    "stagedDelete",
    "other",
];
/// Graph's `provisioningResult` values (the `ResultType` column of provisioning rows).
pub const PROVISIONING_RESULTS: [&str; 4] = ["success", "failure", "skipped", "warning"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "provisioning",
        description: "Provisioning events filtered by source, target, action, object type and status.",
        trigger: Trigger::Http {
            route: "provisioning/events",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[
        Param {
            name: "source",
            required: false,
            description: "Source system name.",
            example: "Workday",
            values: &[],
        },
        Param {
            name: "target",
            required: false,
            description: "Target system name.",
            example: "Active Directory",
            values: &[],
        },
        Param {
            name: "action",
            required: false,
            description: "create, update, delete, disable, ...",
            example: "create",
            values: &PROVISIONING_ACTIONS,
        },
        Param {
            name: "object_type",
            required: false,
            description: "User or Group.",
            example: "User",
            values: &[],
        },
        Param {
            name: "status",
            required: false,
            description: "success, skipped or failure.",
            example: "failure",
            values: &PROVISIONING_RESULTS,
        },
    ],
    default_days: 7,
};

pub struct Provisioning;

/// Provisioning events matching every filter given (names without case).
#[derive(Debug, Default)]
pub(super) struct Events {
    pub source: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub status: Option<String>,
}

impl Events {
    /// A preset's events: successful `action`s on `object`s.
    pub fn succeeded(
        source: Option<String>,
        target: Option<String>,
        action: &str,
        object: &str,
    ) -> Box<dyn Asked> {
        Box::new(Events {
            source,
            target,
            action: Some(action.into()),
            object_type: Some(object.into()),
            status: Some("success".into()),
        })
    }
}

impl Question for Provisioning {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Events {
            source: text(q, "source")?,
            target: text(q, "target")?,
            action: one_of(q, "action", &PROVISIONING_ACTIONS)?,
            object_type: text(q, "object_type")?,
            status: one_of(q, "status", &PROVISIONING_RESULTS)?,
        }))
    }
}

impl Asked for Events {
    fn category(&self) -> Category {
        Category::ProvisioningLogs
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category(), tenant, c);
        for (value, sql, kql) in [
            (
                &self.source,
                "json_extract(\"SourceSystem\", '$.displayName')",
                "tostring(parse_json(SourceSystem).displayName)",
            ),
            (
                &self.target,
                "json_extract(\"TargetSystem\", '$.displayName')",
                "tostring(parse_json(TargetSystem).displayName)",
            ),
            (&self.action, "\"ProvisioningAction\"", "ProvisioningAction"),
            (
                &self.object_type,
                "json_extract(\"SourceIdentity\", '$.identityType')",
                "tostring(parse_json(SourceIdentity).identityType)",
            ),
            (&self.status, "\"ResultType\"", "ResultType"),
        ] {
            if let Some(v) = value {
                // Names are matched without case, as the portal does.
                b.filter(
                    &format!("lower({sql}) = lower(?)"),
                    &[v],
                    format!("{kql} =~ {}", lit(v)),
                );
            }
        }
        let mut sql = format!(
            "SELECT \"TimeGenerated\", json_extract(\"SourceSystem\", '$.displayName'), json_extract(\"TargetSystem\", '$.displayName'), \"ProvisioningAction\", json_extract(\"SourceIdentity\", '$.identityType'), \"ResultType\", json_extract(\"SourceIdentity\", '$.displayName'), json_extract(\"SourceIdentity\", '$.id'), json_extract(\"TargetIdentity\", '$.id'), \"Id\" {} ORDER BY \"TimeGenerated\" DESC, \"Id\"",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push(format!("| project ['time'] = TimeGenerated, source = tostring(parse_json(SourceSystem).displayName), target = tostring(parse_json(TargetSystem).displayName), action = ProvisioningAction, object_type = tostring(parse_json(SourceIdentity).identityType), status = ResultType, name = tostring(parse_json(SourceIdentity).displayName), source_id = tostring(parse_json(SourceIdentity).id), target_id = tostring(parse_json(TargetIdentity).id), id = {}", kql_id(c)));
        kql.push("| order by ['time'] desc, id asc".into());
        let mut params = b.params;
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: vec![
                "time",
                "source",
                "target",
                "action",
                "object_type",
                "status",
                "name",
                "source_id",
                "target_id",
                "id",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }
}
