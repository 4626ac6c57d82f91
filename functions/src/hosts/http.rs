//! The `/api/...` HTTP surface, served the same way by the local runner and by the Azure
//! custom handler in forwarded mode (`enableForwardingHttpRequest`), where the Functions host
//! passes the caller's request through unchanged.

use crate::admission;
use crate::app::App;
use crate::invocation::{HttpRequest, HttpResponse};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::Filter;
use warp::http::{HeaderMap, Method};

/// The largest request body accepted, in bytes. Query endpoints take parameters, not uploads;
/// the Azure envelope carries at most a small request body plus metadata.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a request body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body did not arrive within {0} seconds")]
    TimedOut(u64),
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// Reads a body (chunked or not) up to `limit` bytes. A larger body is still drained (up to
/// 16 times the limit, then the connection is dropped) so the client can read the refusal
/// instead of meeting a broken pipe.
pub async fn read_body<S, B>(mut stream: S, limit: usize) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut body = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        seen = seen.saturating_add(chunk.remaining());
        if seen > limit {
            if seen > limit.saturating_mul(16) {
                return Err(BodyError::TooLarge(limit));
            }
            chunk.advance(chunk.remaining());
            continue;
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(body.freeze())
}

/// The answer to a body that could not be read.
pub fn body_error_response(e: &BodyError) -> HttpResponse {
    match e {
        BodyError::TooLarge(_) => HttpResponse::error(413, "PayloadTooLarge", e.to_string()),
        BodyError::TimedOut(_) => HttpResponse::error(408, "RequestTimeout", e.to_string()),
        BodyError::Read(_) => HttpResponse::error(400, "BadRequest", e.to_string()),
    }
}

/// Parses a query string into a map; a parameter given twice is refused (which of two values
/// was meant cannot be known).
pub fn parse_query(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|e| format!("the query string is malformed: {e}"))?;
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        if out.contains_key(&k) {
            return Err(format!("{k}: is given more than once; give it once"));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// Header names lower-cased; repeated headers joined with `, `.
pub fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// Converts our response into warp's.
pub fn into_reply(resp: HttpResponse) -> warp::reply::Response {
    let mut builder = warp::http::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(resp.body.into()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "invalid response header");
        let mut r = warp::reply::Response::new("invalid response".into());
        *r.status_mut() = warp::http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A fresh invocation id, or the one the Functions host sent.
pub fn invocation_id(headers: &BTreeMap<String, String>) -> String {
    headers
        .get("x-azure-functions-invocationid")
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `ANY /api/{*path}`: routes to the HTTP function whose route matches. The request is let in
/// (host, origin, route, credential) from its head alone; only then is its body read, bounded
/// in size and time.
pub fn api(
    app: Arc<App>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path("api")
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and_then(
            move |tail: warp::path::Tail,
                  method: Method,
                  raw_query: String,
                  headers: HeaderMap,
                  body| {
                let app = app.clone();
                async move {
                    let headers = header_map(&headers);
                    let id = invocation_id(&headers);
                    let query = match parse_query(&raw_query) {
                        Ok(q) => q,
                        Err(e) => {
                            return Ok::<_, Infallible>(into_reply(HttpResponse::error(
                                400,
                                "BadRequest",
                                e,
                            )));
                        }
                    };
                    let mut req = HttpRequest {
                        method: method.as_str().to_string(),
                        path: tail.as_str().to_string(),
                        query,
                        headers,
                        params: BTreeMap::new(),
                        body: Bytes::new(),
                        caller: None,
                    };
                    let admitted = match app.admit(&req).await {
                        Ok(a) => a,
                        Err(refusal) => return Ok(into_reply(refusal)),
                    };
                    if admission::announces_body(&req.headers) {
                        let wait = app.config().http.body_timeout;
                        let read = read_body(Box::pin(body), admission::MAX_FUNCTION_BODY);
                        req.body = match tokio::time::timeout(wait, read).await {
                            Ok(Ok(body)) => body,
                            Ok(Err(e)) => return Ok(into_reply(body_error_response(&e))),
                            Err(_) => {
                                let e = BodyError::TimedOut(wait.as_secs());
                                return Ok(into_reply(body_error_response(&e)));
                            }
                        };
                    }
                    Ok(into_reply(app.answer(admitted, req, id).await.resp))
                }
            },
        )
}

/// `GET /`: to the workbooks page (the local runner's front page).
pub fn root() -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path::end()
        .and(warp::get().or(warp::head()).unify())
        .map(|| {
            let mut headers = BTreeMap::new();
            headers.insert("location".to_string(), "/api/workbooks".to_string());
            into_reply(HttpResponse {
                status: 302,
                headers,
                body: Bytes::new(),
            })
        })
}

/// Any path no other route took: a JSON 404 (never warp's empty default).
pub fn not_found() -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    warp::path::full().map(|path: warp::path::FullPath| {
        into_reply(HttpResponse::error(
            404,
            "NotFound",
            format!(
                "nothing at {}; HTTP functions live under /api/",
                path.as_str()
            ),
        ))
    })
}

/// Serves `filter` on `listener` until `shutdown` turns true, within the configured limits:
/// a connection must send a complete request head within the header timeout (from its opening,
/// and again after each answer — so an idle keep-alive connection is closed after as long), and
/// at most `max_connections` are open at once (more wait in the kernel's backlog). HTTP/1.1
/// only: the Functions host and Function URLs speak it to us.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    filter: F,
    limits: shared::config::HttpLimits,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was taken: wait a
                // little rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(warp::service(filter.clone()));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after 5 s; closing them");
    }
}

/// Binds the listener first (so failure is reported before anything else happens).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr}: {e}; is another process using the port?")
    })
}
