//! One helper for every integration test: start the real `entra-monitor` binary as a host
//! would, on a free port, in its own folder, and talk to it over HTTP like a client.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The binary under test, built by cargo for this test run.
pub const BINARY: &str = env!("CARGO_BIN_EXE_entra-monitor");

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("functions/ has a parent")
        .to_path_buf()
}

/// A folder of its own for one test, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "entra-monitor-test-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind port 0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A command for the binary with a clean environment: no inherited ENTRA_MONITOR_* or
/// platform variables, its working directory in `dir`.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.args(args).current_dir(dir).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("ENTRA_MONITOR_DATA_DIR", dir.join("data"));
    // A small simulated tenant and a short backfill keep each collection run quick; the
    // budget is raised so tests do not wait out Graph's 5 requests / 10 s.
    cmd.env("ENTRA_MONITOR_SIMULATED_USERS", "25");
    cmd.env("ENTRA_MONITOR_BACKFILL_HOURS", "2");
    cmd.env("ENTRA_MONITOR_SIMULATED_BUDGET", "1000");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the binary to completion.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("run entra-monitor")
}

/// Runs the binary and insists it succeeded, showing its stderr if not.
pub fn run_ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = run(dir, args, env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running host process whose output goes to files in its folder.
pub struct Process {
    child: Child,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Process {
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with(dir, args, env, |_| {})
    }

    /// Starts the binary with `configure` applied to its command first (limits, signals).
    pub fn start_with(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let stderr = dir.join("stderr.log");
        let stdout = dir.join("stdout.log");
        let mut command = command(dir, args, env);
        configure(&mut command);
        let child = command
            .stdout(Stdio::from(
                std::fs::File::create(&stdout).expect("stdout file"),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(&stderr).expect("stderr file"),
            ))
            .spawn()
            .expect("start entra-monitor");
        Self {
            child,
            stderr,
            stdout,
        }
    }

    /// Everything the process has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as a platform or a service manager would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers (any status), for at most 20 s.
pub async fn wait_until_up(url: &str, process: &Process) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if client.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{url} did not answer within 20 s; logs:\n{}",
        process.logs()
    );
}

/// Writes a file that is not a SQLite database where the state store lives, so every
/// function that needs state fails with the reason.
pub fn corrupt_state(dir: &Path) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("state.sqlite"), vec![b'x'; 8192]).unwrap();
}

/// GETs `url` and parses the JSON answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let resp = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    resp.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

// A local identity platform: the v2.0 token endpoint and a managed-identity endpoint, speaking
// the documented requests and answers (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use warp::Filter;

pub const CLIENT_ID: &str = "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
pub const SECRET: &str = "Qx7~correct-horse-battery-staple";
pub const MI_HEADER: &str = "mi-header-value-1234";

pub struct Identity {
    pub base: String,
    pub issued: Arc<AtomicUsize>,
}

