//! Sign-ins per Conditional Access policy, as the "Conditional Access insights and reporting"
//! workbook counts one policy's results (`Application-Insights-Workbooks`, `Workbooks/Azure
//! Active Directory Conditional Access/Conditional Access Insights and Reporting`): each
//! sign-in lists every enabled policy with its result — `success` or `reportOnlySuccess` is a
//! success, `failure` or `reportOnlyFailure` a failure, `interrupt` or `reportOnlyInterrupted`
//! "user action required", anything else (`notApplied`, `notEnabled`, ...) not applied — and
//! report-only results are also counted on their own.

use super::build::{Builder, Plan, SIGN_IN_TYPE, counts_from, lists, page, sign_in_type};
use super::sign_in_breakdown::{APP, SignInFilters, USER, with_dimension_filters};
use super::{Asked, Query, Question, QuestionSpec};
use crate::model::Category;
use crate::query::Answer;
use crate::query::params::{Common, ParamError};
use crate::registry::{AuthLevel, FunctionSpec, Method, Trigger};

/// The results that count as success, failure and user action required.
pub const SUCCESS: [&str; 2] = ["success", "reportOnlySuccess"];
pub const FAILURE: [&str; 2] = ["failure", "reportOnlyFailure"];
pub const USER_ACTION: [&str; 2] = ["interrupt", "reportOnlyInterrupted"];

static SPEC: QuestionSpec = QuestionSpec {
    function: FunctionSpec {
        name: "ca-policies",
        description: "User sign-ins per Conditional Access policy: success, failure, user action required and not applied (report-only results counted with them and on their own), and users, as the Conditional Access insights workbook counts them.",
        trigger: Trigger::Http {
            route: "signins/ca-policies",
            methods: &[Method::Get],
            auth: AuthLevel::Function,
        },
    },
    params: with_dimension_filters![APP, USER, SIGN_IN_TYPE],
    default_days: 7,
};

pub struct CaPolicies;

#[derive(Debug)]
struct Asking {
    category: Category,
    filters: SignInFilters,
}

impl Question for CaPolicies {
    fn spec(&self) -> &'static QuestionSpec {
        &SPEC
    }

    fn parse(&self, q: &Query) -> Result<Box<dyn Asked>, ParamError> {
        Ok(Box::new(Asking {
            category: sign_in_type(q)?,
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
        let (ok_sql, ok_kql) = lists(&SUCCESS);
        let (fail_sql, fail_kql) = lists(&FAILURE);
        let (act_sql, act_kql) = lists(&USER_ACTION);
        let mut sql = format!(
            "SELECT id, MAX(name), COUNT(*), SUM(r IN ({ok_sql})), SUM(r IN ({fail_sql})), SUM(r IN ({act_sql})), \
             SUM(r NOT IN ({ok_sql}, {fail_sql}, {act_sql})), SUM(r LIKE 'reportOnly%'), COUNT(DISTINCT u) \
             FROM (SELECT COALESCE(json_extract(p.value, '$.id'), '') AS id, COALESCE(json_extract(p.value, '$.displayName'), '') AS name, \
             COALESCE(json_extract(p.value, '$.result'), '') AS r, s.u AS u \
             FROM (SELECT \"ConditionalAccessPolicies\" AS cap, lower(\"UserPrincipalName\") AS u {}) AS s, json_each(s.cap) AS p) \
             GROUP BY 1 ORDER BY 4 + 5 + 6 DESC, 2, 1",
            b.source_sql()
        );
        let mut kql = b.kql;
        kql.push("| mv-expand p = todynamic(ConditionalAccessPolicies)".into());
        kql.push("| extend policy_id = tostring(p.id), name = tostring(p.displayName), r = tostring(p.result)".into());
        kql.push(format!(
            "| summarize policy = take_any(name), sign_ins = count(), success = countif(r in ({ok_kql})), failure = countif(r in ({fail_kql})), user_action = countif(r in ({act_kql})), not_applied = countif(r !in ({ok_kql}, {fail_kql}, {act_kql})), report_only = countif(r startswith \"reportOnly\"), users = count_distinct(tolower(UserPrincipalName)) by policy_id"
        ));
        kql.push("| extend applied = success + failure + user_action".into());
        kql.push("| order by applied desc, policy asc, policy_id asc".into());
        kql.push("| project-away applied".into());
        let mut params = b.params;
        page(&mut sql, &mut params, &mut kql, c);
        Plan {
            columns: vec![
                "policy_id",
                "policy",
                "sign_ins",
                "success",
                "failure",
                "user_action",
                "not_applied",
                "report_only",
                "users",
            ],
            sql,
            params,
            kql: kql.join("\n"),
            paged: true,
            rows_only: None,
        }
    }

    fn shape(&self, _c: &Common, a: Answer) -> Answer {
        counts_from(a, 2)
    }
}
