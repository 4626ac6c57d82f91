//! Recommendations: computed daily per tenant from the directory inventory and the logs
//! (`collect-inventory` and the collectors), in the shape of Graph's `recommendation` (beta),
//! each with the resources it impacts. Microsoft documents the conditions of some types
//! (`staleApps`, `staleAppCreds`, the two credential expiries); for the others the condition is
//! ours, said in the type's [`Definition::condition`] and in `docs/recommendations.md`.
//!
//! Adding a type is adding a file under `rules/` with a [`Definition`] and one line in
//! [`RULES`]. A rule reads [`Facts`] (gathered once per tenant and evaluation) and returns the
//! impacted resources, or why it cannot judge yet (a rule that needs 90 days of sign-ins on a
//! tenant collected for a week says so instead of calling every app unused).
//!
//! <https://learn.microsoft.com/graph/api/resources/recommendation?view=graph-rest-beta>

pub mod alerts;
pub mod facts;
pub mod lifecycle;
pub mod publish;
mod rules;

pub use facts::Facts;
use serde::Serialize;
use serde_json::{Value, json};

/// Where a recommendation comes from.
pub const SOURCE: &str = "entra-monitor";

/// The source of Microsoft's own recommendations (beta `directory/recommendations`), and the
/// inventory kind they are collected as by `collect-inventory`.
pub const MICROSOFT: &str = "microsoft";
pub const MICROSOFT_KIND: &str = "directoryRecommendations";

/// What Microsoft's recommendation ids hold between the tenant id and the name.
pub const MICROSOFT_ID_MARKER: &str = "_Microsoft.Identity.IAM.Insights.";

/// A recommendation type: what Graph's `recommendation` says of it, and its condition.
pub struct Definition {
    /// Graph's `recommendationType`.
    pub kind: &'static str,
    pub display_name: &'static str,
    /// `identityBestPractice` or `identitySecureScore`.
    pub category: &'static str,
    pub feature_areas: &'static [&'static str],
    /// `low`, `medium` or `high`.
    pub priority: &'static str,
    /// `apps`, `users`, `tenantLevel`, … (Graph's `impactType`).
    pub impact_type: &'static str,
    pub insights: &'static str,
    pub benefits: &'static str,
    /// What to do: (text, link text, link).
    pub action_steps: &'static [(&'static str, &'static str, &'static str)],
    /// The condition, and whether it is Microsoft's documented rule or ours (and why).
    pub condition: &'static str,
    pub evaluate: fn(&Facts, &Thresholds) -> Verdict,
}

/// What a rule found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The resources the condition holds for (none: the recommendation is met).
    Impacted(Vec<Impacted>),
    /// The data cannot tell yet (too little history, the inventory not listed): why.
    Undecided(String),
}

/// A resource a recommendation applies to (Graph's `impactedResource`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impacted {
    /// The object's id (a user's, an application's, a credential's key id).
    pub subject_id: String,
    /// `user`, `application`, `servicePrincipal`, `tenant`.
    pub resource_type: &'static str,
    pub display_name: String,
    /// Other facts about it, as Graph's `additionalDetails` key/value pairs.
    pub details: Vec<(&'static str, String)>,
    /// The Entra admin center page of the resource.
    pub portal_url: String,
}

impl Impacted {
    /// Graph's `additionalDetails`.
    pub fn details_json(&self) -> Value {
        json!(
            self.details
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect::<Vec<_>>()
        )
    }
}

