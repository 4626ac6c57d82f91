//! The local runner and the command line: `serve` runs the timer functions on their schedules
//! and serves `/api/...`, stops cleanly on SIGTERM; `run` runs one function once; `functions`
//! lists them.

mod common;

use common::{Process, TempDir, corrupt_state, free_port, get_json, run, run_ok, wait_until_up};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test]
async fn serve_runs_timers_on_schedule_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new("serve");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "*/1 * * * * *"),
            // The simulated users sign in 25 times less outside working hours and at weekends:
            // two hours on a Saturday afternoon held no non-interactive sign-in of 25 users.
            // Any 72 hours hold a weekday's working hours.
            ("ENTRA_MONITOR_BACKFILL_HOURS", "72"),
        ],
    );
    let health_url = format!("http://{listen}/api/health");
    wait_until_up(&health_url, &process).await;

    // Each occurrence is a new run: collect distinct invocation ids reported by /api/health.
    let client = reqwest::Client::new();
    let mut seen = BTreeSet::new();
    let start = Instant::now();
    let mut health = Value::Null;
    while seen.len() < 3 && start.elapsed() < Duration::from_secs(20) {
        health = get_json(&client, &health_url).await;
        let audit = health["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "collect-audit")
            .unwrap()
            .clone();
        if let Some(id) = audit["last_run"]["invocation_id"].as_str() {
            assert_eq!(audit["last_run"]["outcome"], "succeeded", "{audit}");
            seen.insert(id.to_string());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.len() >= 3,
        "collect-audit did not run every second: {seen:?}\n{}",
        process.logs()
    );
    assert_eq!(health["host"], "local");
    assert_eq!(health["source"], "simulated tenant");
    let functions = health["functions"].as_array().unwrap();
    assert_eq!(functions.len(), 51);
    let signins = functions
        .iter()
        .find(|f| f["name"] == "collect-signins")
        .unwrap();
    assert_eq!(signins["schedule"], "0 */5 * * * *");
    assert!(signins["next_run"].as_str().is_some());
    let route = functions.iter().find(|f| f["name"] == "health").unwrap();
    assert_eq!(route["route"], "/api/health");

    // The start-up runs collected every category from the simulated tenant into the store,
    // and health shows where each stands.
    let mut collection = Vec::new();
    let start = Instant::now();
    let categories = shared::model::Category::COLLECTED.len();
    let done =
        |c: &Vec<Value>| c.len() == categories && c.iter().all(|c| c["watermark"].is_string());
    while !done(&collection) && start.elapsed() < Duration::from_secs(30) {
        let h: Value = get_json(&client, &health_url).await;
        collection = h["collection"].as_array().unwrap().clone();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(collection.len(), categories, "{collection:#?}");
    for c in &collection {
        assert!(
            c["watermark"].is_string() && c["lag_seconds"].as_i64().unwrap() >= 0,
            "{c}"
        );
        assert!(c["last_error"].is_null(), "{c}");
    }
    let stored = |category: &str| {
        collection
            .iter()
            .find(|c| c["category"] == category)
            .unwrap()["stored_records"]
            .as_i64()
            .unwrap()
    };
    assert!(
        stored("NonInteractiveUserSignInLogs") > 0 && stored("ServicePrincipalSignInLogs") > 0,
        "{collection:#?}"
    );

    // The runs are in the log, each inside its invocation span.
    let logs = process.logs();
    assert!(
        logs.contains("function=\"collect-audit\"")
            && logs.contains("tenant simulated: AuditLogs: "),
        "{logs}"
    );

    // Unknown paths and wrong methods get JSON errors.
    let r = client
        .get(format!("http://{listen}/api/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client.delete(&health_url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");

    process.terminate();
    let status = process
        .wait_exit(Duration::from_secs(15))
        .expect("serve exits after SIGTERM");
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        process.logs()
    );
    assert!(process.logs().contains("stopped"));
    // And the port is released.
    assert!(std::net::TcpListener::bind(&listen).is_ok());
}

#[test]
fn run_executes_one_function_and_reports_failure_by_exit_code() {
    let dir = TempDir::new("run");
    let out = run_ok(dir.path(), &["run", "collect-provisioning"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("collect-provisioning: succeeded"),
        "{stdout}"
    );

    // The run is recorded: a second command sees it through the health function.
    let out = run(dir.path(), &["run", "health"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = health["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "collect-provisioning")
        .unwrap();
    assert_eq!(p["last_run"]["outcome"], "succeeded");

    let out = run(dir.path(), &["run", "collect-everything"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no function named \"collect-everything\"")
    );

    let broken = TempDir::new("run-broken");
    corrupt_state(broken.path());
    let out = run(broken.path(), &["run", "collect-signins"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("collect-signins failed") && stderr.contains("state.sqlite is unusable"),
        "{stderr}"
    );
}

#[test]
fn run_passes_parameters_to_an_http_function_and_names_what_is_wrong() {
    let dir = TempDir::new("run-params");
    // A day of provisioning (a couple of hundred events): two hours of a 25-user tenant can
    // hold none at all on an unlucky hour.
    let day = [("ENTRA_MONITOR_BACKFILL_HOURS", "24")];
    run_ok(dir.path(), &["run", "collect-provisioning"], &day);
    // A route parameter, a filter and the range, as name=value; the answer is the endpoint's.
    let logs = |limit: &str| -> Value {
        let limit = format!("limit={limit}");
        let args = [
            "run",
            "logs",
            "category=ProvisioningLogs",
            "last=1d",
            &limit,
        ];
        serde_json::from_slice(&run_ok(dir.path(), &args, &[]).stdout).unwrap()
    };
    let all = logs("1000");
    let total = all["rows"].as_array().unwrap().len();
    assert!(total > 0, "{all}");
    // A reader that stops early (`| head -c 10`) ends the output quietly, with no panic
    // (the answer is larger than a pipe's buffer, so the write meets the closed pipe).
    assert!(all.to_string().len() > 1 << 16);
    let mut child = common::command(
        dir.path(),
        &[
            "run",
            "logs",
            "category=ProvisioningLogs",
            "last=1d",
            "limit=1000",
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut head = [0u8; 10];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut head).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let answer = logs("1");
    assert_eq!(answer["question"], "logs");
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{answer}");
    assert!(rows.iter().all(|r| r["Type"] == "AADProvisioningLogs"));
    // The limit is what cut the answer: a cursor to the rest, exactly when there is a rest.
    assert_eq!(answer["next_cursor"].is_string(), total > 1, "{answer}");
    // A bad value is the endpoint's 400, exit 1; a malformed argument or a missing route
    // parameter is a usage error, exit 2.
    let out = run(dir.path(), &["run", "logs", "category=Nope"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("category"));
    for (args, says) in [
        (&["run", "logs"][..], "category: required"),
        (
            &["run", "app-users", "Outlook"],
            "\"Outlook\" is not name=value",
        ),
        (&["run", "retention", "x=1"], "takes no parameters"),
    ] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn serve_flags_win_over_the_environment() {
    let dir = TempDir::new("serve-flags");
    let listen = format!("127.0.0.1:{}", free_port());
    let elsewhere = dir.path().join("elsewhere");
    let process = Process::start(
        dir.path(),
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            elsewhere.to_str().unwrap(),
        ],
        &[("ENTRA_MONITOR_LISTEN", "127.0.0.1:1")],
    );
    wait_until_up(&format!("http://{listen}/api/health"), &process).await;
    assert!(elsewhere.join("state.sqlite").exists());
    assert!(!dir.path().join("data").join("state.sqlite").exists());
}

#[test]
fn functions_lists_schedules_and_routes_with_overrides_applied() {
    let dir = TempDir::new("list");
    let out = run(
        dir.path(),
        &["functions"],
        &[("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "0 */2 * * * *")],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .to_string()
    };
    assert!(
        line("collect-signins").contains("timer")
            && line("collect-signins").contains("0 */2 * * * *")
    );
    assert!(line("collect-audit").contains("0 */10 * * * *"));
    assert!(line("collect-provisioning").contains("0 */15 * * * *"));
    assert!(line("health").contains("GET /api/health"));
}

#[tokio::test]
async fn simulate_serves_the_graph_api_on_its_own() {
    let dir = TempDir::new("simulate");
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["simulate", "--listen", &listen, "--users", "40"],
        &[],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/"), &process).await;
    let client = reqwest::Client::new();
    let page = get_json(&client, &format!("{base}/beta/auditLogs/signIns?$filter=signInEventTypes/any(t:%20t%20eq%20'nonInteractiveUser')&$top=5")).await;
    let records = page["value"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{page}");
    assert!(
        records
            .iter()
            .all(|r| r["signInEventTypes"][0] == "nonInteractiveUser")
    );
    assert!(page["@odata.nextLink"].as_str().unwrap().starts_with(&base));
    let missing = client
        .get(format!("{base}/v1.0/auditLogs/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "ResourceNotFound");
    let bad = run(dir.path(), &["simulate", "--throttle", "2"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn switched_off_categories_are_not_collected() {
    let dir = TempDir::new("categories");
    let env = [("ENTRA_MONITOR_CATEGORIES", "SignInLogs,AuditLogs")];
    run_ok(dir.path(), &["run", "collect-signins"], &env);
    let out = run(dir.path(), &["run", "health"], &env);
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    let categories: Vec<&str> = health["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        ["SignInLogs"],
        "only the switched-on sign-in category is collected"
    );
}

#[test]
fn routes_reach_a_storage_folder_once_and_health_reports_each_destination() {
    let dir = TempDir::new("routes");
    let archive = dir.path().join("archive");
    let archive_text = archive.display().to_string();
    let env = [
        ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "storage,embedded"),
        ("ENTRA_MONITOR_STORAGE_FOLDER", archive_text.as_str()),
        // A whole day: audit events whatever the time of day.
        ("ENTRA_MONITOR_BACKFILL_HOURS", "24"),
    ];
    let lines = || -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![archive.join("insights-logs-auditlogs")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    assert_eq!(e.file_name(), "PT1H.json");
                    let p = e.path().display().to_string();
                    assert!(p.contains("/tenantId=") && p.contains("/m=00/"), "{p}");
                    out.extend(
                        std::fs::read_to_string(e.path())
                            .unwrap()
                            .lines()
                            .map(String::from),
                    );
                }
            }
        }
        out
    };
    run_ok(dir.path(), &["run", "collect-audit"], &env);
    let first = lines();
    assert!(!first.is_empty(), "audit records archived");
    let record: Value = serde_json::from_str(&first[0]).unwrap();
    assert_eq!(record["category"], "AuditLogs");
    assert!(record["properties"]["id"].is_string());
    // A second run re-reads its overlap: not one line more.
    run_ok(dir.path(), &["run", "collect-audit"], &env);
    assert_eq!(lines().len(), first.len());

    let out = run_ok(dir.path(), &["run", "health"], &env);
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    let routes = health["destinations"]["routes"].as_array().unwrap();
    let storage = routes
        .iter()
        .find(|d| d["destination"] == "storage")
        .unwrap();
    assert_eq!(storage["categories"], serde_json::json!(["AuditLogs"]));
    assert_eq!(storage["records_sent"], first.len() as i64);
    assert_eq!(storage["spooled_batches"], 0);
    assert!(storage["last_success"].is_string() && storage["last_error"].is_null());
    let embedded = routes
        .iter()
        .find(|d| d["destination"] == "embedded")
        .unwrap();
    assert_eq!(embedded["retention_days"], 30);

    let out = run_ok(dir.path(), &["run", "replay-spool"], &env);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 batches left in the spool"));
    let out = run_ok(dir.path(), &["run", "retention"], &env);
    assert!(String::from_utf8_lossy(&out.stdout).contains("rows older than 30 days deleted"));

    // A route to a destination without settings is refused at start, naming what to set.
    let out = run(
        dir.path(),
        &["run", "collect-audit"],
        &[("ENTRA_MONITOR_ROUTES_AUDITLOGS", "event-hubs")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ENTRA_MONITOR_ROUTES_AUDITLOGS: routes AuditLogs to event-hubs, which is not configured; set ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING"),
        "{stderr}"
    );
}
