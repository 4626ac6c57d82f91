//! The simulated Graph's Microsoft Entra Health endpoints: the `serviceActivity` metric
//! functions ([`crate::simulated::service_activity`]) and the alerts
//! ([`crate::simulated::health_alerts`]) as they stand when asked.

use super::{SimServer, graph_error};
use warp::http::StatusCode;

impl SimServer {
    /// A `serviceActivity` metric function's answer, if `path` calls one: its intervals, 400
    /// for a bad call, 403 where the tenant lacks Entra ID P1 or P2.
    pub(super) fn service_activity(&self, path: &str) -> Option<warp::reply::Response> {
        let rest = path.strip_prefix("/beta/")?;
        let now = self.clock.now();
        let call = crate::simulated::service_activity::parse(rest, now)?;
        if self.faults.unlicensed_sign_in_activity {
            return Some(graph_error(
                StatusCode::FORBIDDEN,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            ));
        }
        Some(match call {
            Ok(call) => {
                let body = crate::simulated::service_activity::answer(&self.tenant, &call, now);
                warp::Reply::into_response(warp::reply::json(&body))
            }
            Err(m) => graph_error(StatusCode::BAD_REQUEST, "BadRequest", &m),
        })
    }

    /// Microsoft's health alerts as they stand now (created an hour into each incident).
    pub(super) fn fill_health_alerts(&self) {
        let alerts = crate::simulated::health_alerts::alerts(&self.tenant, self.clock.now());
        self.inventory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .health_alerts = alerts;
    }
}
