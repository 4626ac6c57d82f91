//! A generated record, when the API shows it, and what building one takes.

use super::directory::{PLACES, guid_from};
use crate::clock::Timestamp;
use crate::model::Category;
use chrono::{DateTime, Duration, Utc};
use fastrand::Rng;
use serde_json::{Value, json};
/// One generated record, in its Graph shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRecord {
    pub category: Category,
    pub id: String,
    /// `createdDateTime` / `activityDateTime` / `riskLastUpdatedDateTime`.
    pub time: DateTime<Utc>,
    /// When the API starts returning it.
    pub visible_at: DateTime<Utc>,
    /// The record as the API returns it from `revised_at` on (before then, `first`).
    pub json: Value,
    /// A record Entra completes after publishing it (MFA details aggregate into a sign-in up
    /// to ~2 h later, per the reporting FAQ,
    /// <https://learn.microsoft.com/entra/identity/monitoring-health/reports-faq>): its first version
    /// and when the final one replaces it.
    pub revision: Option<Revision>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub first: Value,
    pub revised_at: DateTime<Utc>,
}

impl SimRecord {
    /// The version the API returns at `as_of`.
    pub fn json_at(&self, as_of: DateTime<Utc>) -> &Value {
        match &self.revision {
            Some(r) if as_of < r.revised_at => &r.first,
            _ => &self.json,
        }
    }
}

/// Publication delay: most records within minutes, a tail much later (sign-ins 10–30 min,
/// non-interactive later still, offline risk detections hours), and a very late few: of the
/// tail, 2.5% of sign-ins and audits and 2% of non-interactive sign-ins and provisioning
/// events (about 1 in 800 and 1 in 500 records) come 2.5–6 hours late, past the default
/// overlap (Microsoft documents no upper bound; this tests what the overlap catches).
pub fn delay_for(rng: &mut Rng, category: Category) -> Duration {
    // The very late are taken from the bottom of the tail's draw, so adding them changes no
    // other record.
    let very_late = |secs: i64, floor: i64, span: i64| {
        if secs < floor + span {
            9_000 + (secs - floor) * 13_500 / span
        } else {
            secs
        }
    };
    let secs = match category {
        Category::SignInLogs | Category::AuditLogs => {
            if rng.f64() < 0.05 {
                very_late(rng.i64(600..1800), 600, 30)
            } else {
                rng.i64(20..300)
            }
        }
        Category::NonInteractiveUserSignInLogs | Category::ProvisioningLogs => {
            if rng.f64() < 0.10 {
                very_late(rng.i64(900..2400), 900, 30)
            } else {
                rng.i64(60..600)
            }
        }
        Category::ServicePrincipalSignInLogs
        | Category::ManagedIdentitySignInLogs
        | Category::MicrosoftGraphActivityLogs
        | Category::ADFSSignInLogs
        | Category::EntraMonitorRecommendations
        | Category::EntraMonitorHealthAlerts => rng.i64(30..600),
        Category::UserRiskEvents
        | Category::RiskyUsers
        | Category::ServicePrincipalRiskEvents
        | Category::RiskyServicePrincipals => {
            if rng.f64() < 0.5 {
                rng.i64(300..7200)
            } else {
                rng.i64(3600..6 * 3600)
            }
        }
    };
    Duration::seconds(secs)
}

pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.rfc3339_millis()
}

pub(super) fn id(rng: &mut Rng) -> String {
    guid_from(rng.u128(..))
}

pub(super) fn location(place: usize) -> Value {
    let p = &PLACES[place];
    json!({ "city": p.city, "state": p.state, "countryOrRegion": p.country,
            "geoCoordinates": { "altitude": null, "latitude": p.latitude, "longitude": p.longitude } })
}

pub(super) fn ip(rng: &mut Rng, place: usize) -> String {
    format!("{}.{}", PLACES[place].ip_prefix, rng.u8(2..250))
}

/// A count drawn from the Poisson distribution of mean `lambda`.
pub(super) fn poisson(rng: &mut Rng, lambda: f64) -> usize {
    // Knuth's method; lambda here is always small.
    let l = (-lambda).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.f64();
        if p <= l || k > 1000 {
            return k;
        }
        k += 1;
    }
}
