//! The questions, each planned twice from one definition: as SQL for the embedded store (values
//! bound as parameters, never spliced) and as KQL for Log Analytics (values written as escaped
//! string literals) — the KQL is what `explain=true` shows, ready to paste into Log Analytics.
//! Both plans return the same columns; [`super::finish`] shapes the answer from either.

use super::kql::{lit, time as kt};
use super::params::{Common, KqlTables, ParamError, required, text};
use crate::model::Category;
use crate::model::tables::columns;
use crate::state::embedded::{Period, tenant_column};
use chrono::{DateTime, Duration, DurationRound, Utc};
use rusqlite::types::Value as Sql;
use std::collections::BTreeMap;

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

/// The listing's filters: parameter, and the columns it means (the first the table has).
pub const LIST_FILTERS: [(&str, &[&str]); 7] = [
    ("user", &["UserPrincipalName"]),
    ("app", &["AppDisplayName"]),
    ("ip", &["IPAddress", "IpAddress"]),
    ("result", &["ResultType"]),
    ("operation", &["OperationName"]),
    ("correlation_id", &["CorrelationId"]),
    ("id", &["Id"]),
];

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
/// Result words of the tables whose `ResultType` is not a sign-in error code.
pub const RESULT_WORDS: [&str; 5] = ["success", "failure", "skipped", "warning", "timeout"];

/// A parameter that must be one of `allowed` (any case; answered in the listed spelling).
fn one_of(
    q: &BTreeMap<String, String>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, ParamError> {
    let Some(v) = text(q, name)? else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&v))
        .map(|a| Some(a.to_string()))
        .ok_or_else(|| ParamError {
            parameter: name.into(),
            message: format!(
                "\"{v}\" is not allowed; expected one of {}",
                allowed.join(", ")
            ),
        })
}

/// `result`: a sign-in result code (digits, 0 for success) or a result word.
fn check_result(v: &str) -> Result<(), ParamError> {
    let code = !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit());
    if code || RESULT_WORDS.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        return Ok(());
    }
    Err(ParamError {
        parameter: "result".into(),
        message: format!(
            "\"{v}\" is not a result; expected a sign-in result code (e.g. 0 or 50126) or one of {}",
            RESULT_WORDS.join(", ")
        ),
    })
}

/// Self-service and admin password resets (audit activity names).
pub const SELF_SERVICE_RESET: &str = "Reset password (self-service)";
pub const ADMIN_RESET: &str = "Reset user password";

/// One question of the product.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// 1. Who gave users access to an admin group or a directory role, when, through what.
    AdminAccess {
        user: Option<String>,
        /// Groups whose name contains this (case-insensitive) count as admin groups.
        admin_groups: String,
    },
    /// 2. Which users sign in to an app.
    AppUsers { app: String },
    /// 3. Password resets per day, self-service and by an admin.
    PasswordResets,
    /// 4. A user's sign-in pattern.
    SignInPattern { user: String },
    /// 5. Users who signed in, per day and distinct over the range.
    WeeklyUsers,
    /// 6. Sign-in status: success, failure, interrupted, with top error codes.
    SignInStatus,
    /// A category's records, newest first, filtered by column values.
    List {
        category: Category,
        /// (column, value): equality, without case for names.
        filters: Vec<(&'static str, String)>,
    },
    /// 7–9 and the general case: provisioning events by target, source, action, object, status.
    Provisioning {
        source: Option<String>,
        target: Option<String>,
        action: Option<String>,
        object_type: Option<String>,
        status: Option<String>,
    },
}

/// A question's parameters, besides the common ones.
pub fn own_parameters(name: &str) -> &'static [&'static str] {
    match name {
        "admin-access" => &["user", "admin_groups"],
        "app-users" => &["app"],
        "sign-in-pattern" => &["user"],
        "provisioning" => &["source", "target", "action", "object_type", "status"],
        "users-removed" | "groups-created" => &["target"],
        "users-created" => &["source", "target"],
        "logs" => &[
            "category",
            "user",
            "app",
            "ip",
            "result",
            "operation",
            "correlation_id",
            "id",
        ],
        _ => &[],
    }
}

