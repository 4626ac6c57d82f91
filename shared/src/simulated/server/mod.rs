//! The simulated tenant's Microsoft Graph server.
//!
//! It serves the activity-log endpoints the collectors call, under `/v1.0/` and `/beta/`:
//! `auditLogs/signIns` (with `signInEventTypes/any(t: t eq '...')`), `auditLogs/directoryAudits`,
//! `auditLogs/provisioning`, `identityProtection/riskDetections` and
//! `identityProtection/riskyUsers`. It honours `$filter` on the time property (`ge`, `gt`,
//! `le`, `lt`, joined by `and`), `$top` (at most 1,000), `$orderby=<time> asc|desc` (newest
//! first by default, as Graph) and pages through `@odata.nextLink` with an opaque `$skiptoken`
//! that pins the visibility moment of the first page, so a paged read is consistent.
//!
//! It also takes the risky-user actions `POST identityProtection/riskyUsers/dismiss` and
//! `.../confirmCompromised` (`{"userIds": [...]}`, 204): each is remembered and the user's
//! riskyUser, with its new state, is listed from then on.
//!
//! Faults are injected on request, per [`Faults`], from a seeded generator: 429 with and without
//! `Retry-After` (and bursts of them), 503, slow answers, truncated bodies, bodies cut off
//! mid-stream, the last record of a page repeated on the next one, pages served out of order,
//! and next-page links refused as expired.

use super::{SimRecord, SimulatedTenant};
use crate::clock::Clock;
use crate::clock::Timestamp;
use crate::model::Category;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use warp::Filter;
use warp::http::StatusCode;

mod directory;
mod health;
mod query;
pub use directory::MAX_DIRECTORY_TOP;
use query::Query;

/// Which faults to inject, as probabilities per request (0.0 = never).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// 429 with `Retry-After: 1`.
    pub throttle: f64,
    /// 429 without `Retry-After` (as Identity Protection answers).
    pub throttle_without_retry_after: f64,
    /// 503 Service Unavailable.
    pub server_error: f64,
    /// An answer that takes `slow_ms` milliseconds.
    pub slow: f64,
    pub slow_ms: u64,
    /// A 200 whose body stops half-way.
    pub truncate: f64,
    /// Repeat the last record of each page at the start of the next one.
    pub duplicate_across_pages: bool,
    /// Serve pages out of the requested order: the second and third page of every three swap
    /// their records (the third block comes before the second).
    pub swap_pages: bool,
    /// A 200 whose headers announce the whole body and whose connection closes half-way.
    pub cut_mid_stream: f64,
    /// A next-page link refused as expired: 400 "Invalid Skip Token", as Graph answers one
    /// kept too long.
    pub expire_skiptoken: f64,
    /// Listing users with `signInActivity` is refused as for a tenant without Entra ID P1
    /// (403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`).
    pub unlicensed_sign_in_activity: bool,
    /// What Workload ID Premium licenses is refused as for a tenant without it: Microsoft's
    /// workload usage reports (`reports/servicePrincipalSignInActivities`,
    /// `appCredentialSignInActivities`) and service principals' risk
    /// (`identityProtection/servicePrincipalRiskDetections`, `riskyServicePrincipals`).
    pub unlicensed_workload_reports: bool,
    /// Directory lists answer at most this many objects a page, whatever `$top` asks (Graph
    /// may return fewer than asked).
    pub max_directory_page: Option<usize>,
    /// A burst: the requests numbered `[first, first + count)` (in arrival order, counting
    /// from 0) are all throttled with `Retry-After: seconds`.
    pub throttle_burst: Option<ThrottleBurst>,
    /// Categories refused as an unlicensed tenant would be (403).
    pub unlicensed: Vec<Category>,
    /// Categories refused for want of a permission (403 `Authorization_RequestDenied`).
    pub forbidden: Vec<Category>,
    /// When set, every request must carry `Authorization: Bearer <this>` (else 401), as Graph
    /// demands a token.
    pub required_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleBurst {
    pub first: u64,
    pub count: u64,
    pub seconds: u64,
}

