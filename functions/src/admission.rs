//! The front door of every HTTP function, on every host: what a request must show before any
//! body is read or any work is done.
//!
//! - A listener on a loopback address answers only requests addressed to a loopback name
//!   (`localhost`, `127.0.0.1`, `[::1]`): a web page that re-points its own host name at
//!   127.0.0.1 (DNS rebinding) sends its own name in `Host` and is refused.
//! - A request a web page of another origin makes is refused: a browser names the page's
//!   origin in `Origin` (and `Sec-Fetch-Site`), which must be this server's own.
//! - A state-changing request (`POST`) must be JSON (`Content-Type: application/json` — a page
//!   cannot send that to another origin without a CORS preflight, which is never granted) and
//!   carry a credential, even on loopback: the local admin key (created in the data folder at
//!   the first `serve`), an API key or an Entra token.
//! - A `GET` or `HEAD` carries no body; a `POST`'s body is at most [`MAX_FUNCTION_BODY`].
//!
//! The Fetch standard defines `Origin` and `Sec-Fetch-Site`:
//! <https://fetch.spec.whatwg.org/#origin-header>,
//! <https://w3c.github.io/webappsec-fetch-metadata/#sec-fetch-site-header>.

use crate::invocation::HttpResponse;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The largest body an HTTP function takes (the risk actions' `{"user", "reason"}`).
pub const MAX_FUNCTION_BODY: usize = 64 * 1024;

/// The file in the data folder holding the local admin key.
pub const LOCAL_ADMIN_KEY_FILE: &str = "local-admin-key";

fn refuse(status: u16, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::error(status, code, message)
}

/// The host part of a `Host` header value or an origin's authority (`[::1]:7071` → `[::1]`).
fn host_name(authority: &str) -> &str {
    let authority = authority.trim();
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// Whether a host name can only mean this machine.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// On a loopback listener, `Host` must name this machine (absent: a client that is not a
/// browser, such as `entra-monitor run`).
pub fn check_host(headers: &BTreeMap<String, String>) -> Result<(), HttpResponse> {
    match headers.get("host") {
        Some(h) if !is_loopback_name(host_name(h)) => Err(refuse(
            403,
            "HostNotAllowed",
            format!(
                "this server listens on a loopback address and answers only requests addressed to localhost, 127.0.0.1 or [::1], not to \"{}\"",
                h.chars().take(100).collect::<String>()
            ),
        )),
        _ => Ok(()),
    }
}

/// A browser's request from a page of another origin is refused: `Origin` must be this
/// server's own (`http(s)://` + the `Host` it was sent to), and `Sec-Fetch-Site`, when sent,
/// `same-origin` or `none` (typed by the user).
pub fn check_origin(headers: &BTreeMap<String, String>) -> Result<(), HttpResponse> {
    let cross = || {
        refuse(
            403,
            "CrossOriginRefused",
            "requests from web pages of other origins are refused; call this API from a script or a server, not from a browser page",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.trim().to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Err(cross());
        }
    }
    if let Some(origin) = headers.get("origin") {
        let authority = origin
            .trim()
            .strip_prefix("http://")
            .or_else(|| origin.trim().strip_prefix("https://"));
        let host = headers.get("host").map(|h| h.trim().to_ascii_lowercase());
        let same = matches!(
            (authority, host),
            (Some(a), Some(h)) if a.trim_end_matches('/').eq_ignore_ascii_case(&h)
        );
        if !same {
            return Err(cross());
        }
    }
    Ok(())
}

/// Whether a request announces a body (`Content-Length` above 0, or chunked).
pub fn announces_body(headers: &BTreeMap<String, String>) -> bool {
    let length = headers
        .get("content-length")
        .map(|l| l.trim() != "0")
        .unwrap_or(false);
    length || headers.contains_key("transfer-encoding")
}

/// What a method allows of the body and its type: `GET`/`HEAD` none; a state change JSON, of
/// at most [`MAX_FUNCTION_BODY`] bytes.
pub fn check_body(
    method: &str,
    headers: &BTreeMap<String, String>,
    body_len: Option<usize>,
) -> Result<(), HttpResponse> {
    let reads = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    if reads {
        if announces_body(headers) || body_len.is_some_and(|n| n > 0) {
            return Err(refuse(
                400,
                "BodyNotAllowed",
                format!("{method} takes no body; give the parameters in the query string"),
            ));
        }
        return Ok(());
    }
    let json = headers.get("content-type").is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(refuse(
            415,
            "UnsupportedMediaType",
            format!("{method} takes a JSON body: send Content-Type: application/json"),
        ));
    }
    let declared = headers
        .get("content-length")
        .and_then(|l| l.trim().parse::<u64>().ok());
    let len = body_len.map(|n| n as u64).or(declared);
    if len.is_some_and(|n| n > MAX_FUNCTION_BODY as u64) {
        return Err(refuse(
            413,
            "PayloadTooLarge",
            format!("the request body is larger than {MAX_FUNCTION_BODY} bytes"),
        ));
    }
    Ok(())
}

/// Creates `path` holding a new secret (readable by its owner only) unless it exists, and
/// returns what it holds.
pub fn ensure_secret(path: &Path) -> std::io::Result<String> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut f) => std::io::Write::write_all(&mut f, new_secret().as_bytes())?,
            // Another process created it first: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    std::fs::read_to_string(path)
}

