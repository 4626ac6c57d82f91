//! The questions, one file each. A question is planned twice from one definition: as SQL for
//! the embedded store (values bound as parameters, never spliced) and as KQL for Log Analytics
//! (values written as escaped string literals) — the KQL is what `explain=true` shows, ready to
//! paste into Log Analytics. Both plans return the same columns; [`Asked::shape`] makes the
//! answer from either.
//!
//! Adding a question: a file here with a [`QuestionSpec`] and a type implementing [`Question`]
//! (reading its parameters) and [`Asked`] (planning them), and one line in [`ALL`]. The HTTP
//! function, its `function.json`, its OpenAPI entry and `entra-monitor functions` follow from
//! the list (docs/architecture.md).

mod build;

mod admin_access;
mod app_credentials;
mod app_sign_in_failures;
mod app_sign_ins;
mod app_users;
mod auth_method_usage;
mod auth_registration;
mod auth_requirements;
mod ca_policies;
mod client_apps;
mod groups_created;
mod health_signals;
mod inactive_users;
mod logs;
mod password_activity;
mod password_resets;
mod provisioning;
mod sign_in_breakdown;
mod sign_in_pattern;
mod sign_in_status;
mod sp_sign_ins;
mod users_created;
mod users_removed;
mod weekly_users;

pub use admin_access::ROLE_ACTIVITIES;
pub use app_credentials::CREDENTIAL_DAYS;
pub use auth_method_usage::{BY_TOKEN_CLAIM, NOT_A_USE, PASSWORD_METHODS};
pub use auth_registration::FEATURES;
pub use build::Plan;
pub use health_signals::{
    MFA_SERVICE_METHODS, SCENARIOS, counted_rows, counts_users, key_condition, keyed_by,
    monitor_plan,
};
pub use logs::LIST_FILTERS;
pub use password_activity::SSPR_SERVICE;
pub use password_resets::{ADMIN_RESET, SELF_SERVICE_RESET};
pub use provisioning::{PROVISIONING_ACTIONS, PROVISIONING_RESULTS};
pub use sign_in_breakdown::{DIMENSIONS, Dimension};

use super::Answer;
use super::params::{Common, ParamError};
use crate::model::Category;
use crate::registry::{FunctionSpec, Trigger};
use std::collections::BTreeMap;

/// A request's query parameters (and route parameters, read the same way).
pub type Query = BTreeMap<String, String>;

/// A parameter of a question, besides the common ones.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
    pub example: &'static str,
    /// The values it may take, when they are a fixed set (an enum in the OpenAPI document).
    pub values: &'static [&'static str],
}

/// What a question is: its HTTP function, its parameters, its range when none is given.
#[derive(Debug)]
pub struct QuestionSpec {
    pub function: FunctionSpec,
    pub params: &'static [Param],
    pub default_days: i64,
}

impl QuestionSpec {
    pub fn name(&self) -> &'static str {
        self.function.name
    }

    /// The parameters it reads: its route's (`{category}`) and its own.
    pub fn parameter_names(&self) -> Vec<&'static str> {
        let mut names = self.route_parameters();
        names.extend(self.params.iter().map(|p| p.name));
        names
    }

    /// The `{name}`s of its route.
    pub fn route_parameters(&self) -> Vec<&'static str> {
        let Trigger::Http { route, .. } = &self.function.trigger else {
            return Vec::new();
        };
        route
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name))
            .collect()
    }
}

/// A question the endpoints answer.
pub trait Question: Sync {
    fn spec(&self) -> &'static QuestionSpec;
    /// Reads the question's own parameters (the common ones are read by
    /// [`super::params::common`]); a bad one is an error naming it.
    fn parse(&self, query: &Query) -> Result<Box<dyn Asked>, ParamError>;
}

/// A question with its parameters read, ready to plan.
pub trait Asked: std::fmt::Debug + Send + Sync {
    /// The category whose table it reads.
    fn category(&self) -> Category;
    /// Every category whose table it reads (a report over several sign-in logs reads more
    /// than one).
    fn categories(&self) -> Vec<Category> {
        vec![self.category()]
    }
    /// It reads what only the embedded store holds (the directory inventory), so Log Analytics
    /// cannot answer it.
    fn embedded_only(&self) -> bool {
        false
    }
    /// The SQL and KQL that answer it for `tenant` over the common parameters' range.
    fn plan(&self, tenant: &str, c: &Common) -> Plan;
    /// The answer from the plan's rows (already cut to a page): most questions answer their
    /// rows as they are.
    fn shape(&self, _c: &Common, answer: Answer) -> Answer {
        answer
    }
}

/// Every question, in the order of the OpenAPI document and `entra-monitor functions`.
pub static ALL: &[&dyn Question] = &[
    &admin_access::AdminAccess,
    &app_users::AppUsers,
    &password_resets::PasswordResets,
    &sign_in_pattern::SignInPattern,
    &weekly_users::WeeklyUsers,
    &sign_in_status::SignInStatus,
    &sign_in_breakdown::SignInBreakdown,
    &ca_policies::CaPolicies,
    &groups_created::GroupsCreated,
    &users_removed::UsersRemoved,
    &users_created::UsersCreated,
    &logs::Logs,
    &provisioning::Provisioning,
    &client_apps::ClientApps,
    &app_sign_ins::AppSignIns,
    &app_sign_in_failures::AppSignInFailures,
    &sp_sign_ins::ServicePrincipalSignIns,
    &app_credentials::AppCredentials,
    &auth_requirements::AuthRequirements,
    &auth_method_usage::AuthMethodUsage,
    &auth_registration::AuthRegistration,
    &password_activity::PasswordActivity,
    &inactive_users::InactiveUsers,
    &health_signals::HealthSignals,
];

/// The question named `name` (its function's name).
pub fn find(name: &str) -> Option<&'static dyn Question> {
    ALL.iter().copied().find(|q| q.spec().name() == name)
}

/// Reads question `name`'s parameters.
pub fn parse(name: &str, query: &Query) -> Result<Box<dyn Asked>, ParamError> {
    find(name)
        .ok_or_else(|| ParamError {
            parameter: "question".into(),
            message: format!("no question \"{name}\""),
        })?
        .parse(query)
}

/// Question `name` with these parameters (for tests and tools): `ask("app-users",
/// &[("app", "Outlook")])`.
pub fn ask(name: &str, pairs: &[(&str, &str)]) -> Result<Box<dyn Asked>, ParamError> {
    let query = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(name, &query)
}
