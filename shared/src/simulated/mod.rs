//! The simulated tenant: a seeded, realistic Entra tenant and a server that speaks the same
//! Microsoft Graph HTTP API as the real one (paging, `$filter`, `signInEventTypes`, `$top`,
//! `@odata.nextLink`, late records, and injected faults). It is the default source when no
//! tenant is configured, and the source the tests use.
//!
//! Activity is generated minute by minute from the seed (see [`events`]), so the tenant is
//! unbounded in time, costs no memory, and offers an exact ground truth through
//! [`SimulatedTenant::records`].

pub mod directory;
pub mod events;
pub mod server;

use crate::model::Category;
use chrono::{DateTime, Duration, DurationRound, Utc};
pub use directory::Directory;
pub use events::SimRecord;

/// A simulated tenant.
#[derive(Debug, Clone)]
pub struct SimulatedTenant {
    pub seed: u64,
    pub directory: Directory,
}

impl SimulatedTenant {
    pub fn new(seed: u64, users: usize) -> Self {
        Self {
            seed,
            directory: Directory::generate(seed, users),
        }
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
            for r in events::minute_records(self.seed, &self.directory, category, minute) {
                if r.time >= from && r.time <= to && as_of.is_none_or(|a| r.visible_at <= a) {
                    out.push(r);
                }
            }
            minute += Duration::minutes(1);
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        out
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
            if c != Category::RiskyUsers {
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
}
