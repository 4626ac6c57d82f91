//! Usage & insights, "Service principal sign-in activity": per application id, when it last
//! signed in as an app-only client (service principal and managed identity sign-ins' `AppId`),
//! as an app-only resource (service principal sign-ins' `ResourceIdentity`), as a delegated
//! client (user sign-ins' `AppId`, interactive and not) and as a delegated resource (user
//! sign-ins' `ResourceIdentity`), and overall — the four roles and the overall figure of
//! Microsoft's `servicePrincipalSignInActivity` (beta). Every attempt counts, as Graph's user
//! `lastSignInDateTime` does. Computed from the logs we hold, so a row covers the range asked
//! (said in each row). Beside them, Microsoft's own rows (`source: microsoft`) where
//! `collect-inventory` collected `servicePrincipalSignInActivities` (Workload ID Premium): they
//! cover all history. Log Analytics answers our rows only.

use super::build::{Builder, Plan, kql_id, page};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::clock::Timestamp;
use crate::model::{Category, is_guid};
use crate::query::Answer;
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, text as param};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "service-principal-sign-ins",
        description: "Usage & insights, service principal sign-in activity: per application id the last sign-in as app-only client, app-only resource, delegated client, delegated resource, and overall.",
        trigger: Trigger::Http {
            route: "insights/service-principal-sign-ins",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[Param {
        name: "app",
        required: false,
        description: "Only this application id.",
        example: "00000003-0000-0000-c000-000000000000",
        values: &[],
    }],
    default_days: 30,
};

/// Where a role is read: the category, its application id column and its name column.
type Source = (Category, &'static str, &'static str);

/// The roles, as Graph names their `signInActivity` objects, with the column each is answered
/// in, and where each is read.
const ROLES: [(&str, &str, &[Source]); 4] = [
    (
        "applicationAuthenticationClient",
        "app_only_client",
        &[
            (
                Category::ServicePrincipalSignInLogs,
                "AppId",
                "ServicePrincipalName",
            ),
            (
                Category::ManagedIdentitySignInLogs,
                "AppId",
                "ServicePrincipalName",
            ),
        ],
    ),
    (
        "applicationAuthenticationResource",
        "app_only_resource",
        &[(
            Category::ServicePrincipalSignInLogs,
            "ResourceIdentity",
            "ResourceDisplayName",
        )],
    ),
    (
        "delegatedClient",
        "delegated_client",
        &[
            (Category::SignInLogs, "AppId", "AppDisplayName"),
            (
                Category::NonInteractiveUserSignInLogs,
                "AppId",
                "AppDisplayName",
            ),
        ],
    ),
    (
        "delegatedResource",
        "delegated_resource",
        &[
            (
                Category::SignInLogs,
                "ResourceIdentity",
                "ResourceDisplayName",
            ),
            (
                Category::NonInteractiveUserSignInLogs,
                "ResourceIdentity",
                "ResourceDisplayName",
            ),
        ],
    ),
];

/// The `signInActivity` objects of Microsoft's `servicePrincipalSignInActivity`, in the order
/// of [`ROLES`].
const MICROSOFT_ROLES: [&str; 4] = [
    "applicationAuthenticationClientSignInActivity",
    "applicationAuthenticationResourceSignInActivity",
    "delegatedClientSignInActivity",
    "delegatedResourceSignInActivity",
];

pub struct ServicePrincipalSignIns;

#[derive(Debug)]
struct Asking {
    app: Option<String>,
}

