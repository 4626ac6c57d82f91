//! The status of a recommendation, and of each resource it impacts, as Graph names them —
//! `active`, `completedBySystem`, `completedByUser`, `dismissed`, `postponed` — and how a daily
//! evaluation moves it: the system completes what no longer holds and reactivates what holds
//! again; a dismissal stays; a postponement lasts until its date.

use chrono::{DateTime, Utc};

/// Graph's `recommendationStatus`.
pub const STATUSES: [&str; 5] = [
    ACTIVE,
    COMPLETED_BY_SYSTEM,
    COMPLETED_BY_USER,
    DISMISSED,
    POSTPONED,
];
pub const ACTIVE: &str = "active";
pub const COMPLETED_BY_SYSTEM: &str = "completedBySystem";
pub const COMPLETED_BY_USER: &str = "completedByUser";
pub const DISMISSED: &str = "dismissed";
pub const POSTPONED: &str = "postponed";

/// A person's action on a recommendation or one of its resources.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    /// The status it sets (`dismissed`, `postponed`, `completedByUser`, `active`).
    pub status: &'static str,
    /// Until when, for `postponed`.
    pub until: Option<DateTime<Utc>>,
    pub by: &'a str,
    pub reason: &'a str,
}

/// The status after an evaluation that found the condition holding (`applies`) or not, from
/// `current` (None: never raised) — None when there is still nothing to record.
pub fn evaluated(
    current: Option<&str>,
    postpone_until: Option<DateTime<Utc>>,
    applies: bool,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    let fresh = if applies { ACTIVE } else { COMPLETED_BY_SYSTEM };
    match current {
        None => applies.then_some(ACTIVE),
        Some(DISMISSED) => Some(DISMISSED),
        Some(POSTPONED) if postpone_until.is_some_and(|u| u > now) => Some(POSTPONED),
        Some(POSTPONED) | Some(ACTIVE) => Some(fresh),
        // Marked done by someone: stays so while it no longer holds; holding again, it is
        // active again (as Graph's recommendations do).
        Some(COMPLETED_BY_USER) if !applies => Some(COMPLETED_BY_USER),
        Some(_) => Some(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn an_evaluation_moves_the_status_as_graph_describes() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap();
        let later = Some(now + Duration::days(3));
        let past = Some(now - Duration::days(1));
        for (current, until, applies, want) in [
            (None, None, false, None),
            (None, None, true, Some(ACTIVE)),
            (Some(ACTIVE), None, true, Some(ACTIVE)),
            (Some(ACTIVE), None, false, Some(COMPLETED_BY_SYSTEM)),
            (Some(COMPLETED_BY_SYSTEM), None, true, Some(ACTIVE)),
            (
                Some(COMPLETED_BY_SYSTEM),
                None,
                false,
                Some(COMPLETED_BY_SYSTEM),
            ),
            (
                Some(COMPLETED_BY_USER),
                None,
                false,
                Some(COMPLETED_BY_USER),
            ),
            (Some(COMPLETED_BY_USER), None, true, Some(ACTIVE)),
            (Some(DISMISSED), None, true, Some(DISMISSED)),
            (Some(DISMISSED), None, false, Some(DISMISSED)),
            (Some(POSTPONED), later, true, Some(POSTPONED)),
            (Some(POSTPONED), later, false, Some(POSTPONED)),
            (Some(POSTPONED), past, true, Some(ACTIVE)),
            (Some(POSTPONED), past, false, Some(COMPLETED_BY_SYSTEM)),
        ] {
            assert_eq!(
                evaluated(current, until, applies, now),
                want,
                "{current:?} until {until:?}, applies {applies}"
            );
        }
    }
}