/// What the server did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub requests: u64,
    pub pages: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub truncated: u64,
    pub refused: u64,
    /// Bodies cut off mid-stream.
    pub cut: u64,
    /// Next-page links refused as expired.
    pub expired: u64,
    /// Pages served in another page's place.
    pub swapped: u64,
}

type CacheKey = (Category, i64, i64, i64);

pub struct SimServer {
    tenant: SimulatedTenant,
    clock: Arc<dyn Clock>,
    faults: Faults,
    counter: AtomicU64,
    stats: Mutex<ServerStats>,
    base_url: Mutex<String>,
    cache: Mutex<HashMap<CacheKey, Arc<Vec<SimRecord>>>>,
    arrivals: Mutex<Vec<std::time::Instant>>,
    /// Each 429 answered with `Retry-After`: when, for which request, how many seconds.
    retry_afters: Mutex<Vec<(std::time::Instant, String, u64)>>,
    /// Every request: when it arrived, what it asked for.
    requests: Mutex<Vec<(std::time::Instant, String)>>,
    risk_actions: Mutex<Vec<SimRecord>>,
    /// The directory objects, dated against the day the server was made (the anchor).
    inventory: Mutex<super::inventory::Inventory>,
    /// What edits changed in the lists Graph answers delta queries for.
    journal: Mutex<directory::Journal>,
    anchor: DateTime<Utc>,
}

/// Who Microsoft records as having acted on a recommendation: the collecting app.
pub const ACTOR: &str = "entra-monitor-simulated-app";

/// The largest page Graph serves for sign-ins, used for every endpoint here.
pub const MAX_TOP: usize = 1000;

impl SimServer {
    pub fn new(tenant: SimulatedTenant, clock: Arc<dyn Clock>, faults: Faults) -> Arc<Self> {
        let anchor = clock.now();
        let anchor = anchor.duration_trunc(Duration::days(1)).unwrap_or(anchor);
        let inventory =
            super::inventory::Inventory::generate(tenant.seed, &tenant.directory, anchor);
        Arc::new(Self {
            inventory: Mutex::new(inventory),
            journal: Mutex::default(),
            anchor,
            tenant,
            clock,
            faults,
            counter: AtomicU64::new(0),
            stats: Mutex::default(),
            base_url: Mutex::new(String::new()),
            cache: Mutex::default(),
            arrivals: Mutex::default(),
            retry_afters: Mutex::default(),
            requests: Mutex::default(),
            risk_actions: Mutex::default(),
        })
    }

