//! The simulated tenant: a seeded, realistic Entra tenant and a server that speaks the same
//! Microsoft Graph HTTP API as the real one (paging, `$filter`, `signInEventTypes`, `$top`,
//! `@odata.nextLink`, late records, and injected faults). It is the default source when no
//! tenant is configured, and the source the tests use.
//!
//! Activity is generated minute by minute from the seed (see [`events`]), so the tenant is
//! unbounded in time, costs no memory, and offers an exact ground truth through
//! [`SimulatedTenant::records`].

pub mod attacks;
pub mod details;
pub mod directory;
pub mod events;
pub mod health_alerts;
pub mod incidents;
pub mod inventory;
pub mod people;
pub mod recommendations;
mod record;
pub mod server;
pub mod service_activity;
mod sign_ins;
pub mod usage_reports;
mod workload_risk;

use crate::model::Category;
pub use attacks::{Attack, AttackKind};
use chrono::{DateTime, Duration, DurationRound, Utc};
pub use directory::Directory;
pub use record::{Revision, SimRecord};

/// A simulated tenant.
#[derive(Debug, Clone)]
pub struct SimulatedTenant {
    pub seed: u64,
    pub directory: Directory,
    /// Health incidents injected into the sign-ins (none unless a test lists some).
    pub incidents: Vec<incidents::Incident>,
}

impl SimulatedTenant {
    pub fn new(seed: u64, users: usize) -> Self {
        Self {
            seed,
            directory: Directory::generate(seed, users),
            incidents: Vec::new(),
        }
    }

    /// A tenant with none of the conditions the reports and recommendations look for: no
    /// attack, every administrator signing in with MFA (and, with [`Inventory::clean`], a
    /// directory with nothing to recommend).
    ///
    /// [`Inventory::clean`]: inventory::Inventory::clean
    pub fn clean(seed: u64, users: usize) -> Self {
        let mut tenant = Self::new(seed, users);
        tenant.directory.attacks = false;
        tenant.directory.without_mfa.clear();
        tenant
    }

