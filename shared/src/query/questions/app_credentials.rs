//! Usage & insights, "Application credential activity": every credential of the tenant's
//! application registrations and service principals (from the directory inventory that
//! `collect-inventory` keeps) with its type, usage, origin, dates and when it was last used —
//! the fields of Graph's `appCredentialSignInActivity` (beta). A client secret or certificate
//! is used when a service principal signs in with it (`ServicePrincipalCredentialKeyId`); a
//! service principal's signing certificate when a SAML 2.0 sign-in to its app succeeds.
//! Flags: expiring within 30 days of the range's end, expired, unused for the 30 days before
//! it. Beside ours, Microsoft's last use (`appCredentialSignInActivities`, where the tenant has
//! Workload ID Premium and `collect-inventory` collected it; it covers all history). The
//! inventory is in the embedded store only, so this report is answered there.

use super::build::{Builder, Plan};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::params::{Common, ParamError};
use crate::query::{Answer, text};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value as Sql;
use serde_json::json;

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "app-credentials",
        description: "Usage & insights, application credential activity: each credential of the tenant's apps and service principals with its type, origin, dates, last use, and whether it expires within 30 days or went unused for 30.",
        trigger: Trigger::Http {
            route: "insights/app-credentials",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: &[],
    default_days: 90,
};

/// The window of the flags: expiring within, unused for.
pub const CREDENTIAL_DAYS: i64 = 30;

/// No parameters of its own: the question is its own asking.
#[derive(Debug)]
pub struct AppCredentials;

impl Question for AppCredentials {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, _q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(AppCredentials))
    }
}

/// The credentials of one inventory kind's objects: (kind, origin, credential list, key type).
const CREDENTIALS: [(&str, &str, &str, &str); 4] = [
    (
        "applications",
        "application",
        "passwordCredentials",
        "clientSecret",
    ),
    (
        "applications",
        "application",
        "keyCredentials",
        "certificate",
    ),
    (
        "servicePrincipals",
        "servicePrincipal",
        "passwordCredentials",
        "clientSecret",
    ),
    (
        "servicePrincipals",
        "servicePrincipal",
        "keyCredentials",
        "certificate",
    ),
];

impl Asked for AppCredentials {
    fn category(&self) -> Category {
        Category::ServicePrincipalSignInLogs
    }

    fn categories(&self) -> Vec<Category> {
        vec![Category::ServicePrincipalSignInLogs, Category::SignInLogs]
    }

