//! User sign-ins broken down by one dimension — status, location, device, client app,
//! Conditional Access status, risk, app, user, result code, day or hour — with each value's
//! sign-ins, successes, pending user actions (interrupts), failures and distinct users: the
//! tiles and breakdowns of Microsoft's "Sign-ins" and "Conditional Access insights" workbooks
//! (`Application-Insights-Workbooks`, `Workbooks/Azure Active Directory/SignIns/SignIns.workbook`),
//! which count a sign-in's status by the workbooks' interrupt list
//! ([`crate::query::codes::WORKBOOK_INTERRUPTS`]) and a device's state by its `trustType`
//! ("" is "Unmanaged").
//!
//! The same dimensions filter the listing (`/api/logs/SignInLogs?country=France`), so a
//! breakdown's row and the records behind it are one definition.

use super::build::{Builder, DAY_KQL, DAY_SQL, Plan, SIGN_IN_TYPE, lists, one_of, page};
use super::{Asked, Param, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::codes::{self, WORKBOOK_INTERRUPTS};
use crate::query::kql::lit;
use crate::query::params::{Common, ParamError, text};
use crate::query::{Answer, text as cell};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use serde_json::json;

/// A dimension of a user sign-in: its parameter name and its value as SQL over the embedded
/// table and as KQL over the Log Analytics one (whose non-interactive table keeps the nested
/// columns as text, hence `todynamic`).
#[derive(Debug)]
pub struct Dimension {
    pub name: &'static str,
    pub description: &'static str,
    sql: &'static str,
    kql: &'static str,
}

impl Dimension {
    /// The SQL of the value (never NULL).
    pub fn sql(&self) -> String {
        match self.name {
            "status" => status_expr().0,
            _ => self.sql.to_string(),
        }
    }

    pub fn kql(&self) -> String {
        match self.name {
            "status" => status_expr().1,
            _ => self.kql.to_string(),
        }
    }
}

/// A sign-in's status as the workbooks count it, in SQL and KQL.
fn status_expr() -> (String, String) {
    let (sql, kql) = lists(WORKBOOK_INTERRUPTS);
    (
        format!(
            "CASE WHEN \"ResultType\" = '0' THEN 'success' WHEN \"ResultType\" IN ({sql}) THEN 'interrupted' ELSE 'failure' END"
        ),
        format!(
            "case(ResultType == \"0\", \"success\", ResultType in ({kql}), \"interrupted\", \"failure\")"
        ),
    )
}

/// Every dimension, in the order of the `by` parameter's values.
pub const DIMENSIONS: [Dimension; 14] = [
    Dimension {
        name: "status",
        description: "success, interrupted (pending user action) or failure, as the workbooks count result codes",
        sql: "",
        kql: "",
    },
    Dimension {
        name: "code",
        description: "the result code (0 is success)",
        sql: "COALESCE(\"ResultType\", '')",
        kql: "ResultType",
    },
    Dimension {
        name: "app",
        description: "the app's display name",
        sql: "COALESCE(\"AppDisplayName\", '')",
        kql: "AppDisplayName",
    },
    Dimension {
        name: "user",
        description: "the user principal name, lower case",
        sql: "lower(COALESCE(\"UserPrincipalName\", ''))",
        kql: "tolower(UserPrincipalName)",
    },
    Dimension {
        name: "country",
        description: "the country or region of the sign-in's location",
        sql: "COALESCE(json_extract(\"LocationDetails\", '$.countryOrRegion'), '')",
        kql: "tostring(todynamic(LocationDetails).countryOrRegion)",
    },
    Dimension {
        name: "city",
        description: "the city of the sign-in's location",
        sql: "COALESCE(json_extract(\"LocationDetails\", '$.city'), '')",
        kql: "tostring(todynamic(LocationDetails).city)",
    },
    Dimension {
        name: "os",
        description: "the device's operating system",
        sql: "COALESCE(json_extract(\"DeviceDetail\", '$.operatingSystem'), '')",
        kql: "tostring(todynamic(DeviceDetail).operatingSystem)",
    },
    Dimension {
        name: "browser",
        description: "the browser",
        sql: "COALESCE(json_extract(\"DeviceDetail\", '$.browser'), '')",
        kql: "tostring(todynamic(DeviceDetail).browser)",
    },
    Dimension {
        name: "device_state",
        description: "the device's trust type (Azure AD joined, Hybrid Azure AD joined, Azure AD registered), or Unmanaged",
        sql: "COALESCE(NULLIF(json_extract(\"DeviceDetail\", '$.trustType'), ''), 'Unmanaged')",
        kql: "iff(isempty(tostring(todynamic(DeviceDetail).trustType)), \"Unmanaged\", tostring(todynamic(DeviceDetail).trustType))",
    },
    Dimension {
        name: "client_app",
        description: "the client app (Browser, Mobile Apps and Desktop clients, or a legacy protocol)",
        sql: "COALESCE(\"ClientAppUsed\", '')",
        kql: "ClientAppUsed",
    },
    Dimension {
        name: "ca_status",
        description: "the Conditional Access status (success, failure, notApplied)",
        sql: "COALESCE(\"ConditionalAccessStatus\", '')",
        kql: "ConditionalAccessStatus",
    },
    Dimension {
        name: "risk",
        description: "the sign-in's risk level during sign-in",
        sql: "COALESCE(\"RiskLevelDuringSignIn\", '')",
        kql: "RiskLevelDuringSignIn",
    },
    Dimension {
        name: "auth_requirement",
        description: "the authentication requirement met (singleFactorAuthentication, multiFactorAuthentication)",
        sql: "COALESCE(\"AuthenticationRequirement\", '')",
        kql: "AuthenticationRequirement",
    },
    Dimension {
        name: "day",
        description: "the day (UTC), oldest first",
        sql: DAY_SQL,
        kql: DAY_KQL,
    },
];

/// The hour dimension (UTC, `YYYY-MM-DD HH`), oldest first: a breakdown, not a listing filter.
const HOUR: Dimension = Dimension {
    name: "hour",
    description: "the hour (UTC, YYYY-MM-DD HH), oldest first",
    sql: "substr(\"TimeGenerated\", 1, 10) || ' ' || substr(\"TimeGenerated\", 12, 2)",
    kql: "format_datetime(bin(TimeGenerated, 1h), \"yyyy-MM-dd HH\")",
};

/// The dimension named `name` (the listing's filters: every one but `day` and `hour`).
pub fn dimension(name: &str) -> Option<&'static Dimension> {
    DIMENSIONS.iter().find(|d| d.name == name)
}