    /// Every record of `category` whose event time is in `[from, to]`, visible at `as_of`
    /// (all of them when `as_of` is `None`), oldest first. Risky users are states: a user can
    /// appear more than once, the latest being current.
    pub fn records(
        &self,
        category: Category,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        as_of: Option<DateTime<Utc>>,
    ) -> Vec<SimRecord> {
        let mut out = Vec::new();
        if to < from {
            return out;
        }
        let mut minute = from.duration_trunc(Duration::minutes(1)).unwrap_or(from);
        while minute <= to {
            let mut records = events::minute_records(self.seed, &self.directory, category, minute);
            incidents::apply(
                &self.incidents,
                &self.directory,
                category,
                minute,
                &mut records,
            );
            for r in records {
                if r.time >= from && r.time <= to && as_of.is_none_or(|a| r.visible_at <= a) {
                    out.push(r);
                }
            }
            minute += Duration::minutes(1);
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// The attacks injected into the tenant that started in `[from, to]` (ground truth).
    pub fn attacks(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Attack> {
        attacks::attacks(self.seed, &self.directory, from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::BTreeSet;

    #[test]
    fn the_tenant_is_deterministic_and_realistic() {
        let t = SimulatedTenant::new(7, 300);
        let again = SimulatedTenant::new(7, 300);
        // A Wednesday.
        let from = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let to = from + Duration::days(1) - Duration::milliseconds(1);
        let mut total = 0;
        for c in Category::ALL {
            let a = t.records(c, from, to, None);
            assert_eq!(
                a,
                again.records(c, from, to, None),
                "{c} differs between runs"
            );
            total += a.len();
            if !matches!(c, Category::RiskyUsers | Category::RiskyServicePrincipals) {
                let ids: BTreeSet<&str> = a.iter().map(|r| r.id.as_str()).collect();
                assert_eq!(ids.len(), a.len(), "{c} has duplicate ids");
            }
            assert!(a.iter().all(|r| r.visible_at >= r.time));
        }
        let interactive = t.records(Category::SignInLogs, from, to, None);
        let non_interactive = t.records(Category::NonInteractiveUserSignInLogs, from, to, None);
        assert!(interactive.len() > 300, "{}", interactive.len());
        assert!(non_interactive.len() > 2 * interactive.len());
        assert!(!t.records(Category::AuditLogs, from, to, None).is_empty());
        assert!(
            !t.records(Category::ProvisioningLogs, from, to, None)
                .is_empty()
        );
        assert!(total > 5000, "{total}");
        // Some interactive sign-ins fail, most succeed.
        let failed = interactive
            .iter()
            .filter(|r| r.json["status"]["errorCode"] != 0)
            .count();
        assert!(failed > 0 && failed * 4 < interactive.len());
        // Splitting a range gives the same records as the whole range.
        let mid = from + Duration::hours(13) + Duration::seconds(17);
        let mut split = t.records(Category::SignInLogs, from, mid, None);
        split.extend(t.records(
            Category::SignInLogs,
            mid + Duration::milliseconds(1),
            to,
            None,
        ));
        assert_eq!(split, interactive);
        // Visibility: fewer records are visible shortly after the end of the range.
        let early = t.records(
            Category::SignInLogs,
            from,
            to,
            Some(to + Duration::minutes(1)),
        );
        assert!(early.len() < interactive.len());
        assert_eq!(
            t.records(
                Category::SignInLogs,
                from,
                to,
                Some(to + Duration::hours(1))
            )
            .len(),
            interactive.len()
        );
    }

    #[test]
    fn each_day_holds_one_attack_of_each_kind_with_its_records() {
        let t = SimulatedTenant::new(7, 300);
        let day = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let end = day + Duration::days(1) - Duration::milliseconds(1);
        let attacks = t.attacks(day, end);
        let kinds: BTreeSet<AttackKind> = attacks.iter().map(|a| a.kind).collect();
        assert_eq!(kinds.len(), AttackKind::ALL.len(), "{kinds:?}");
        // Every attack record is in the tenant's activity (with a margin for attacks that end
        // after midnight).
        let mut ids = BTreeSet::new();
        for c in [Category::SignInLogs, Category::AuditLogs] {
            ids.extend(
                t.records(c, day, end + Duration::hours(1), None)
                    .into_iter()
                    .map(|r| r.id),
            );
        }
        let signins: std::collections::BTreeMap<String, SimRecord> = t
            .records(Category::SignInLogs, day, end + Duration::hours(1), None)
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        for a in &attacks {
            assert!(
                a.record_ids.iter().all(|id| ids.contains(id)),
                "{:?} records missing",
                a.kind
            );
            let codes: Vec<i64> = a
                .record_ids
                .iter()
                .filter_map(|id| signins.get(id))
                .map(|r| r.json["status"]["errorCode"].as_i64().unwrap())
                .collect();
            match a.kind {
                AttackKind::PasswordSpray => {
                    assert_eq!(codes.iter().filter(|c| **c == 50126).count(), 30);
                    assert_eq!(codes.last(), Some(&0));
                    let users: BTreeSet<&str> = a
                        .record_ids
                        .iter()
                        .map(|id| signins[id].json["userPrincipalName"].as_str().unwrap())
                        .collect();
                    assert!(users.len() > 10, "a spray touches many users");
                }
                AttackKind::BruteForce => assert_eq!(codes, vec![50126; 40]),
                AttackKind::MfaFatigue => {
                    assert_eq!(codes.iter().filter(|c| **c == 500121).count(), 9);
                    assert_eq!(codes.last(), Some(&0));
                }
                AttackKind::ImpossibleTravel => {
                    assert_eq!(codes, vec![0, 0]);
                    let countries: BTreeSet<&str> = a
                        .record_ids
                        .iter()
                        .map(|id| {
                            signins[id].json["location"]["countryOrRegion"]
                                .as_str()
                                .unwrap()
                        })
                        .collect();
                    assert_eq!(countries.len(), 2, "two distant places");
                }
                AttackKind::DisabledAccount => assert!(codes.iter().all(|c| *c == 50057)),
                AttackKind::LegacyAuthentication => {
                    assert_eq!(codes, vec![0; 3]);
                    assert!(
                        a.record_ids
                            .iter()
                            .all(|id| signins[id].json["clientAppUsed"] == "IMAP4")
                    );
                }
                AttackKind::UnfamiliarSignIn | AttackKind::AnonymousIp => {
                    assert_eq!(codes, vec![0]);
                    let device = &signins[&a.record_ids[0]].json["deviceDetail"];
                    assert_eq!(device["deviceId"], "", "the attacker's machine");
                }
                _ => assert_eq!(a.record_ids.len(), 1),
            }
        }
        // Deterministic.
        assert_eq!(attacks, SimulatedTenant::new(7, 300).attacks(day, end));
    }

    #[test]
    fn a_holiday_is_as_quiet_as_a_weekend_and_changes_no_other_day() {
        let mut t = SimulatedTenant::new(7, 300);
        // Wednesday 25 November 2026 a holiday; Tuesday and Thursday working days.
        let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let count = |t: &SimulatedTenant, d: u32| {
            let (from, to) = (
                day(d),
                day(d) + Duration::days(1) - Duration::milliseconds(1),
            );
            t.records(Category::SignInLogs, from, to, None).len()
        };
        let (tuesday, wednesday, saturday) = (count(&t, 24), count(&t, 25), count(&t, 28));
        t.directory.holidays = vec![day(25).date_naive()];
        assert_eq!(count(&t, 24), tuesday);
        let holiday = count(&t, 25);
        assert!(
            holiday * 4 < wednesday && holiday * 2 > saturday && holiday < saturday * 2,
            "holiday {holiday}, the same Wednesday worked {wednesday}, a Saturday {saturday}"
        );
    }
}