/// The v2.0 token endpoint and a managed-identity endpoint.
pub async fn identity_platform(graph: String) -> Identity {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let expected_scope = format!("{graph}/.default");
    let token = warp::post()
        .and(warp::path!(String / "oauth2" / "v2.0" / "token"))
        .and(warp::header::exact_ignore_case("content-type", "application/x-www-form-urlencoded"))
        .and(warp::body::form::<BTreeMap<String, String>>())
        .map(move |_tenant: String, form: BTreeMap<String, String>| {
            let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("scope") == Some(&expected_scope);
            if !ok {
                return warp::reply::with_status(warp::reply::json(&json!({ "error": "invalid_request", "error_description": "AADSTS900144: The request body must contain the following parameter." })), warp::http::StatusCode::BAD_REQUEST);
            }
            if let Some(assertion) = form.get("client_assertion") {
                return match check_assertion(&form, assertion) {
                    Ok(()) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        warp::reply::with_status(warp::reply::json(&json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": "token-from-certificate" })), warp::http::StatusCode::OK)
                    }
                    Err(why) => warp::reply::with_status(
                        warp::reply::json(&json!({ "error": "invalid_client", "error_description": format!("AADSTS700027: Client assertion failed signature validation: {why}") })),
                        warp::http::StatusCode::UNAUTHORIZED,
                    ),
                };
            }
            if form.get("client_secret").map(String::as_str) != Some(SECRET) {
                return warp::reply::with_status(
                    warp::reply::json(&json!({
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0a1b\r\nCorrelation ID: 2c3d",
                        "error_codes": [7000215]
                    })),
                    warp::http::StatusCode::UNAUTHORIZED,
                );
            }
            counter.fetch_add(1, Ordering::SeqCst);
            warp::reply::with_status(warp::reply::json(&json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "token-from-secret" })), warp::http::StatusCode::OK)
        });
    let expected_resource = graph.clone();
    let managed = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::header::<String>("x-identity-header"))
        .and(warp::query::<BTreeMap<String, String>>())
        .map(move |header: String, query: BTreeMap<String, String>| {
            let ok = header == MI_HEADER && query.get("resource") == Some(&expected_resource) && query.get("api-version").map(String::as_str) == Some("2019-08-01");
            if !ok {
                return warp::reply::with_status(warp::reply::json(&json!({ "message": "bad request" })), warp::http::StatusCode::BAD_REQUEST);
            }
            let expires_on = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600).to_string();
            warp::reply::with_status(
                warp::reply::json(&json!({ "access_token": "token-from-identity", "expires_on": expires_on, "resource": expected_resource, "token_type": "Bearer" })),
                warp::http::StatusCode::OK,
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(token.or(managed)).incoming(listener).run());
    Identity { base, issued }
}

/// The test-only credential (tests/fixtures/credentials).
pub fn credential_fixture(name: &str) -> std::path::PathBuf {
    repo_root().join("tests/fixtures/credentials").join(name)
}

/// Checks a client assertion as the identity platform does: RS256 signature by the registered
/// certificate's key, `x5t` naming that certificate, issuer and subject the client id, the
/// token endpoint as audience, and a short lifetime.
fn check_assertion(form: &BTreeMap<String, String>, assertion: &str) -> Result<(), String> {
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err("wrong client_assertion_type".into());
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    let x5t = std::fs::read_to_string(credential_fixture("x5t.txt")).unwrap();
    if header.x5t.as_deref() != Some(x5t.trim()) {
        return Err(format!(
            "x5t {:?} is not the registered certificate",
            header.x5t
        ));
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(
        &std::fs::read(credential_fixture("public-key.pem")).unwrap(),
    )
    .map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
        .map_err(|e| e.to_string())?;
    let c = data.claims;
    let aud = c["aud"].as_str().unwrap_or_default();
    if c["iss"] != CLIENT_ID || c["sub"] != CLIENT_ID || !aud.ends_with("/oauth2/v2.0/token") {
        return Err(format!("claims {c}"));
    }
    if c["exp"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(c["iat"].as_u64().unwrap_or(0))
        > 600
    {
        return Err("lifetime over 10 minutes".into());
    }
    Ok(())
}

/// Every listed detection names records of one of `attacks` that warrants a detection of its
/// name: none comes from normal traffic, none is of a kind the attack does not raise.
pub fn assert_all_from_attacks(
    rows: &[serde_json::Value],
    attacks: &[shared::simulated::attacks::Attack],
) {
    for r in rows {
        let ids: Vec<&str> = r["record_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let kind = r["name"].as_str().and_then(|n| n.parse().ok());
        assert!(
            attacks.iter().any(|a| {
                kind.is_some_and(|k| a.kind.detection() == k || a.kind.also_warrants().contains(&k))
                    && a.record_ids.iter().any(|i| ids.contains(&i.as_str()))
            }),
            "a detection no attack warrants (normal traffic, or another kind's records): {r}"
        );
    }
}