/// The dimensions that filter the listing of user sign-ins, besides its own `user` and `app`.
pub fn listing_dimensions() -> impl Iterator<Item = &'static Dimension> {
    DIMENSIONS
        .iter()
        .filter(|d| !["code", "app", "user", "day"].contains(&d.name))
}

/// The values of the `status` filter.
pub(super) const STATUSES: [&str; 3] = ["success", "interrupted", "failure"];

/// The dimension filters of `q` (a listing's or a breakdown's): each dimension but `code`,
/// `app`, `user` and `day` given as a parameter, `status` one of its three values.
pub fn dimension_filters(q: &Query) -> Result<Vec<(&'static Dimension, String)>, ParamError> {
    let mut filters = Vec::new();
    for d in listing_dimensions() {
        let v = if d.name == "status" {
            one_of(q, d.name, &STATUSES)?
        } else {
            text(q, d.name)?
        };
        if let Some(v) = v {
            filters.push((d, v));
        }
    }
    Ok(filters)
}

/// A question's parameters: `$p`, then the dimension filters (status, country, city, os,
/// browser, device_state, client_app, ca_status, risk, auth_requirement), so the listing and the
/// breakdown document the same filters.
macro_rules! with_dimension_filters {
    ($($p:expr),* $(,)?) => {
        &[
            $($p,)*
            $crate::query::questions::Param {
                name: "status",
                required: false,
                description: "User sign-ins only: success, interrupted or failure, as the workbooks count result codes.",
                example: "failure",
                values: &super::sign_in_breakdown::STATUSES,
            },
            $crate::query::questions::Param {
                name: "country",
                required: false,
                description: "User sign-ins only: the location's country or region.",
                example: "FR",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "city",
                required: false,
                description: "User sign-ins only: the location's city.",
                example: "Paris",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "os",
                required: false,
                description: "User sign-ins only: the device's operating system.",
                example: "Windows 10",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "browser",
                required: false,
                description: "User sign-ins only: the browser.",
                example: "Edge 120.0.0",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "device_state",
                required: false,
                description: "User sign-ins only: the device's trust type, or Unmanaged.",
                example: "Unmanaged",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "client_app",
                required: false,
                description: "User sign-ins only: the client app.",
                example: "Browser",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "ca_status",
                required: false,
                description: "User sign-ins only: the Conditional Access status.",
                example: "notApplied",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "risk",
                required: false,
                description: "User sign-ins only: the risk level during sign-in.",
                example: "none",
                values: &[],
            },
            $crate::query::questions::Param {
                name: "auth_requirement",
                required: false,
                description: "User sign-ins only: the authentication requirement met.",
                example: "singleFactorAuthentication",
                values: &[],
            },
        ]
    };
}
pub(super) use with_dimension_filters;

const BY: [&str; 15] = [
    "status",
    "code",
    "app",
    "user",
    "country",
    "city",
    "os",
    "browser",
    "device_state",
    "client_app",
    "ca_status",
    "risk",
    "auth_requirement",
    "day",
    "hour",
];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "sign-in-breakdown",
        description: "User sign-ins by one dimension (status, result code, app, user, location, device, client app, Conditional Access status, risk, day or hour): sign-ins, successes, interrupts, failures and users per value, as Microsoft's Sign-ins and Conditional Access workbooks count them.",
        trigger: Trigger::Http {
            route: "signins/breakdown",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: with_dimension_filters![
        Param {
            name: "by",
            required: true,
            description: "The dimension: status, code, app, user, country, city, os, browser, device_state (trust type or Unmanaged), client_app, ca_status, risk, auth_requirement, day or hour. The other dimensions but code, day and hour filter it, as they filter /api/logs: status, country, city, os, browser, device_state, client_app, ca_status, risk, auth_requirement.",
            example: "country",
            values: &BY,
        },
        APP,
        USER,
        SIGN_IN_TYPE,
    ],
    default_days: 7,
};