    /// The directory objects it serves now (and the conditions seeded into them).
    pub fn inventory(&self) -> super::inventory::Inventory {
        self.inventory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The users' `signInActivity` and Microsoft's usage reports, from the week of sign-ins
    /// before the anchor, the first time either is listed.
    fn fill_from_logs(&self) {
        let mut inv = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        if !inv.sign_in_activity_filled {
            super::usage_reports::fill_from_logs(&mut inv, &self.tenant, self.anchor);
        }
    }

    /// Changes the directory objects it serves (an app removed, a credential added, …); the
    /// delta queries answer what changed.
    pub fn edit_inventory(&self, edit: impl FnOnce(&mut super::inventory::Inventory)) {
        let mut inventory = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .edit(&mut inventory, edit);
    }

    pub fn tenant(&self) -> &SimulatedTenant {
        &self.tenant
    }

    /// When each request arrived, in order (for tests of the request budgets).
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The 429s answered with `Retry-After` (when, the request's path and query, seconds).
    pub fn retry_afters(&self) -> Vec<(std::time::Instant, String, u64)> {
        self.retry_afters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every request's arrival and path and query.
    pub fn requests(&self) -> Vec<(std::time::Instant, String)> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn stats(&self) -> ServerStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Binds `addr` (port 0 for any) and serves in the background; returns the base URL
    /// (`http://127.0.0.1:PORT`) that Graph paths are appended to.
    pub async fn start(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base = format!("http://{}", listener.local_addr()?);
        *self.base_url.lock().unwrap_or_else(|e| e.into_inner()) = base.clone();
        tokio::spawn(warp::serve(self.routes()).incoming(listener).run());
        Ok(base)
    }

    fn routes(
        self: &Arc<Self>,
    ) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone + use<>
    {
        let server = self.clone();
        let actions = self.clone();
        let auth = warp::header::optional::<String>("authorization");
        warp::get()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(auth)
            .then(
                move |path: warp::path::FullPath, query: String, auth: Option<String>| {
                    let server = server.clone();
                    async move {
                        if let Some(refusal) = server.refuse_token(auth.as_deref()) {
                            return refusal;
                        }
                        server.answer(path.as_str(), &query).await
                    }
                },
            )
            .or(warp::post()
                .and(warp::path::full())
                .and(auth)
                .and(warp::body::bytes())
                .map(
                    move |path: warp::path::FullPath, auth: Option<String>, body: warp::hyper::body::Bytes| {
                        if let Some(refusal) = actions.refuse_token(auth.as_deref()) {
                            return refusal;
                        }
                        match path.as_str().split_once("/directory/recommendations/") {
                            Some((_, rest)) => actions.recommendation_action(rest, &body),
                            None => actions.risk_action(path.as_str(), &body),
                        }
                    },
                ))
            .unify()
            .or(warp::any().map(|| {
                graph_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Request_BadRequest",
                    "The simulated tenant serves GET on the log endpoints and POST on the risky-user actions only.",
                )
            }))
            .unify()
    }

    /// 401 when a token is required and this one is not it.
    fn refuse_token(&self, auth: Option<&str>) -> Option<warp::reply::Response> {
        let presented = auth.and_then(|a| a.strip_prefix("Bearer "));
        let expected = self
            .faults
            .required_token
            .as_deref()
            .filter(|e| presented != Some(*e))?;
        tracing::debug!(
            expected_len = expected.len(),
            "request without the required token"
        );
        self.count(|s| s.requests += 1);
        Some(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        ))
    }

    /// The risky-user actions received so far, as the riskyUser records they produced.
    pub fn risk_actions(&self) -> Vec<SimRecord> {
        self.risk_actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `POST …/directory/recommendations/{id}[/impactedResources/{id}]/{action}`: 200 with the
    /// object changed.
    fn recommendation_action(&self, rest: &str, body: &[u8]) -> warp::reply::Response {
        self.count(|s| s.requests += 1);
        let now = self.clock.now();
        let mut inventory = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        let done =
            super::recommendations::act(&mut inventory.recommendations, rest, body, ACTOR, now);
        match done {
            Ok(object) => {
                let mut r = warp::reply::Response::new(object.to_string().into());
                r.headers_mut().insert(
                    "content-type",
                    warp::http::HeaderValue::from_static("application/json"),
                );
                r
            }
            Err((status, message)) => graph_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                if status == 404 {
                    "ResourceNotFound"
                } else {
                    "BadRequest"
                },
                &message,
            ),
        }
    }

    /// `POST …/identityProtection/riskyUsers/{dismiss|confirmCompromised}`.
    fn risk_action(&self, path: &str, body: &[u8]) -> warp::reply::Response {
        self.count(|s| s.requests += 1);
        let action = match path.trim_matches('/').split_once('/') {
            Some(("v1.0" | "beta", "identityProtection/riskyUsers/dismiss")) => "dismissed",
            Some(("v1.0" | "beta", "identityProtection/riskyUsers/confirmCompromised")) => {
                "confirmedCompromised"
            }
            _ => {
                return graph_error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    &format!("Resource not found for the segment '{path}'."),
                );
            }
        };
        let ids: Option<Vec<String>> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| serde_json::from_value(v["userIds"].clone()).ok())
            .filter(|ids: &Vec<String>| !ids.is_empty());
        let Some(ids) = ids else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The request body must be {\"userIds\": [\"<id>\", ...]}.",
            );
        };
        let now = self.clock.now();
        let mut recorded = self.risk_actions.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            let upn = self.tenant.directory.users.iter().find(|u| u.id == id);
            let upn = upn.map(|u| u.user_principal_name.clone());
            let (level, detail) = if action == "dismissed" {
                ("none", "adminDismissedAllRiskForUser")
            } else {
                ("high", "adminConfirmedUserCompromised")
            };
            recorded.push(SimRecord {
                category: Category::RiskyUsers,
                id: id.clone(),
                time: now,
                visible_at: now,
                json: json!({
                    "id": id, "isDeleted": false, "isProcessing": false, "riskDetail": detail,
                    "riskLastUpdatedDateTime": now.rfc3339_millis(),
                    "riskLevel": level, "riskState": action, "userDisplayName": null, "userPrincipalName": upn,
                }),
                revision: None,
            });
        }
        let mut r = warp::reply::Response::new(Default::default());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    }

    fn count(&self, f: impl FnOnce(&mut ServerStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    async fn answer(&self, path: &str, raw_query: &str) -> warp::reply::Response {
        let arrived = std::time::Instant::now();
        let request = format!("{path}?{raw_query}");
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(arrived);
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((arrived, request.clone()));
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        self.count(|s| s.requests += 1);
        let mut rng =
            fastrand::Rng::with_seed(self.tenant.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let f = &self.faults;
        if f.slow > 0.0 && rng.f64() < f.slow {
            tokio::time::sleep(std::time::Duration::from_millis(f.slow_ms)).await;
        }
        if let Some(r) = self.transient_fault(n, &mut rng, request) {
            return r;
        }
        if let Some(r) = self.service_activity(path) {
            self.count(|s| s.pages += 1);
            return r;
        }
        if let Some(list) = directory::delta_of(path) {
            let base = self
                .base_url
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if list.1 == "users" {
                self.fill_from_logs();
            }
            let inventory = self.inventory();
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let now = self.clock.now();
            let most = self.faults.max_directory_page;
            let page =
                directory::delta_page(&inventory, &journal, list, raw_query, &base, now, most);
            drop(journal);
            return match page {
                Ok(body) => {
                    self.count(|s| s.pages += 1);
                    self.deliver(body.to_string(), &mut rng)
                }
                Err((status, code, message)) => graph_error(status, code, &message),
            };
        }
        if let Some(list) = directory::list_of(path) {
            let base = self
                .base_url
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let unlicensed = match list.1 {
                "users" => {
                    self.faults.unlicensed_sign_in_activity && raw_query.contains("signInActivity")
                }
                r if r.starts_with("reports/") && r.ends_with("SignInActivities") => {
                    self.faults.unlicensed_workload_reports
                }
                // Authentication methods activity needs Entra ID P1 or P2, as signInActivity.
                r if r.ends_with("userEventsSummary")
                    || r == "directory/recommendations"
                    || r == "healthMonitoring/alerts" =>
                {
                    self.faults.unlicensed_sign_in_activity
                }
                _ => false,
            };
            if unlicensed {
                return graph_error(
                    StatusCode::FORBIDDEN,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                );
            }
            if list.1 == "users"
                || list.1.ends_with("SignInActivities")
                || list.1.ends_with("userEventsSummary")
            {
                self.fill_from_logs();
            }
            if list.1 == "healthMonitoring/alerts" {
                self.fill_health_alerts();
            }
            let inventory = self.inventory();
            let most = self.faults.max_directory_page;
            return match directory::page(&inventory, list, raw_query, &base, most) {
                Ok(body) => {
                    self.count(|s| s.pages += 1);
                    self.deliver(body.to_string(), &mut rng)
                }
                Err((status, message)) => graph_error(status, "BadRequest", &message),
            };
        }
        let query = match Query::parse(path, raw_query) {
            Ok(q) => q,
            Err((status, message)) => {
                let code = if status == StatusCode::NOT_FOUND {
                    "ResourceNotFound"
                } else {
                    "BadRequest"
                };
                return graph_error(status, code, &message);
            }
        };
        if let Some(r) = self.refusal(&query, &mut rng) {
            return r;
        }
        let body = self.page(&query, path);
        self.count(|s| s.pages += 1);
        self.deliver(body.to_string(), &mut rng)
    }

    /// A throttling or server error injected into request `n`.
    fn transient_fault(
        &self,
        n: u64,
        rng: &mut fastrand::Rng,
        request: String,
    ) -> Option<warp::reply::Response> {
        let f = &self.faults;
        let burst = f
            .throttle_burst
            .filter(|b| (b.first..b.first + b.count).contains(&n));
        if burst.is_some() || rng.f64() < f.throttle {
            let seconds = burst.map_or(1, |b| b.seconds);
            self.count(|s| s.throttled += 1);
            let mut r = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            );
            r.headers_mut().insert(
                "retry-after",
                warp::http::HeaderValue::from_str(&seconds.to_string())
                    .unwrap_or(warp::http::HeaderValue::from_static("1")),
            );
            self.retry_afters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((std::time::Instant::now(), request, seconds));
            return Some(r);
        }
        if rng.f64() < f.throttle_without_retry_after {
            self.count(|s| s.throttled += 1);
            return Some(graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            ));
        }
        if rng.f64() < f.server_error {
            self.count(|s| s.server_errors += 1);
            return Some(graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            ));
        }
        None
    }

    /// A next-page link refused as expired, or a category the tenant may not read.
    fn refusal(&self, query: &Query, rng: &mut fastrand::Rng) -> Option<warp::reply::Response> {
        let f = &self.faults;
        if query.params.iter().any(|(k, _)| k == "$skiptoken") && rng.f64() < f.expire_skiptoken {
            self.count(|s| s.expired += 1);
            return Some(graph_error(
                StatusCode::BAD_REQUEST,
                "",
                "Invalid Skip Token",
            ));
        }
        if f.forbidden.contains(&query.category) {
            self.count(|s| s.refused += 1);
            return Some(graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        let workload_risk = matches!(
            query.category,
            Category::ServicePrincipalRiskEvents | Category::RiskyServicePrincipals
        );
        if f.unlicensed.contains(&query.category)
            || (workload_risk && f.unlicensed_workload_reports)
        {
            self.count(|s| s.refused += 1);
            return Some(graph_error(
                StatusCode::FORBIDDEN,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            ));
        }
        None
    }

    /// The page a query asks for, with the link to the next one.
    fn page(&self, query: &Query, path: &str) -> Value {
        let f = &self.faults;
        let now = self.clock.now();
        let as_of = query.as_of.unwrap_or(now);
        let to = query.to.unwrap_or(as_of).min(as_of);
        let from = query.from.unwrap_or(as_of - Duration::days(1));
        let records = self.records(query.category, from, to, as_of);
        let acted: Vec<SimRecord> = if query.category == Category::RiskyUsers {
            self.risk_actions()
                .into_iter()
                .filter(|r| r.time >= from && r.time <= to && r.visible_at <= as_of)
                .collect()
        } else {
            Vec::new()
        };
        let mut ordered: Vec<&SimRecord> = records.iter().chain(&acted).collect();
        if !acted.is_empty() {
            ordered.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        }
        if !query.ascending {
            ordered.reverse();
        }
        let end = (query.offset + query.top).min(ordered.len());
        // Out of order: the second and third page of every three swap their blocks.
        let (first, last) = match (query.offset / query.top.max(1)) % 3 {
            _ if !f.swap_pages || !query.offset.is_multiple_of(query.top.max(1)) => {
                (query.offset, end)
            }
            1 if end < ordered.len() => (end, (end + query.top).min(ordered.len())),
            2 => (query.offset - query.top, query.offset),
            _ => (query.offset, end),
        };
        if first != query.offset {
            self.count(|s| s.swapped += 1);
        }
        let page: Vec<&Value> = ordered
            .get(first..last)
            .unwrap_or_default()
            .iter()
            .map(|r| r.json_at(as_of))
            .collect();
        let mut body = json!({
            "@odata.context": format!("https://graph.microsoft.com/{}/$metadata#{}", query.version, query.context),
            "value": page,
        });
        if end < ordered.len() {
            let next_offset = if f.duplicate_across_pages && end > query.offset {
                end - 1
            } else {
                end
            };
            let base = self
                .base_url
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mut params: Vec<(String, String)> = query
                .params
                .iter()
                .filter(|(k, _)| k != "$skiptoken")
                .cloned()
                .collect();
            params.push((
                "$skiptoken".into(),
                format!("{}:{}", as_of.timestamp_millis(), next_offset),
            ));
            let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
            body["@odata.nextLink"] = json!(format!("{base}{path}?{qs}"));
        }
        body
    }

    /// The page's text as the faults would have it arrive: whole, cut short, or cut off
    /// mid-stream.
    fn deliver(&self, mut text: String, rng: &mut fastrand::Rng) -> warp::reply::Response {
        let f = &self.faults;
        if rng.f64() < f.truncate {
            self.count(|s| s.truncated += 1);
            text.truncate(text.len() / 2);
        }
        let mut r = if rng.f64() < f.cut_mid_stream {
            // The headers promise the whole body; the connection ends after half of it.
            self.count(|s| s.cut += 1);
            let announced = text.len();
            text.truncate(text.len() / 2);
            let chunks: Vec<Result<String, std::io::Error>> = vec![
                Ok(text),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut off mid-stream (injected)",
                )),
            ];
            let mut r =
                warp::Reply::into_response(warp::reply::stream(futures_util::stream::iter(chunks)));
            r.headers_mut().insert(
                "content-length",
                warp::http::HeaderValue::from(announced as u64),
            );
            r
        } else {
            warp::reply::Response::new(text.into())
        };
        r.headers_mut().insert("content-type", warp::http::HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"));
        r
    }

    fn records(
        &self,
        category: Category,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        as_of: DateTime<Utc>,
    ) -> Arc<Vec<SimRecord>> {
        let key = (
            category,
            from.timestamp_millis(),
            to.timestamp_millis(),
            as_of.timestamp_millis(),
        );
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return hit.clone();
        }
        let records = Arc::new(self.tenant.records(category, from, to, Some(as_of)));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 32 {
            cache.clear();
        }
        cache.insert(key, records.clone());
        records
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> warp::reply::Response {
    let body = json!({ "error": { "code": code, "message": message, "innerError": {
        "date": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "request-id": "00000000-0000-0000-0000-000000000000",
        "client-request-id": "00000000-0000-0000-0000-000000000000" } } });
    let mut r = warp::reply::Response::new(body.to_string().into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_category_and_window() {
        let q = Query::parse(
            "/beta/auditLogs/signIns",
            "$filter=signInEventTypes%2Fany(t%3A+t+eq+%27servicePrincipal%27)+and+createdDateTime+ge+2026-11-25T00:00:00Z+and+createdDateTime+lt+2026-11-26T00:00:00Z&$top=500&$orderby=createdDateTime+asc",
        )
        .unwrap();
        assert_eq!(q.category, Category::ServicePrincipalSignInLogs);
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(q.to.unwrap().to_rfc3339(), "2026-11-25T23:59:59.999+00:00");
        assert_eq!((q.top, q.ascending), (500, true));
        let q = Query::parse(
            "/v1.0/auditLogs/directoryAudits",
            "$filter=activityDateTime+ge+2026-11-25T00:00:00Z",
        )
        .unwrap();
        assert_eq!(q.category, Category::AuditLogs);
        for (path, query) in [
            ("/v1.0/auditLogs/signIns", "$filter=userId+eq+%27x%27"),
            ("/v1.0/auditLogs/signIns", "$top=5000"),
            ("/v1.0/auditLogs/nothing", ""),
            ("/v2/auditLogs/signIns", ""),
            (
                "/v1.0/auditLogs/directoryAudits",
                "$filter=createdDateTime+ge+2026-11-25T00:00:00Z",
            ),
            ("/v1.0/auditLogs/signIns", "$skiptoken=garbage"),
        ] {
            assert!(
                Query::parse(path, query).is_err(),
                "{path}?{query} accepted"
            );
        }
    }
}