/// The thresholds of the conditions Microsoft does not document (and of those it does, where
/// a tenant may want another window), with Microsoft's or our defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// `staleApps`: an app unused this long (Microsoft: 90 days, not configurable there).
    pub stale_app_days: i64,
    /// `staleAppCreds`: a credential unused this long (Microsoft: 30 days).
    pub stale_credential_days: i64,
    /// The two expiry types: expiring within this many days (Microsoft: 30).
    pub expiry_days: i64,
    /// `adminMFAV2` and `blockLegacyAuthentication`: the sign-ins of this many days (30).
    pub sign_in_days: i64,
    /// `oneAdmin`: fewer Global Administrators than this (2) or at least `max_global_admins`
    /// (5, Microsoft's advice).
    pub min_global_admins: usize,
    pub max_global_admins: usize,
    /// `inactiveGuests`: no successful sign-in for this many days (90; Microsoft suggests 90
    /// to 180 for inactive accounts).
    pub inactive_guest_days: i64,
    /// `longLivedCredentials`: a client secret valid longer than this (730 days, the most the
    /// Entra admin center offers) or a certificate longer than `long_certificate_days` (1095,
    /// the lifetime of the SAML signing certificates Entra creates).
    pub long_secret_days: i64,
    pub long_certificate_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale_app_days: 90,
            stale_credential_days: 30,
            expiry_days: 30,
            sign_in_days: 30,
            min_global_admins: 2,
            max_global_admins: 5,
            inactive_guest_days: 90,
            long_secret_days: 730,
            long_certificate_days: 1095,
        }
    }
}

/// Graph's id of one of our recommendations: `{tenant}_entra-monitor.{type}`.
pub fn id_of(tenant: &str, kind: &str) -> String {
    format!("{tenant}_{SOURCE}.{kind}")
}

/// Every recommendation type evaluated, in the order listed.
pub fn rules() -> &'static [&'static Definition] {
    rules::RULES
}

/// The definition of `kind`.
pub fn definition(kind: &str) -> Option<&'static Definition> {
    rules::RULES.iter().copied().find(|d| d.kind == kind)
}

/// Each type's verdict on `facts`.
pub fn evaluate(facts: &Facts, thresholds: &Thresholds) -> Vec<(&'static Definition, Verdict)> {
    rules::RULES
        .iter()
        .map(|d| (*d, (d.evaluate)(facts, thresholds)))
        .collect()
}

/// What one evaluation of one type found and changed.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: &'static str,
    pub priority: &'static str,
    /// How many resources the condition holds for (None: undecided).
    pub impacted: Option<usize>,
    /// Why the type could not be judged.
    pub undecided: Option<String>,
    /// Became active (new, or again).
    pub activated: bool,
    /// The resources that became active.
    pub resources_activated: Vec<Impacted>,
    /// Completed by the system (the condition no longer holds).
    pub completed: bool,
}

/// Evaluates every type for `tenant` at `now` and records the outcome (statuses, impacted
/// resources, history).
pub fn run(
    store: &crate::state::SqliteState,
    tenant: &str,
    now: chrono::DateTime<chrono::Utc>,
    thresholds: &Thresholds,
) -> Result<Vec<Outcome>, crate::state::StateError> {
    let facts = Facts::gather(store, tenant, now, thresholds.sign_in_days)?;
    let mut out = Vec::new();
    for (d, verdict) in evaluate(&facts, thresholds) {
        let changes = store.record_evaluation(tenant, d.kind, &verdict, now)?;
        let new: std::collections::HashSet<&str> = changes
            .resources_activated
            .iter()
            .map(String::as_str)
            .collect();
        let resources_activated = match &verdict {
            Verdict::Impacted(all) => all
                .iter()
                .filter(|i| new.contains(i.subject_id.as_str()))
                .cloned()
                .collect(),
            Verdict::Undecided(_) => Vec::new(),
        };
        out.push(Outcome {
            kind: d.kind,
            priority: d.priority,
            impacted: match &verdict {
                Verdict::Impacted(i) => Some(i.len()),
                Verdict::Undecided(_) => None,
            },
            undecided: match verdict {
                Verdict::Undecided(why) => Some(why),
                Verdict::Impacted(_) => None,
            },
            activated: changes.activated,
            resources_activated,
            completed: changes.completed,
        });
    }
    // Before the inventory is first listed nothing could be judged: that is no evaluation
    // (collect-inventory then runs one as soon as it has listed).
    if !facts.inventory.is_empty() {
        store.note_recommendation_run(tenant, now)?;
    }
    Ok(out)
}