    fn embedded_only(&self) -> bool {
        true
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut params = Vec::new();
        let field = |f: &str| format!("json_extract(c.value, '$.{f}')");
        let creds = CREDENTIALS
            .iter()
            .map(|(kind, origin, list, key_type)| {
                params.push(Sql::Text(tenant.into()));
                format!(
                    "SELECT '{origin}' AS origin, json_extract(i.body, '$.appId') AS app_id, json_extract(i.body, '$.id') AS object_id, \
                     json_extract(i.body, '$.displayName') AS name, {} AS key_id, '{key_type}' AS key_type, \
                     lower(COALESCE({}, 'verify')) AS usage, {} AS start, {} AS ends \
                     FROM inventory AS i, json_each(i.body, '$.{list}') AS c \
                     WHERE i.tenant = ? AND i.kind = '{kind}' AND i.removed IS NULL",
                    field("keyId"),
                    field("usage"),
                    field("startDateTime"),
                    field("endDateTime"),
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut sp = Builder::new(Category::ServicePrincipalSignInLogs, tenant, c);
        sp.filter(
            "COALESCE(\"ServicePrincipalCredentialKeyId\", '') != ''",
            &[],
            "isnotempty(ServicePrincipalCredentialKeyId)".into(),
        );
        let mut saml = Builder::new(Category::SignInLogs, tenant, c);
        saml.filter(
            "\"AuthenticationProtocol\" = 'saml20' AND \"ResultType\" = '0'",
            &[],
            "AuthenticationProtocol == \"saml20\" and ResultType == \"0\"".into(),
        );
        let used = format!(
            "SELECT lower(\"ServicePrincipalCredentialKeyId\") AS key_id, MAX(\"TimeGenerated\") AS t {} GROUP BY 1",
            sp.source_sql()
        );
        let signed = format!(
            "SELECT \"AppId\" AS app_id, MAX(\"TimeGenerated\") AS t {} GROUP BY 1",
            saml.source_sql()
        );
        params.extend(sp.params);
        params.extend(saml.params);
        // Microsoft's own report of each credential's last use, where collected.
        let microsoft = "SELECT lower(json_extract(body, '$.keyId')) AS key_id, json_extract(body, '$.signInActivity.lastSignInDateTime') AS t \
             FROM inventory WHERE tenant = ? AND kind = 'appCredentialSignInActivities' AND removed IS NULL";
        params.push(Sql::Text(tenant.into()));
        // The other side's object: an app's service principal, a service principal's app.
        let other = |kind: &str| {
            format!(
                "(SELECT json_extract(o.body, '$.id') FROM inventory AS o WHERE o.tenant = ? AND o.kind = '{kind}' AND o.removed IS NULL AND json_extract(o.body, '$.appId') = c.app_id LIMIT 1)"
            )
        };
        let sql = format!(
            "WITH creds AS ({creds}), used AS ({used}), signed AS ({signed}), microsoft AS ({microsoft}) \
             SELECT c.key_id, c.key_type, c.usage, c.origin, c.app_id, c.name, \
             CASE WHEN c.origin = 'application' THEN c.object_id ELSE {} END, \
             CASE WHEN c.origin = 'servicePrincipal' THEN c.object_id ELSE {} END, \
             c.start, c.ends, \
             CASE WHEN c.origin = 'servicePrincipal' AND c.key_type = 'certificate' AND c.usage = 'sign' THEN s.t ELSE u.t END, m.t \
             FROM creds AS c LEFT JOIN used AS u ON u.key_id = lower(c.key_id) LEFT JOIN signed AS s ON s.app_id = c.app_id \
             LEFT JOIN microsoft AS m ON m.key_id = lower(c.key_id) \
             ORDER BY c.ends, c.key_id",
            other("applications"),
            other("servicePrincipals"),
        );
        params.push(Sql::Text(tenant.into()));
        params.push(Sql::Text(tenant.into()));
        let mut kql = sp.kql;
        kql.push("| summarize last_used = max(TimeGenerated) by key_id = tolower(ServicePrincipalCredentialKeyId)".into());
        kql.push(format!(
            "| union ({} | summarize last_used = max(TimeGenerated) by saml_app_id = AppId)",
            saml.kql.join(" ")
        ));
        Plan {
            columns: vec![
                "key_id",
                "key_type",
                "key_usage",
                "credential_origin",
                "app_id",
                "display_name",
                "app_object_id",
                "service_principal_object_id",
                "created",
                "expires",
                "last_used",
                "microsoft_last_used",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: false,
            rows_only: None,
        }
    }

    /// The flags, against the range's end.
    fn shape(&self, c: &Common, mut a: Answer) -> Answer {
        let time = |v: &serde_json::Value| {
            DateTime::parse_from_rfc3339(&text(v))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let window = Duration::days(CREDENTIAL_DAYS);
        a.columns.extend(
            [
                "expired",
                "expiring_within_30_days",
                "unused_30_days",
                "source",
            ]
            .map(String::from),
        );
        for r in &mut a.rows {
            let ends = time(&r[9]);
            let used = time(&r[10]);
            let expired = ends.is_some_and(|e| e < c.to);
            let expiring = ends.is_some_and(|e| e >= c.to && e <= c.to + window);
            let unused = used.is_none_or(|u| u < c.to - window);
            r.extend([
                json!(expired),
                json!(expiring),
                json!(unused),
                json!("logs"),
            ]);
        }
        a
    }
}
