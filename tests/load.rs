//! A bounded load check (issue 19): many clients on cheap and expensive endpoints of a local
//! `serve` while collection runs on a five-second schedule. Nothing here is timed: it asserts
//! that every request is answered in full, that the collection runs scheduled during the load
//! ran and succeeded without falling far behind their schedule, and that the process's memory
//! comes back below a bound once the clients leave.

mod common;

use common::{Process, TempDir, free_port, wait_until_up};
use std::time::Duration;

const CLIENTS: usize = 24;
/// Requests each client makes once the load has lasted long enough for collection to run.
const AFTER_RUNS: usize = 3;
/// Memory the load may leave behind, over what the process held before it.
const LEFT_BEHIND_MB: u64 = 256;

const PATHS: [&str; 7] = [
    "/api/health",
    "/api/signins/status?last=7d",
    "/api/signins/users?last=7d",
    "/api/logs/SignInLogs?last=7d&limit=1000",
    "/api/audit/password-resets?last=30d",
    "/api/signins/app-users?app=Microsoft%20Teams&last=7d",
    "/api/risk/detections?last=3d",
];

/// The resident memory of a process, in MB, from /proc.
fn rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kb / 1024
}

/// The start times and outcomes of a function's runs, from the state database.
fn runs(dir: &std::path::Path, function: &str) -> Vec<(chrono::DateTime<chrono::Utc>, String)> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("data/state.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT started_at, outcome FROM function_runs WHERE function = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([function], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })
    .unwrap()
    .map(|r| {
        let (t, o) = r.unwrap();
        (
            chrono::DateTime::parse_from_rfc3339(&t).unwrap().to_utc(),
            o,
        )
    })
    .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_clients_while_collection_runs() {
    let dir = TempDir::new("load");
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", listen.as_str()),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "*/5 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "*/5 * * * * *"),
            // What a new user's serve holds: a day of 300 users.
            ("ENTRA_MONITOR_SIMULATED_USERS", "300"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    // The start-up collection (24 h of the simulated tenant) first.
    let start = std::time::Instant::now();
    while runs(dir.path(), "collect-signins").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no collection within 2 min:\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = rss_mb(process.id());
    let load_from = chrono::Utc::now();

    // Clients go on until three scheduled collections have started since the load began, then
    // make a few more requests each.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base, done) = (client.clone(), base.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut answered = 0usize;
            let mut after = 0usize;
            let mut i = c;
            while after < AFTER_RUNS && answered < 2_000 {
                let url = format!("{base}{}", PATHS[i % PATHS.len()]);
                i += 1;
                let resp = client
                    .get(&url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                let status = resp.status().as_u16();
                let body = resp
                    .bytes()
                    .await
                    .unwrap_or_else(|e| panic!("GET {url}: body cut: {e}"));
                assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
                answered += 1;
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    after += 1;
                }
            }
            answered
        }));
    }
    let mut peak = before;
    let watch_from = std::time::Instant::now();
    loop {
        peak = peak.max(rss_mb(process.id()));
        let during: Vec<_> = runs(dir.path(), "collect-signins")
            .into_iter()
            .filter(|(t, _)| *t >= load_from)
            .collect();
        if during.len() >= 3 {
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            break;
        }
        assert!(
            watch_from.elapsed() < Duration::from_secs(180),
            "fewer than 3 collections in 3 min of load: {during:?}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await.expect("a client failed");
    }
    let load_to = chrono::Utc::now();
    peak = peak.max(rss_mb(process.id()));

    // Every collection run during the load succeeded, none far behind the one before
    // (five-second schedule: a gap of 30 s means runs were held up or skipped).
    let during: Vec<_> = runs(dir.path(), "collect-signins")
        .into_iter()
        .filter(|(t, _)| *t >= load_from && *t <= load_to)
        .collect();
    assert!(during.len() >= 3, "{during:?}");
    assert!(
        during.iter().all(|(_, o)| o == "succeeded"),
        "collection failed under load: {during:?}"
    );
    for pair in during.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap <= chrono::Duration::seconds(30),
            "collection fell behind its schedule under load: {during:?}"
        );
    }
    assert!(
        runs(dir.path(), "collect-audit")
            .iter()
            .filter(|(t, _)| *t >= load_from && *t <= load_to)
            .all(|(_, o)| o == "succeeded")
    );

    // Memory comes back once the clients are gone.
    let bound = before + LEFT_BEHIND_MB;
    let settle = std::time::Instant::now();
    let mut now_mb = rss_mb(process.id());
    while now_mb > bound && settle.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        now_mb = rss_mb(process.id());
    }
    eprintln!(
        "load: {CLIENTS} clients, {answered} requests answered, {} collections; RSS {before} MB before, {peak} MB at peak, {now_mb} MB after",
        during.len()
    );
    assert!(
        now_mb <= bound,
        "RSS {now_mb} MB after the load (before {before} MB, peak {peak} MB)"
    );
}
