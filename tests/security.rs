//! The attacks an attacker's probe made on the real binary, each refused now (issue 19):
//! a web page driving the default local `serve` (cross-site POSTs, DNS rebinding), a GET that
//! asks for a range without end, huge spans, unauthenticated bodies read before routing,
//! trickling and idle connections, tenant enumeration by a restricted key, and the Azure host
//! taking a missing API key for the function key.

mod common;

use common::{Process, TempDir, free_port, wait_until_up};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn serve(dir: &TempDir, env: &[(&str, &str)]) -> (Process, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("ENTRA_MONITOR_LISTEN", listen.as_str())];
    all.extend_from_slice(env);
    let process = Process::start(dir.path(), &["serve"], &all);
    (process, format!("http://{listen}"))
}

/// One raw HTTP/1.1 exchange: what a browser or a hostile client sends, byte for byte.
fn raw(base: &str, request: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn post_text_plain(host: &str, origin: Option<&str>) -> String {
    let body = r#"{"user":"someone@contoso.example","reason":"x"}"#;
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /api/risk/users/dismiss HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_cannot_drive_the_default_local_serve() {
    let dir = TempDir::new("sec-local");
    let (process, base) = serve(&dir, &[]);
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let host = base.trim_start_matches("http://");

    // A page on another site POSTs text/plain JSON (no preflight): refused by origin.
    let (status, text) = raw(&base, &post_text_plain(host, Some("http://evil.example")));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("CrossOriginRefused"), "{text}");
    // Without Origin (an old browser, a form): not JSON, and no credential.
    let (status, text) = raw(&base, &post_text_plain(host, None));
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("local-admin-key"), "{text}");
    // DNS rebinding: the page's own name in Host.
    let (status, text) = raw(&base, &post_text_plain("evil.example:7071", None));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("HostNotAllowed"), "{text}");
    let (status, _) = raw(
        &base,
        "GET /api/signins/status HTTP/1.1\r\nHost: rebind.evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);

    // The local admin key, created at start and readable by its owner only, lets a script in.
    let key = std::fs::read_to_string(dir.path().join("data/local-admin-key")).unwrap();
    let client = reqwest::Client::new();
    let url = format!("{base}/api/risk/users/dismiss");
    let body = json!({ "user": "nobody@contoso.example", "reason": "test" });
    let text_plain = client
        .post(&url)
        .header("x-api-key", key.trim())
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text_plain.status().as_u16(), 415);
    let admitted = client
        .post(&url)
        .header("x-api-key", key.trim())
        .json(&body)
        .send()
        .await
        .unwrap();
    // Let in: the answer is about the user, not about the caller.
    assert_eq!(
        admitted.status().as_u16(),
        404,
        "{:?}",
        admitted.text().await
    );
    let wrong = client
        .post(&url)
        .header("x-api-key", "not-the-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    // Reads from a script on the machine still need nothing (the README's curl examples).
    let status = client
        .get(format!("{base}/api/signins/status?last=1d"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 200);
    // HEAD works where GET does, without a body.
    let head = client
        .head(format!("{base}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    assert!(
        !process.logs().contains(key.trim()),
        "the local admin key was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_range_and_value_is_bounded_and_checked() {
    let dir = TempDir::new("sec-ranges");
    let (process, base) = serve(&dir, &[]);
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    for (query, parameter) in [
        // 148 MB of empty days until the year 9999, before.
        ("audit/password-resets?from=2026-11-05&to=9999-12-31", "to"),
        // A panic in the handler, before.
        ("audit/password-resets?last=99999999d", "last"),
        ("signins/status?last=9223372036854775807m", "last"),
        ("signins/users?from=-262143-01-01T00:00:00Z", "from"),
        // Silently 30 days, before.
        ("signins/status?last=100d", "last"),
        ("provisioning/events?status=failed", "status"),
        ("provisioning/events?action=explode", "action"),
        ("logs/SignInLogs?result=abc", "result"),
        ("signins/status?last=1d&last=2d", "last"),
        ("risk/detections?last=99999999d", "last"),
        ("risk/signins?to=9999-12-31", "to"),
    ] {
        let r = client
            .get(format!("{base}/api/{query}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body.contains(&format!("{parameter}:")),
            "{query}: the answer does not name {parameter}: {body}"
        );
    }
    // CSV keeps the figures over the whole answer, in a header.
    let csv = client
        .get(format!("{base}/api/signins/status?last=1d&format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    let summary: Value =
        serde_json::from_str(csv.headers()["x-summary"].to_str().unwrap()).unwrap();
    assert!(summary.get("success").is_some(), "{summary}");
    // The handler is still up and answering.
    let r = client
        .get(format!("{base}/api/audit/password-resets?last=7d"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["rows"].as_array().unwrap().len(), 8, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_not_read_before_the_request_is_let_in_and_slow_clients_are_cut_off() {
    let dir = TempDir::new("sec-conn");
    let (process, base) = serve(
        &dir,
        &[
            ("ENTRA_MONITOR_HTTP_HEADER_TIMEOUT_SECONDS", "2"),
            ("ENTRA_MONITOR_HTTP_MAX_CONNECTIONS", "3"),
        ],
    );
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let addr = base.trim_start_matches("http://").to_string();
    let host = addr.clone();

    // An unauthenticated POST announcing a megabyte: refused from its head, before any body.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /api/risk/users/dismiss HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // A GET with a body is refused without reading it.
    let (status, text) = raw(
        &base,
        &format!(
            "GET /api/health HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 400, "{text}");

    // A connection trickling its head, and idle ones, are closed after the header timeout.
    let mut trickle = TcpStream::connect(&addr).unwrap();
    trickle
        .write_all(b"GET /api/health HTTP/1.1\r\nHo")
        .unwrap();
    let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // The cap is 3: a fourth connection is served only once one of those is closed.
    let (status, _) = raw(
        &base,
        &format!("GET /api/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    for mut s in std::iter::once(trickle).chain(idle) {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        // Closed by the server: the read ends (with EOF, or a 408 and then EOF).
        let ended = s.read_to_end(&mut rest).is_ok();
        assert!(ended, "a slow or idle connection was kept open");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_azure_configured_keys_apply_beside_the_function_key() {
    let dir = TempDir::new("sec-azure");
    let port = free_port();
    let key = "azure-reader-key-0123456789";
    let hash = shared::auth::hash_key(key);
    let keys = format!("ops={hash}");
    let process = Process::start(
        dir.path(),
        &["azure"],
        &[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", &port.to_string()),
            ("ENTRA_MONITOR_API_KEYS", &keys),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    // The Functions host checked its function key and forwards the request: that alone no
    // longer reads every tenant when keys of ours are configured.
    let without = client
        .get(format!("{base}/api/signins/status?last=1d"))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status().as_u16(), 401);
    let with = client
        .get(format!("{base}/api/signins/status?last=1d"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status().as_u16(), 200);
    // The same through the invocation envelope (forwarding off).
    let envelope = json!({
        "Data": { "req": { "Url": "http://app.example/api/signins/status?last=1d", "Method": "GET",
                  "Query": {"last": "1d"}, "Headers": {}, "Params": {} } },
        "Metadata": {}
    });
    let answer: Value = client
        .post(format!("{base}/sign-in-status"))
        .json(&envelope)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["Outputs"]["res"]["statusCode"], 401, "{answer}");
}

/// A Graph that refuses every request as it does for a tenant without the licence.
async fn refusing_graph() -> String {
    use warp::Filter;
    let refuse = warp::any().map(|| {
        warp::reply::with_status(
            warp::reply::json(&json!({ "error": {
                "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "message": "Neither tenant is B2C or tenant doesn't have premium license"
            }})),
            warp::http::StatusCode::FORBIDDEN,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(refuse).incoming(listener).run());
    base
}

async fn health(client: &reqwest::Client, base: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = client.get(format!("{base}/api/health"));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_degraded_while_collection_fails_and_says_why_only_to_a_caller() {
    let dir = TempDir::new("sec-health");
    let key = "health-reader-key-0123456789";
    let keys = format!("ops={}", shared::auth::hash_key(key));
    // Graph is not there: every collection run fails.
    let graph = refusing_graph().await;
    let (process, base) = serve(
        &dir,
        &[
            ("ENTRA_MONITOR_SIMULATED_GRAPH_URL", &graph),
            ("ENTRA_MONITOR_API_KEYS", &keys),
            ("ENTRA_MONITOR_SCHEDULE_MONITOR_HEALTH", "*/2 * * * * *"),
        ],
    );
    let client = reqwest::Client::new();
    let start = std::time::Instant::now();
    let (status, body) = loop {
        let answer = match client.get(format!("{base}/api/health")).send().await {
            Ok(r) => Some((r.status().as_u16(), r.json::<Value>().await.unwrap())),
            Err(_) => None,
        };
        if let Some((503, body)) = answer {
            break (503, body);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "health never became degraded: {answer:?}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((status, body["status"].as_str()), (503, Some("degraded")));
    // Without a credential: no reasons, no file paths.
    assert!(body.get("reasons").is_none(), "{body}");
    assert!(
        !body.to_string().contains(dir.path().to_str().unwrap()),
        "{body}"
    );
    // With one: which function fails, and why.
    let (status, body) = health(&client, &base, Some(key)).await;
    assert_eq!(status, 503);
    let reasons = body["reasons"].to_string();
    assert!(reasons.contains("paused"), "{reasons}");
    // And the same in the tenant's alert stream: one pipeline alarm per paused category, with
    // its reason and what to do (the monitor runs every two seconds here).
    let start = std::time::Instant::now();
    let paused = loop {
        let r = client
            .get(format!("{base}/api/health/alerts?last=1d"))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        let paused: Vec<Value> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["alertType"] == "pipelineCategoryPaused")
            .cloned()
            .collect();
        if paused
            .iter()
            .any(|a| a["signal"] == "pipeline:paused:SignInLogs")
        {
            break paused;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no pipeline alarm in 60 s: {v}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let signal: Vec<&Value> = paused
        .iter()
        .filter(|a| a["signal"] == "pipeline:paused:SignInLogs")
        .collect();
    assert_eq!(signal.len(), 1, "raised once: {paused:?}");
    let summary = signal[0]["explanation"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("P1 or P2") && summary.contains("What to do"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_its_integrity_check_makes_health_degraded() {
    let dir = TempDir::new("sec-corrupt");
    // A real store with rows, then every page but the first (the schema) overwritten.
    common::run_ok(dir.path(), &["run", "collect-audit"], &[]);
    let file = dir.path().join("data/state.sqlite");
    // Move what the write-ahead log holds into the file, so its pages are the ones damaged.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 8 * 1024, "the store is too small to damage");
    for b in &mut bytes[4096..] {
        *b = 0x5a;
    }
    std::fs::write(&file, bytes).unwrap();
    let (process, base) = serve(
        &dir,
        &[("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "0 0 0 1 1 *")],
    );
    let client = reqwest::Client::new();
    let start = std::time::Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/api/health")).send().await {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            // Found at open, or by the integrity check that follows it.
            if status == 503 && body["reasons"].to_string().contains("state") {
                assert_eq!(status, 503);
                assert_eq!(body["status"], "degraded");
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the damage was never reported\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The disk fills up — here the process may write no file past 3 MB, as a full disk stops it —
/// so every collection fails and health says degraded, and why; room comes back and the next
/// scheduled run stores the window and health is ok again, without a restart.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_recovers_when_the_disk_has_room_again() {
    const LIMIT: u64 = 3 << 20;
    let dir = TempDir::new("sec-disk");
    let key = "health-reader-key-0123456789";
    let keys = format!("ops={}", shared::auth::hash_key(key));
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start_with(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", listen.as_str()),
            ("ENTRA_MONITOR_API_KEYS", keys.as_str()),
            // Every timer function soon again: any may have failed on the full disk.
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "*/2 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "*/3 * * * * *"),
            (
                "ENTRA_MONITOR_SCHEDULE_COLLECT_PROVISIONING",
                "*/3 * * * * *",
            ),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_RISK", "*/3 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_REPLAY_SPOOL", "*/3 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_RETENTION", "*/3 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_DETECT_RISKS", "*/3 * * * * *"),
            // The defaults a new user has: a day of 300 users is far more than 3 MB.
            ("ENTRA_MONITOR_SIMULATED_USERS", "300"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
        ],
        |command| {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only async-signal-safe calls are made.
            unsafe {
                command.pre_exec(|| {
                    // A write past the limit fails (EFBIG) instead of killing the process.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit {
                        rlim_cur: LIMIT,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let until = |deadline: u64| std::time::Instant::now() + Duration::from_secs(deadline);

    let deadline = until(120);
    let body = loop {
        let (status, body) = health(&client, &base, Some(key)).await;
        if status == 503 && body["reasons"].to_string().contains("collect-signins") {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "collection never failed on the full disk: {body}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["status"], "degraded", "{body}");

    // Room again: the limit goes.
    let open = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system call on a process this test started.
    let raised = unsafe {
        libc::prlimit(
            process.id() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &open,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(raised, 0, "{}", std::io::Error::last_os_error());

    let deadline = until(120);
    let body = loop {
        let (status, body) = health(&client, &base, Some(key)).await;
        let stored: i64 = body["collection"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["category"] == "SignInLogs")
            .filter_map(|c| c["stored_records"].as_i64())
            .sum();
        if status == 200 && body["status"] == "ok" && stored > 0 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "collection did not recover once the disk had room: {body}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        body.get("reasons")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{body}"
    );
}