impl Question {
    /// Reads a question's own parameters. Presets 7–9 fix the action, object and status.
    pub fn parse(name: &str, q: &BTreeMap<String, String>) -> Result<Question, ParamError> {
        let prov = |source, target, action: &str, object: &str| Question::Provisioning {
            source,
            target,
            action: Some(action.into()),
            object_type: Some(object.into()),
            status: Some("success".into()),
        };
        Ok(match name {
            "admin-access" => Question::AdminAccess {
                user: text(q, "user")?,
                admin_groups: text(q, "admin_groups")?.unwrap_or_else(|| "admin".into()),
            },
            "app-users" => Question::AppUsers {
                app: required(q, "app", "Outlook")?,
            },
            "password-resets" => Question::PasswordResets,
            "sign-in-pattern" => Question::SignInPattern {
                user: required(q, "user", "adele.vance@contoso.com")?,
            },
            "weekly-users" => Question::WeeklyUsers,
            "sign-in-status" => Question::SignInStatus,
            "groups-created" => prov(
                None,
                Some(required(q, "target", "ServiceNow")?),
                "create",
                "Group",
            ),
            "users-removed" => prov(
                None,
                Some(required(q, "target", "Adobe Identity Management")?),
                "delete",
                "User",
            ),
            "users-created" => prov(
                Some(required(q, "source", "Workday")?),
                Some(required(q, "target", "Active Directory")?),
                "create",
                "User",
            ),
            "logs" => {
                let name = required(q, "category", "SignInLogs")?;
                let category = name.parse::<Category>().map_err(|e| ParamError {
                    parameter: "category".into(),
                    message: e,
                })?;
                let has = |c: &str| columns(category).iter().any(|(n, _)| *n == c);
                let mut filters = Vec::new();
                for (param, candidates) in LIST_FILTERS {
                    let Some(v) = text(q, param)? else { continue };
                    if param == "result" {
                        check_result(&v)?;
                    }
                    let Some(col) = candidates.iter().copied().find(|c| has(c)) else {
                        let usable: Vec<&str> = LIST_FILTERS
                            .iter()
                            .filter(|(_, cs)| cs.iter().any(|c| has(c)))
                            .map(|(p, _)| *p)
                            .collect();
                        return Err(ParamError {
                            parameter: (*param).into(),
                            message: format!(
                                "is not a filter of {category}; expected one of {}",
                                usable.join(", ")
                            ),
                        });
                    };
                    filters.push((col, v));
                }
                Question::List { category, filters }
            }
            "provisioning" => Question::Provisioning {
                source: text(q, "source")?,
                target: text(q, "target")?,
                action: one_of(q, "action", &PROVISIONING_ACTIONS)?,
                object_type: text(q, "object_type")?,
                status: one_of(q, "status", &PROVISIONING_RESULTS)?,
            },
            other => {
                return Err(ParamError {
                    parameter: "question".into(),
                    message: format!("no question \"{other}\""),
                });
            }
        })
    }

    pub fn category(&self) -> Category {
        match self {
            Question::AdminAccess { .. } | Question::PasswordResets => Category::AuditLogs,
            Question::Provisioning { .. } => Category::ProvisioningLogs,
            Question::List { category, .. } => *category,
            _ => Category::SignInLogs,
        }
    }
}

/// A question planned for both backends.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub columns: Vec<&'static str>,
    pub sql: String,
    pub params: Vec<Sql>,
    pub kql: String,
    /// The plan pages itself (LIMIT/OFFSET in the text); otherwise the whole answer is one
    /// page (aggregates).
    pub paged: bool,
    /// For a plan that reads the hourly summaries: the same question over the rows alone, for
    /// while the summaries are being built (`SqliteState::summaries_ready`).
    pub rows_only: Option<(String, Vec<Sql>)>,
}

