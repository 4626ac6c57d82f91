//! What the health monitor watches: the scenarios Microsoft alerts on, in order of precedence,
//! with the names their alerts carry in Graph's shape.

use super::anomaly::Direction;

/// A watched scenario: its signal, the directions that alert, and the alert's Graph names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    pub scenario: &'static str,
    pub directions: &'static [Direction],
    /// Graph's `alertType` and `scenario`.
    pub alert_type: &'static str,
    pub area: &'static str,
    /// The one error code the scenario counts, if it counts one.
    pub code: Option<&'static str>,
    /// The scenario this one is judged as a rate of, if it is (an app's failures, of its
    /// sign-ins).
    pub per: Option<&'static str>,
}

const SPIKE: &[Direction] = &[Direction::Spike];

/// What is watched, in order of precedence (a later signal's spike is related to an earlier
/// one's alert).
pub const WATCHED: [Watched; 6] = [
    Watched {
        scenario: "mfaSignInFailure",
        directions: SPIKE,
        alert_type: "mfaSignInFailure",
        area: "mfa",
        code: Some("500121"),
        per: None,
    },
    Watched {
        scenario: "managedDeviceSignInFailure",
        directions: SPIKE,
        alert_type: "managedDeviceSignInFailure",
        area: "devices",
        code: Some("53001"),
        per: None,
    },
    Watched {
        scenario: "compliantDeviceSignInFailure",
        directions: SPIKE,
        alert_type: "compliantDeviceSignInFailure",
        area: "devices",
        code: Some("53000"),
        per: None,
    },
    Watched {
        scenario: "conditionalAccessBlockedUsers",
        directions: &[Direction::Spike, Direction::Dip],
        alert_type: "conditionalAccessBlockedSignIn",
        area: "conditionalAccess",
        code: None,
        per: None,
    },
    // Each policy's own: an office blocked by one policy is lost in a total that legacy
    // clients refused around the clock keep high, and a policy disabled is its users falling.
    Watched {
        scenario: "policyBlockedUsers",
        directions: &[Direction::Spike, Direction::Dip],
        alert_type: "conditionalAccessBlockedSignIn",
        area: "conditionalAccess",
        code: None,
        per: None,
    },
    Watched {
        scenario: "appSignInFailures",
        directions: SPIKE,
        alert_type: "appSignInFailure",
        area: "applications",
        code: None,
        per: Some("appSignIns"),
    },
];

/// The stored series `signal` is judged as a rate of, if any: `appSignIns:{app}` for
/// `appSignInFailures:{app}`.
pub fn denominator(signal: &str) -> Option<String> {
    let (w, app) = watched_of(signal)?;
    Some(match app {
        Some(app) => format!("{}:{app}", w.per?),
        None => w.per?.to_string(),
    })
}

/// The signal a stored series is, and the watched scenario it belongs to.
pub fn watched_of(signal: &str) -> Option<(Watched, Option<&str>)> {
    let (scenario, app) = match signal.split_once(':') {
        Some((s, app)) => (s, Some(app)),
        None => (signal, None),
    };
    let w = WATCHED.iter().find(|w| w.scenario == scenario)?;
    Some((*w, app))
}

/// The stored series of the distinct users behind a watched signal's values (the monitor keeps
/// it beside a count of sign-ins: a spike needs
/// [`Model::min_users`](super::anomaly::Model::min_users) of them; a count of users is its own).
/// Not itself a watched signal.
pub fn users_of(signal: &str) -> String {
    format!("users:{signal}")
}