/// 244 random bits from the operating system's generator (UUID v4 uses it), as 64 hex digits.
pub fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The local admin key: a random secret in the data folder (readable by its owner only),
/// which the local host accepts in `x-api-key` for every tenant. A web page cannot read it, so
/// it cannot make a state-changing request to a local `serve`.
#[derive(Debug, Clone)]
pub struct LocalAdminKey {
    pub path: PathBuf,
    sha256: String,
}

impl LocalAdminKey {
    /// Reads the key in `data_dir`, creating it first if there is none.
    pub fn ensure(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(LOCAL_ADMIN_KEY_FILE);
        ensure_secret(&path)?;
        Self::read(&path)
    }

    /// Reads an existing key.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let key = std::fs::read_to_string(path)?;
        if key.trim().len() < 32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} holds no key (fewer than 32 characters); delete it and start serve again to make a new one",
                    path.display()
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            sha256: shared::auth::hash_key(&key),
        })
    }

    /// Whether `key` is this key (compared by hash, in constant time).
    pub fn matches(&self, key: &str) -> bool {
        shared::auth::same_hash(&shared::auth::hash_key(key), &self.sha256)
    }
}

/// Refusal logging with a limit: at most [`Refusals::PER_MINUTE`] lines a minute, then one
/// line counting the rest, so a flood of bad requests cannot fill the logs.
#[derive(Debug, Default)]
pub struct Refusals {
    window: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl Refusals {
    pub const PER_MINUTE: u64 = 20;

    /// Logs a refusal unless the minute's allowance is spent; returns whether it was logged.
    pub fn note(&self, function: &str, reason: &str) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if w.0
            .is_none_or(|start| now.duration_since(start).as_secs() >= 60)
        {
            if w.1 > Self::PER_MINUTE {
                tracing::warn!(
                    suppressed = w.1 - Self::PER_MINUTE,
                    "refused requests not logged in the last minute"
                );
            }
            *w = (Some(now), 0);
        }
        w.1 += 1;
        if w.1 <= Self::PER_MINUTE {
            tracing::info!(function, "refused: {reason}");
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_loopback_host_names_pass() {
        for ok in [
            "127.0.0.1:7071",
            "localhost:7071",
            "LOCALHOST",
            "[::1]:7071",
            "127.1.2.3",
            "app.localhost:80",
        ] {
            assert!(check_host(&h(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:7071",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "10.0.0.1:7071",
            "[::2]:7071",
            "",
        ] {
            let e = check_host(&h(&[("host", bad)])).unwrap_err();
            assert_eq!(e.status, 403, "{bad}");
        }
        assert!(check_host(&h(&[])).is_ok());
    }

    #[test]
    fn foreign_origins_are_refused() {
        let same = h(&[
            ("host", "127.0.0.1:7071"),
            ("origin", "http://127.0.0.1:7071"),
        ]);
        assert!(check_origin(&same).is_ok());
        for (origin, site) in [
            ("http://evil.example", None),
            ("null", None),
            ("http://127.0.0.1:8080", None),
            ("http://127.0.0.1:7071", Some("cross-site")),
        ] {
            let mut headers = h(&[("host", "127.0.0.1:7071"), ("origin", origin)]);
            if let Some(s) = site {
                headers.insert("sec-fetch-site".into(), s.into());
            }
            assert_eq!(check_origin(&headers).unwrap_err().status, 403, "{origin}");
        }
        let typed = h(&[("host", "localhost:7071"), ("sec-fetch-site", "none")]);
        assert!(check_origin(&typed).is_ok());
        let page = h(&[("host", "localhost:7071"), ("sec-fetch-site", "same-site")]);
        assert!(check_origin(&page).is_err());
    }

    #[test]
    fn state_changes_must_be_json_and_reads_bodiless() {
        let text = h(&[("content-type", "text/plain")]);
        assert_eq!(check_body("POST", &text, Some(10)).unwrap_err().status, 415);
        let form = h(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(check_body("POST", &form, Some(10)).unwrap_err().status, 415);
        let json = h(&[("content-type", "Application/JSON; charset=utf-8")]);
        assert!(check_body("POST", &json, Some(10)).is_ok());
        let big = h(&[
            ("content-type", "application/json"),
            ("content-length", "70000"),
        ]);
        assert_eq!(check_body("POST", &big, None).unwrap_err().status, 413);
        assert!(check_body("GET", &h(&[]), None).is_ok());
        let body = h(&[("content-length", "5")]);
        assert_eq!(check_body("GET", &body, None).unwrap_err().status, 400);
        let chunked = h(&[("transfer-encoding", "chunked")]);
        assert_eq!(check_body("HEAD", &chunked, None).unwrap_err().status, 400);
    }

    #[test]
    fn refusal_logs_are_limited_per_minute() {
        let r = Refusals::default();
        let logged = (0..100)
            .filter(|_| r.note("health", "no credential"))
            .count();
        assert_eq!(logged as u64, Refusals::PER_MINUTE);
    }

    #[test]
    fn the_local_admin_key_is_made_once_private_and_matched_by_hash() {
        let dir = std::env::temp_dir().join(format!("entra-admin-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let key = LocalAdminKey::ensure(&dir).unwrap();
        let text = std::fs::read_to_string(&key.path).unwrap();
        assert_eq!(text.len(), 64);
        assert!(key.matches(&text) && !key.matches("guess"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
        }
        // A second start keeps the same key.
        let again = LocalAdminKey::ensure(&dir).unwrap();
        assert!(again.matches(&text));
        std::fs::remove_dir_all(&dir).ok();
    }
}
