//! The one request layer of the read endpoints (the questions, the risk listings, and the
//! report endpoints to come): who may read which tenant, the common parameters (range, paging,
//! format, `explain`), the 400 that names a bad parameter, paging of an answer and the response
//! in the format asked for. An endpoint reads its own parameters and makes its answer; the rest
//! is here.

use crate::app::App;
use crate::invocation::{HttpRequest, HttpResponse};
use serde_json::Value;
use shared::query::params::{self, Format, ParamError};
use shared::query::{Answer, to_csv, to_json};

/// A 400 naming the parameter and what is wrong with it.
pub fn bad_request(e: &ParamError) -> HttpResponse {
    HttpResponse::error(400, "BadParameter", e.to_string())
}

/// A read request, resolved: its common parameters and the tenant it may read.
pub struct Read {
    pub common: params::Common,
    pub tenant: String,
}

impl Read {
    /// Checks the common parameters (and that no parameter outside them and `own` is given),
    /// then who is asking for which tenant. `default_days`: the range when none is asked.
    pub async fn resolve(
        app: &App,
        req: &HttpRequest,
        own: &[&str],
        default_days: i64,
    ) -> Result<Read, HttpResponse> {
        let accept_csv = req
            .headers
            .get("accept")
            .is_some_and(|a| a.contains("text/csv"));
        let retention = chrono::Duration::days(app.config().destinations.retention_days as i64);
        let common = params::common(
            &req.query,
            own,
            app.now(),
            chrono::Duration::days(default_days),
            retention,
            accept_csv,
            app.cursor_key(),
        )
        .map_err(|e| bad_request(&e))?;
        let tenant = tenant(app, req, common.tenant.as_deref()).await?;
        Ok(Read { common, tenant })
    }

    /// One page of rows already in memory, in order: the page the cursor or offset names.
    pub fn page(&self, columns: &[&str], rows: Vec<Vec<Value>>) -> Answer {
        let (offset, limit) = (self.common.offset, self.common.limit);
        let more = rows.len() > offset + limit;
        Answer {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows.into_iter().skip(offset).take(limit).collect(),
            summary: None,
            next_offset: more.then_some(offset + limit),
        }
    }

    /// The answer in the format asked for, with the cursor to the next page.
    pub fn respond(
        &self,
        app: &App,
        req: &HttpRequest,
        name: &str,
        answer: &Answer,
        kql: Option<&str>,
    ) -> HttpResponse {
        let next = answer
            .next_offset
            .map(|o| params::cursor(o, &req.query, app.cursor_key()));
        respond(name, &self.tenant, &self.common, answer, next, kql)
    }
}

/// The tenant a request asks about, once the caller is known to be allowed to read it: the
/// `tenant` parameter (a configured tenant's id or name, or a tenant whose logs were
/// imported), or else the only configured (or simulated) tenant — imported tenants never become
/// the default. A caller limited to some tenants gets the same 403 for a tenant it may not read
/// whether that tenant exists or not, and is told only of its own.
pub async fn tenant(
    app: &App,
    req: &HttpRequest,
    asked: Option<&str>,
) -> Result<String, HttpResponse> {
    let caller = req
        .caller
        .as_ref()
        .ok_or_else(|| HttpResponse::error(401, "Unauthenticated", "no caller"))?;
    let sources = app.tenants();
    let configured: Vec<(String, String)> = sources
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .filter(|(id, _)| caller.may_read(id))
        .collect();
    let Some(asked) = asked else {
        return match configured.as_slice() {
            [(id, _)] => Ok(id.clone()),
            [] => Err(HttpResponse::error(
                400,
                "BadParameter",
                "tenant: required; name a tenant you may read",
            )),
            several => Err(HttpResponse::error(
                400,
                "BadParameter",
                format!(
                    "tenant: required when there are several tenants; expected one of {}",
                    several
                        .iter()
                        .map(|k| k.1.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    };
    let found = sources
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(asked) || s.name == asked)
        .map(|s| s.id.clone());
    let found = match found {
        Some(id) => Some(id),
        // Tenants whose logs were imported from files answer too, by their id.
        None => app
            .state()
            .and_then(|s| s.imported_tenants())
            .map_err(|e| HttpResponse::error(503, "StateUnavailable", e.to_string()))?
            .into_iter()
            .find(|t| t.eq_ignore_ascii_case(asked)),
    };
    let readable = match &found {
        Some(id) => caller.may_read(id),
        None => caller.may_read(asked),
    };
    if !readable || (found.is_none() && caller.tenants.is_some()) {
        return Err(HttpResponse::error(
            403,
            "Forbidden",
            format!("{} may not read tenant {asked}", caller.name),
        ));
    }
    found.ok_or_else(|| {
        HttpResponse::error(
            400,
            "BadParameter",
            format!(
                "tenant: \"{asked}\" is not a configured tenant's id or name, nor a tenant whose logs were imported"
            ),
        )
    })
}

/// An answer in the format asked for: JSON, or CSV with the next cursor in `x-next-cursor`.
pub fn respond(
    name: &str,
    tenant: &str,
    common: &params::Common,
    a: &shared::query::Answer,
    next_cursor: Option<String>,
    kql: Option<&str>,
) -> HttpResponse {
    match common.format {
        Format::Csv => {
            let mut r = HttpResponse::json(200, &Value::Null);
            r.headers
                .insert("content-type".into(), "text/csv; charset=utf-8".into());
            if let Some(c) = &next_cursor {
                r.headers.insert("x-next-cursor".into(), c.clone());
            }
            // The figures over the whole answer travel beside the rows, never dropped.
            if let Some(summary) = &a.summary {
                r.headers.insert("x-summary".into(), summary.to_string());
            }
            r.body = to_csv(a).into();
            r
        }
        Format::Json => {
            HttpResponse::json(200, &to_json(name, tenant, common, a, next_cursor, kql))
        }
    }
}