/// The KQL tenant column: Log Analytics names the Entra tenant `AADTenantId` where the table
/// has it.
fn kql_tenant(category: Category) -> &'static str {
    if columns(category).iter().any(|(n, _)| *n == "AADTenantId") {
        "AADTenantId"
    } else {
        "TenantId"
    }
}

struct Builder {
    category: Category,
    /// An index to read through (SQLite would rather scan the covering time index for one
    /// user's rows than seek that user's).
    index: Option<String>,
    sql_where: Vec<String>,
    params: Vec<Sql>,
    kql: Vec<String>,
}

impl Builder {
    fn new(category: Category, tenant: &str, c: &Common) -> Self {
        let t = |x: chrono::DateTime<chrono::Utc>| {
            x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        Builder {
            category,
            index: None,
            sql_where: vec![
                format!("\"{}\" = ?", tenant_column(category)),
                "\"TimeGenerated\" >= ?".into(),
                "\"TimeGenerated\" <= ?".into(),
            ],
            params: vec![
                Sql::Text(tenant.into()),
                Sql::Text(t(c.from)),
                Sql::Text(t(c.to)),
            ],
            kql: vec![
                match c.kql_tables {
                    KqlTables::Entra => category.table().to_string(),
                    KqlTables::Custom => {
                        crate::destinations::log_analytics::schema::table_name(category)
                    }
                },
                format!(
                    "| where TimeGenerated between ({} .. {})",
                    kt(c.from),
                    kt(c.to)
                ),
                format!("| where {} == {}", kql_tenant(category), lit(tenant)),
            ],
        }
    }

    /// A condition: SQL with `?` for `values`, and its KQL.
    fn filter(&mut self, sql: &str, values: &[&str], kql: String) {
        self.sql_where.push(sql.into());
        self.params
            .extend(values.iter().map(|v| Sql::Text((*v).to_string())));
        self.kql.push(format!("| where {kql}"));
    }

    fn source_sql(&self) -> String {
        format!(
            "FROM \"{}\"{} WHERE {}",
            self.category.table(),
            self.index
                .as_ref()
                .map(|i| format!(" INDEXED BY \"{i}\""))
                .unwrap_or_default(),
            self.sql_where.join(" AND ")
        )
    }

    /// Reads through the index of a column filtered without case (see `embedded::schema`).
    fn through_nocase_index(&mut self, col: &str) {
        if self.index.is_none() && ["UserPrincipalName", "IPAddress", "IpAddress"].contains(&col) {
            self.index = Some(format!("{}_by_{col}_nocase", self.category.table()));
        }
    }
}

/// SQL and KQL paging of an ordered listing.
fn page(sql: &mut String, params: &mut Vec<Sql>, kql: &mut Vec<String>, c: &Common) {
    page_sql(sql, params, c);
    page_kql(kql, c);
}

fn page_sql(sql: &mut String, params: &mut Vec<Sql>, c: &Common) {
    // One row more than the page tells whether another page follows.
    sql.push_str(" LIMIT ? OFFSET ?");
    params.push(Sql::Integer(c.limit as i64 + 1));
    params.push(Sql::Integer(c.offset as i64));
}

fn page_kql(kql: &mut Vec<String>, c: &Common) {
    kql.push(format!(
        "| serialize Row = row_number() | where Row > {} | take {} | project-away Row",
        c.offset,
        c.limit + 1
    ));
}

/// An inclusive range of times.
type Range = (DateTime<Utc>, DateTime<Utc>);

/// The parts of `[from, to]` (times to the millisecond): the whole periods inside it, as
/// `[first, end)` keys of a summary's lines (`YYYY-MM-DDTHH` or `YYYY-MM-DD`), and the rest at
/// either end, as inclusive ranges of the rows.
fn split(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period: Period,
) -> (Option<(String, String)>, Vec<Range>) {
    let (length, format) = match period {
        Period::Hour => (Duration::hours(1), "%Y-%m-%dT%H"),
        Period::Day => (Duration::days(1), "%Y-%m-%d"),
    };
    let floor = |t: DateTime<Utc>| t.duration_trunc(length).unwrap_or(t);
    let first = if floor(from) == from {
        from
    } else {
        floor(from) + length
    };
    let end = floor(to);
    if first >= end {
        return (None, vec![(from, to)]);
    }
    let key = |t: DateTime<Utc>| t.format(format).to_string();
    let mut edges = Vec::new();
    if from < first {
        edges.push((from, first - Duration::milliseconds(1)));
    }
    edges.push((end, to));
    (Some((key(first), key(end))), edges)
}

/// How a week-long question reads a summary (see `embedded::rollups`) for the whole periods
/// of its range and the rows for the rest.
struct Summarised<'a> {
    category: Category,
    summary: &'a str,
    period: Period,
    /// Columns over the summary's lines, and the same columns over the rows (a line's count
    /// where a row counts one).
    summary_cols: &'a str,
    row_cols: &'a str,
    /// After each read of the rows (a GROUP BY makes them lines).
    row_group: &'a str,
    /// A condition on columns both have, with `?` for the values.
    filter: Option<(&'a str, &'a [&'a str])>,
}

impl Summarised<'_> {
    /// A `UNION ALL` of the summary's lines and the rows at the ends, with its parameters;
    /// without `use_summary`, of the rows alone.
    fn parts(&self, tenant: &str, c: &Common, use_summary: bool) -> (String, Vec<Sql>) {
        let t = |x: DateTime<Utc>| x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let tenant_col = tenant_column(self.category);
        let (filter_sql, values) = match self.filter {
            Some((sql, values)) => (format!(" AND {sql}"), values),
            None => (String::new(), &[][..]),
        };
        let (periods, edges) = if use_summary {
            split(c.from, c.to, self.period)
        } else {
            (None, vec![(c.from, c.to)])
        };
        let mut parts = Vec::new();
        let mut params = Vec::new();
        let bind = |params: &mut Vec<Sql>, bounds: [String; 2]| {
            params.push(Sql::Text(tenant.into()));
            params.extend(bounds.map(Sql::Text));
            params.extend(values.iter().map(|v| Sql::Text((*v).into())));
        };
        if let Some((first, end)) = periods {
            parts.push(format!(
                "SELECT {} FROM \"{}\" WHERE \"{tenant_col}\" = ? AND \"{p}\" >= ? AND \"{p}\" < ?{filter_sql}",
                self.summary_cols,
                self.summary,
                p = self.period.column(),
            ));
            bind(&mut params, [first, end]);
        }
        for (from, to) in edges {
            parts.push(format!(
                "SELECT {} FROM \"{}\" WHERE \"{tenant_col}\" = ? AND \"TimeGenerated\" >= ? AND \"TimeGenerated\" <= ?{filter_sql}{}",
                self.row_cols,
                self.category.table(),
                self.row_group,
            ));
            bind(&mut params, [t(from), t(to)]);
        }
        (parts.join(" UNION ALL "), params)
    }
}

pub fn plan(q: &Question, tenant: &str, c: &Common) -> Plan {
    let mut b = Builder::new(q.category(), tenant, c);
    // The record id column: renamed in the custom tables (Log Analytics reserves `id`).
    let id = match c.kql_tables {
        KqlTables::Entra => "Id",
        KqlTables::Custom => "RecordId",
    };
    match q {
        Question::AdminAccess { user, admin_groups } => {
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
                &[admin_groups],
                format!(
                    "OperationName != \"Add member to group\" or tostring(TargetResources[1].displayName) contains {}",
                    lit(admin_groups)
                ),
            );
            if let Some(u) = user {
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
                "| project ['time'] = TimeGenerated, user = tostring(TargetResources[0].userPrincipalName), granted = tostring(TargetResources[1].displayName), through = case({how_kql}, \"\"), initiated_by = coalesce(tostring(InitiatedBy.user.userPrincipalName), tostring(InitiatedBy.app.displayName)), operation = OperationName, correlation_id = CorrelationId, record_id = {id}"
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
        Question::AppUsers { app } => {
            // An app id is a GUID and a display name never is: one column is compared (an OR
            // of the two kept SQLite from using an index). The KQL keeps both.
            let column = if crate::model::is_guid(app) {
                "AppId"
            } else {
                "AppDisplayName"
            };
            b.filter(
                &format!("\"{column}\" = ?"),
                &[app],
                format!("AppDisplayName == {} or AppId == {}", lit(app), lit(app)),
            );
            let filter = format!("\"{column}\" = ?");
            let sql = |use_summary| {
                let (parts, mut params) = Summarised {
                    category: Category::SignInLogs,
                    summary: &format!("{}_daily_app_users", Category::SignInLogs.table()),
                    period: Period::Day,
                    summary_cols: "\"UserPrincipalName\" AS u, \"SignIns\" AS n, \"LastSignIn\" AS last",
                    row_cols: "\"UserPrincipalName\" AS u, COUNT(*) AS n, MAX(\"TimeGenerated\") AS last",
                    row_group: " GROUP BY 1",
                    filter: Some((&filter, &[app.as_str()])),
                }
                .parts(tenant, c, use_summary);
                let mut sql = format!(
                    "SELECT u, SUM(n), MAX(last) FROM ({parts}) GROUP BY u ORDER BY SUM(n) DESC, u"
                );
                page_sql(&mut sql, &mut params, c);
                (sql, params)
            };
            let mut kql = b.kql;
            kql.push("| summarize sign_ins = count(), last_sign_in = max(TimeGenerated) by user = UserPrincipalName".into());
            kql.push("| order by sign_ins desc, user asc".into());
            page_kql(&mut kql, c);
            let (summary_sql, params) = sql(true);
            Plan {
                columns: vec!["user", "sign_ins", "last_sign_in"],
                sql: summary_sql,
                params,
                kql: kql.join("\n"),
                paged: true,
                rows_only: Some(sql(false)),
            }
        }
        Question::PasswordResets => {
            b.filter(
                "\"OperationName\" IN (?, ?)",
                &[SELF_SERVICE_RESET, ADMIN_RESET],
                format!(
                    "OperationName in ({}, {})",
                    lit(SELF_SERVICE_RESET),
                    lit(ADMIN_RESET)
                ),
            );
            let sql = |use_summary| {
                let (parts, params) = Summarised {
                    category: Category::AuditLogs,
                    summary: &format!("{}_hourly_operations", Category::AuditLogs.table()),
                    period: Period::Hour,
                    summary_cols: "substr(\"Hour\", 1, 10) AS day, \"OperationName\" AS op, \"Events\" AS n",
                    row_cols: "substr(\"TimeGenerated\", 1, 10) AS day, \"OperationName\" AS op, COUNT(*) AS n",
                    row_group: " GROUP BY 1, 2",
                    filter: Some((
                        "\"OperationName\" IN (?, ?)",
                        &[SELF_SERVICE_RESET, ADMIN_RESET],
                    )),
                }
                .parts(tenant, c, use_summary);
                (
                    format!(
                        "SELECT day, SUM(CASE WHEN op = '{SELF_SERVICE_RESET}' THEN n ELSE 0 END), SUM(CASE WHEN op = '{ADMIN_RESET}' THEN n ELSE 0 END) FROM ({parts}) GROUP BY 1 ORDER BY 1"
                    ),
                    params,
                )
            };
            let (summary_sql, params) = sql(true);
            let mut kql = b.kql;
            kql.push(format!(
                "| summarize self_service = countif(OperationName == {}), by_admin = countif(OperationName == {}) by day = format_datetime(startofday(TimeGenerated), \"yyyy-MM-dd\")",
                lit(SELF_SERVICE_RESET),
                lit(ADMIN_RESET)
            ));
            kql.push("| order by day asc".into());
            Plan {
                columns: vec!["day", "self_service", "by_admin"],
                sql: summary_sql,
                params,
                kql: kql.join("\n"),
                paged: false,
                rows_only: Some(sql(false)),
            }
        }
        Question::SignInPattern { user } => {
            b.through_nocase_index("UserPrincipalName");
            b.filter(
                "\"UserPrincipalName\" = ? COLLATE NOCASE",
                &[user],
                format!("UserPrincipalName =~ {}", lit(user)),
            );
            // Facets as (dimension, key, count) rows: one query, one shape for both backends.
            let fw = b.source_sql();
            let facets = [
                (
                    "hour_weekday",
                    "CAST(strftime('%w', \"TimeGenerated\") AS TEXT) || '-' || strftime('%H', \"TimeGenerated\")",
                    "strcat(tostring(toint(dayofweek(TimeGenerated) / 1d)), \"-\", format_datetime(TimeGenerated, \"HH\"))",
                ),
                (
                    "location",
                    "COALESCE(json_extract(\"LocationDetails\", '$.city') || ', ', '') || COALESCE(\"Location\", '')",
                    "strcat(iff(isempty(tostring(LocationDetails.city)), \"\", strcat(tostring(LocationDetails.city), \", \")), Location)",
                ),
                ("app", "\"AppDisplayName\"", "AppDisplayName"),
                (
                    "device",
                    "COALESCE(json_extract(\"DeviceDetail\", '$.operatingSystem'), '') || ' / ' || COALESCE(json_extract(\"DeviceDetail\", '$.browser'), '')",
                    "strcat(tostring(DeviceDetail.operatingSystem), \" / \", tostring(DeviceDetail.browser))",
                ),
                ("result", "\"ResultType\"", "ResultType"),
            ];
            let mut parts = Vec::new();
            let mut params = Vec::new();
            let mut kql_parts = Vec::new();
            for (dim, sql_key, kql_key) in facets {
                parts.push(format!(
                    "SELECT '{dim}' AS d, {sql_key} AS k, COUNT(*) AS n {fw} GROUP BY 2"
                ));
                params.extend(b.params.iter().cloned());
                kql_parts.push(format!(
                    "(base | summarize sign_ins = count() by key = {kql_key} | extend dimension = {})",
                    lit(dim)
                ));
            }
            let sql = format!("{} ORDER BY 1, 3 DESC, 2", parts.join(" UNION ALL "));
            let kql = format!(
                "let base = {};\nunion {}\n| project dimension, key, sign_ins\n| order by dimension asc, sign_ins desc, key asc",
                b.kql.join("\n"),
                kql_parts.join(", ")
            );
            Plan {
                columns: vec!["dimension", "key", "sign_ins"],
                sql,
                params,
                kql,
                paged: false,
                rows_only: None,
            }
        }
        Question::WeeklyUsers => {
            let sql = |use_summary| {
                let (parts, params) = Summarised {
                    category: Category::SignInLogs,
                    summary: &format!("{}_daily_users", Category::SignInLogs.table()),
                    period: Period::Day,
                    summary_cols: "\"Day\" AS day, \"User\" AS user, \"SignIns\" AS n",
                    row_cols: "substr(\"TimeGenerated\", 1, 10) AS day, lower(\"UserPrincipalName\") AS user, COUNT(*) AS n",
                    row_group: " GROUP BY 1, 2",
                    filter: None,
                }
                .parts(tenant, c, use_summary);
                // The lines (a day's users) are read once: the days and the whole range count them.
                (
                    format!(
                        "WITH u AS MATERIALIZED ({parts}) SELECT day, COUNT(DISTINCT user), SUM(n) FROM u GROUP BY 1 UNION ALL SELECT 'all', COUNT(DISTINCT user), COALESCE(SUM(n), 0) FROM u ORDER BY 1"
                    ),
                    params,
                )
            };
            let (summary_sql, params) = sql(true);
            let kql = format!(
                "let base = {};\nunion (base | summarize users = count_distinct(tolower(UserPrincipalName)), sign_ins = count() by day = format_datetime(startofday(TimeGenerated), \"yyyy-MM-dd\")), (base | summarize users = count_distinct(tolower(UserPrincipalName)), sign_ins = count() | extend day = \"all\")\n| project day, users, sign_ins\n| order by day asc",
                b.kql.join("\n")
            );
            Plan {
                columns: vec!["day", "users", "sign_ins"],
                sql: summary_sql,
                params,
                kql,
                paged: false,
                rows_only: Some(sql(false)),
            }
        }
        Question::SignInStatus => {
            let sql = |use_summary| {
                let (parts, params) = Summarised {
                    category: Category::SignInLogs,
                    summary: &format!("{}_hourly_results", Category::SignInLogs.table()),
                    period: Period::Hour,
                    summary_cols: "\"ResultType\" AS code, \"ResultDescription\" AS description, \"SignIns\" AS n",
                    row_cols: "\"ResultType\" AS code, MAX(\"ResultDescription\") AS description, COUNT(*) AS n",
                    row_group: " GROUP BY 1",
                    filter: None,
                }
                .parts(tenant, c, use_summary);
                (
                    format!(
                        "SELECT code, MAX(description), SUM(n) FROM ({parts}) GROUP BY 1 ORDER BY 3 DESC, 1"
                    ),
                    params,
                )
            };
            let (summary_sql, params) = sql(true);
            let mut kql = b.kql;
            kql.push("| summarize description = take_any(ResultDescription), sign_ins = count() by code = ResultType".into());
            kql.push("| order by sign_ins desc, code asc".into());
            Plan {
                columns: vec!["code", "description", "sign_ins"],
                sql: summary_sql,
                params,
                kql: kql.join("\n"),
                paged: false,
                rows_only: Some(sql(false)),
            }
        }
        Question::List { category, filters } => {
            for (col, v) in filters {
                b.through_nocase_index(col);
                let kql_col = if *col == "Id" { id } else { col };
                b.filter(
                    &format!("\"{col}\" = ? COLLATE NOCASE"),
                    &[v],
                    format!("{kql_col} =~ {}", lit(v)),
                );
            }
            let cols: Vec<&'static str> = columns(*category).iter().map(|(n, _)| *n).collect();
            let mut sql = format!(
                "SELECT {} {} ORDER BY \"TimeGenerated\" DESC, \"Id\"",
                cols.iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                b.source_sql()
            );
            let mut kql = b.kql;
            if c.kql_tables == KqlTables::Custom {
                // The custom tables rename the reserved columns back for the answer.
                kql.push(format!("| extend Id = {id}, TenantId = column_ifexists(\"EntraTenantId\", \"\"), Type = {}", lit(category.table())));
            }
            kql.push(format!("| project {}", cols.join(", ")));
            kql.push("| order by TimeGenerated desc, Id asc".into());
            let mut params = b.params;
            page(&mut sql, &mut params, &mut kql, c);
            Plan {
                columns: cols,
                sql,
                params,
                kql: kql.join("\n"),
                paged: true,
                rows_only: None,
            }
        }
        Question::Provisioning {
            source,
            target,
            action,
            object_type,
            status,
        } => {
            for (value, sql, kql) in [
                (
                    source,
                    "json_extract(\"SourceSystem\", '$.displayName')",
                    "tostring(parse_json(SourceSystem).displayName)",
                ),
                (
                    target,
                    "json_extract(\"TargetSystem\", '$.displayName')",
                    "tostring(parse_json(TargetSystem).displayName)",
                ),
                (action, "\"ProvisioningAction\"", "ProvisioningAction"),
                (
                    object_type,
                    "json_extract(\"SourceIdentity\", '$.identityType')",
                    "tostring(parse_json(SourceIdentity).identityType)",
                ),
                (status, "\"ResultType\"", "ResultType"),
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
            kql.push(format!("| project ['time'] = TimeGenerated, source = tostring(parse_json(SourceSystem).displayName), target = tostring(parse_json(TargetSystem).displayName), action = ProvisioningAction, object_type = tostring(parse_json(SourceIdentity).identityType), status = ResultType, name = tostring(parse_json(SourceIdentity).displayName), source_id = tostring(parse_json(SourceIdentity).id), target_id = tostring(parse_json(TargetIdentity).id), id = {id}"));
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
}
