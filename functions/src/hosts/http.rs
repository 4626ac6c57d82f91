//! The `/api/...` HTTP surface, served the same way by the local runner and by the Azure
//! custom handler in forwarded mode (`enableForwardingHttpRequest`), where the Functions host
//! passes the caller's request through unchanged.

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
    #[error("the request body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// Reads a body (chunked or not) up to [`MAX_BODY`]. A larger body is still drained (up to
/// 16 times the limit, then the connection is dropped) so the client can read the refusal
/// instead of meeting a broken pipe.
pub async fn read_body<S, B>(mut stream: S) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut body = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        seen += chunk.remaining();
        if seen > MAX_BODY {
            if seen > 16 * MAX_BODY {
                return Err(BodyError::TooLarge);
            }
            continue;
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    if seen > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    Ok(body.freeze())
}

/// The answer to a body that could not be read.
pub fn body_error_response(e: &BodyError) -> HttpResponse {
    match e {
        BodyError::TooLarge => HttpResponse::error(413, "PayloadTooLarge", e.to_string()),
        BodyError::Read(_) => HttpResponse::error(400, "BadRequest", e.to_string()),
    }
}

/// Parses a query string into a map; a repeated key keeps its last value.
pub fn parse_query(raw: &str) -> Result<BTreeMap<String, String>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|e| format!("the query string is malformed: {e}"))
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

/// `ANY /api/{*path}`: routes to the HTTP function whose route matches.
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
                    let resp = match (parse_query(&raw_query), read_body(Box::pin(body)).await) {
                        (Err(e), _) => HttpResponse::error(400, "BadRequest", e),
                        (_, Err(e)) => body_error_response(&e),
                        (Ok(query), Ok(body)) => {
                            let req = HttpRequest {
                                method: method.as_str().to_string(),
                                path: tail.as_str().to_string(),
                                query,
                                headers,
                                params: BTreeMap::new(),
                                body,
                                caller: None,
                            };
                            app.handle_http(req, id).await
                        }
                    };
                    Ok::<_, Infallible>(into_reply(resp))
                }
            },
        )
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

/// Binds the listener first (so failure is reported before anything else happens).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr}: {e}; is another process using the port?")
    })
}