pub struct SignInBreakdown;

#[derive(Debug)]
struct Asking {
    category: Category,
    by: &'static Dimension,
    filters: SignInFilters,
}

/// What narrows a question over user sign-ins: an app, a user, and the listing's dimension
/// filters (`status=failure`, `country=DE`, ...).
#[derive(Debug)]
pub(super) struct SignInFilters {
    app: Option<String>,
    user: Option<String>,
    dimensions: Vec<(&'static Dimension, String)>,
}

impl SignInFilters {
    pub(super) fn parse(q: &Query) -> Result<Self, ParamError> {
        Ok(SignInFilters {
            app: text(q, "app")?,
            user: text(q, "user")?,
            dimensions: dimension_filters(q)?,
        })
    }

    /// Each filter as a condition, the same value compared without case in SQL and KQL.
    pub(super) fn apply(&self, b: &mut Builder) {
        if let Some(user) = &self.user {
            b.through_nocase_index("UserPrincipalName");
            b.filter(
                "\"UserPrincipalName\" = ? COLLATE NOCASE",
                &[user],
                format!("UserPrincipalName =~ {}", lit(user)),
            );
        }
        if let Some(app) = &self.app {
            b.filter(
                "\"AppDisplayName\" = ? COLLATE NOCASE",
                &[app],
                format!("AppDisplayName =~ {}", lit(app)),
            );
        }
        apply_dimensions(b, &self.dimensions);
    }
}

/// The dimension filters as conditions.
pub(super) fn apply_dimensions(b: &mut Builder, dimensions: &[(&'static Dimension, String)]) {
    for (d, v) in dimensions {
        b.filter(
            &format!("{} = ? COLLATE NOCASE", d.sql()),
            &[v],
            format!("{} =~ {}", d.kql(), lit(v)),
        );
    }
}

/// The `app` and `user` parameters of a question over user sign-ins.
pub(super) const APP: Param = Param {
    name: "app",
    required: false,
    description: "Only the sign-ins to this app (display name, any case).",
    example: "Microsoft Teams",
    values: &[],
};
pub(super) const USER: Param = Param {
    name: "user",
    required: false,
    description: "Only this user's sign-ins (user principal name, any case).",
    example: "adele.vance@contoso.com",
    values: &[],
};

impl Question for SignInBreakdown {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        let by = one_of(q, "by", &BY)?.ok_or_else(|| ParamError {
            parameter: "by".into(),
            message: format!("is required; expected one of {}", BY.join(", ")),
        })?;
        let by = if by == "hour" {
            &HOUR
        } else {
            dimension(&by).expect("every value of BY but hour is a dimension")
        };
        Ok(Box::new(Asking {
            category: super::build::sign_in_type(q)?,
            by,
            filters: SignInFilters::parse(q)?,
        }))
    }
}

impl Asked for Asking {
    fn category(&self) -> Category {
        self.category
    }

    fn plan(&self, tenant: &str, c: &Common) -> Plan {
        let mut b = Builder::new(self.category, tenant, c);
        self.filters.apply(&mut b);
        let (status_sql, status_kql) = status_expr();
        let in_time = matches!(self.by.name, "day" | "hour");
        let order_sql = if in_time { "1" } else { "2 DESC, 1" };
        let mut sql = format!(
            "SELECT value, COUNT(*), SUM(s = 'success'), SUM(s = 'interrupted'), SUM(s = 'failure'), COUNT(DISTINCT u) FROM (SELECT {} AS value, {status_sql} AS s, lower(\"UserPrincipalName\") AS u {}) GROUP BY 1 ORDER BY {order_sql}",
            self.by.sql(),
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push(format!(
            "| extend value = {}, s = {status_kql}",
            self.by.kql()
        ));
        kql.push("| summarize sign_ins = count(), success = countif(s == \"success\"), interrupted = countif(s == \"interrupted\"), failure = countif(s == \"failure\"), users = count_distinct(tolower(UserPrincipalName)) by value".into());
        kql.push(
            if in_time {
                "| order by value asc"
            } else {
                "| order by sign_ins desc, value asc"
            }
            .into(),
        );
        let mut params = b.params;
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: vec![
                "value",
                "sign_ins",
                "success",
                "interrupted",
                "failure",
                "users",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }

    /// Counts as numbers from either backend; by result code, each code's meaning follows.
    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        let mut a = super::build::counts_from(a, 1);
        if self.by.name == "code" {
            a.columns.push("meaning".into());
            for r in &mut a.rows {
                let meaning = codes::classify(&cell(&r[0])).1.unwrap_or("");
                r.push(json!(meaning));
            }
        }
        a
    }
}