impl Question for ServicePrincipalSignIns {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let app = param(q, "app")?;
        if let Some(a) = &app
            && !is_guid(a)
        {
            return Err(ParamError {
                parameter: "app".into(),
                message: format!("\"{a}\" is not an application id (a GUID)"),
            });
        }
        Ok(Box::new(Asking { app }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        Category::ServicePrincipalSignInLogs
    }

    fn categories(&self) -> Vec<Category> {
        vec![
            Category::ServicePrincipalSignInLogs,
            Category::ManagedIdentitySignInLogs,
            Category::SignInLogs,
            Category::NonInteractiveUserSignInLogs,
        ]
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let id = kql_id(c);
        let mut parts = Vec::new();
        let mut params = Vec::new();
        let mut legs = Vec::new();
        for (role, _, sources) in ROLES {
            for (category, id_col, name_col) in sources {
                let b = Builder::new(*category, tenant, c);
                // With one MAX() in a query, SQLite takes the bare columns (the request id and
                // name) from the row holding it.
                parts.push(format!(
                    "SELECT \"{id_col}\" AS app_id, '{role}' AS role, MAX(\"TimeGenerated\") AS t, \"Id\" AS req, \"{name_col}\" AS name {} AND COALESCE(\"{id_col}\", '') != '' GROUP BY 1",
                    b.source_sql()
                ));
                params.extend(b.params);
                legs.push(format!(
                    "({} | where isnotempty({id_col}) | project app_id = {id_col}, role = {}, TimeGenerated, request_id = {id}, name = {name_col})",
                    b.kql.join(" "),
                    lit(role)
                ));
            }
        }
        let per_role = ROLES
            .iter()
            .map(|(role, col, _)| format!("MAX(CASE WHEN role = '{role}' THEN t END) AS {col}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Microsoft's report (collected where the tenant has Workload ID Premium), side by side.
        let activity =
            |object: &str, field: &str| format!("json_extract(i.body, '$.{object}.{field}')");
        let microsoft_roles = MICROSOFT_ROLES
            .iter()
            .zip(ROLES)
            .map(|(object, (_, col, _))| {
                format!("{} AS {col}", activity(object, "lastSignInDateTime"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        params.push(Sql::Text(tenant.into()));
        let app_sql = match &self.app {
            Some(app) => {
                params.push(Sql::Text(app.clone()));
                " WHERE app_id = ?"
            }
            None => "",
        };
        let mut sql = format!(
            "WITH g AS (SELECT app_id, role, MAX(t) AS t, req, name FROM ({}) GROUP BY 1, 2), \
             ours AS (SELECT app_id, MAX(name) AS name, MAX(t) AS last, \
             (SELECT h.req FROM g AS h WHERE h.app_id = g.app_id ORDER BY h.t DESC, h.req LIMIT 1) AS req, {per_role}, 'logs' AS source \
             FROM g GROUP BY app_id), \
             microsoft AS (SELECT json_extract(i.body, '$.appId') AS app_id, \
             (SELECT json_extract(o.body, '$.displayName') FROM inventory AS o WHERE o.tenant = i.tenant AND o.kind = 'servicePrincipals' AND o.removed IS NULL AND json_extract(o.body, '$.appId') = json_extract(i.body, '$.appId') LIMIT 1) AS name, \
             {} AS last, {} AS req, {microsoft_roles}, 'microsoft' AS source \
             FROM inventory AS i WHERE i.tenant = ? AND i.kind = 'servicePrincipalSignInActivities' AND i.removed IS NULL) \
             SELECT * FROM (SELECT * FROM ours UNION ALL SELECT * FROM microsoft){app_sql} ORDER BY last DESC, app_id, source",
            parts.join(" UNION ALL "),
            activity("lastSignInActivity", "lastSignInDateTime"),
            activity("lastSignInActivity", "lastSignInRequestId"),
        );
        let app_kql = self
            .app
            .as_ref()
            .map(|app| format!("| where app_id == {}", lit(app)));
        let mut kql = vec![format!("union\n    {}", legs.join(",\n    "))];
        kql.extend(app_kql);
        kql.push("| summarize arg_max(TimeGenerated, request_id, name) by app_id, role".into());
        let per_role_kql = ROLES
            .iter()
            .map(|(role, col, _)| format!("{col} = maxif(TimeGenerated, role == {})", lit(role)))
            .collect::<Vec<_>>()
            .join(", ");
        kql.push(format!(
            "| summarize display_name = take_any(name), arg_max(TimeGenerated, request_id), {per_role_kql} by app_id"
        ));
        kql.push("| project app_id, display_name, last_sign_in = TimeGenerated, last_request_id = request_id, app_only_client, app_only_resource, delegated_client, delegated_resource, source = \"logs\"".into());
        kql.push("| order by last_sign_in desc, app_id asc".into());
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: vec![
                "app_id",
                "display_name",
                "last_sign_in",
                "last_request_id",
                "app_only_client",
                "app_only_resource",
                "delegated_client",
                "delegated_resource",
                "source",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }

    /// Each row says where it comes from and the history it covers.
    /// The history each row covers: ours the range asked; Microsoft's all of it (null).
    fn shape(&self, c: &Common, mut a: Answer) -> Answer {
        a.columns
            .extend(["covers_from", "covers_to"].map(String::from));
        for r in &mut a.rows {
            if r[8] == "logs" {
                r.extend([json!(c.from.rfc3339_millis()), json!(c.to.rfc3339_millis())]);
            } else {
                r.extend([Value::Null, Value::Null]);
            }
        }
        a
    }
}
