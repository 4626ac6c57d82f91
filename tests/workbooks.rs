//! The workbooks page in a real browser: Debian's chromium driven by playwright-core
//! (`tests/browser/workbooks.mjs`, installed by `tests/run`) against the real binary.
//!
//! - On a `serve` whose store holds a week of a 300-user simulated tenant (and a sign-in whose
//!   app name is an HTML payload), configured with an API key: the page asks for the key and
//!   sends it in `x-api-key`, never in a URL; every workbook renders its tiles without error;
//!   the numbers are the JSON endpoints' numbers; a filter changes them; a tile's link opens
//!   the listing of exactly its records; the payload stays text; no console error, no request
//!   to another origin. Screenshots go to `target/workbooks/`.
//! - On a fresh `serve` with no configuration (the simulated tenant): `/` opens the page,
//!   which asks for nothing and shows the first collection's sign-ins as the JSON gives them.
//! - The page's HTTP surface: headers (CSP, no framing), unknown assets, no body echoed.

mod common;

#[path = "support/seeded_store.rs"]
mod seeded_store;

use chrono::{Duration, Utc};
use common::{Process, TempDir, free_port, repo_root, wait_until_up};
use shared::model::Category;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;
use shared::simulated::inventory::Inventory;
use shared::state::{PageRouting, SqliteState, StoredRow};
use std::path::PathBuf;

/// Runs the browser script in `mode` against `base`; panics with its output if it fails.
fn browse(base: &str, mode: &str, key: Option<&str>) -> String {
    let root = repo_root();
    let tools = root.join(".tools");
    assert!(
        tools.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in .tools/: run the tests with `bash tests/run`, which installs it"
    );
    let chromium = std::env::var("ENTRA_MONITOR_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: `bash tests/run` installs Debian's chromium (apt-get install chromium)"
    );
    let shots = root.join("target/workbooks");
    let out = std::process::Command::new("node")
        .arg(root.join("tests/browser/workbooks.mjs"))
        .env("BASE", base)
        .env("MODE", mode)
        .env("API_KEY", key.unwrap_or(""))
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .env("TOOLS", &tools)
        .output()
        .expect("node runs (install Node.js 20)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser check ({mode}) failed:\n{stdout}\n{stderr}"
    );
    stdout
}

const TENANT: &str = "5b6e1d2c-7a41-4c1e-9a55-0e3c2f7b9d10";
const HOSTILE_APP: &str = "<img src=x onerror=\"window.__pwned=1\">Payroll";

/// A week (and a day) of a 300-user tenant up to now, its inventory, and one sign-in whose app
/// name is markup.
fn seed(dir: &std::path::Path) {
    let store = SqliteState::open(&dir.join("data")).unwrap();
    let tenant = SimulatedTenant::new(26, 300);
    let end = Utc::now();
    let start = end - Duration::days(8);
    let raw = seeded_store::load(
        &store,
        TENANT,
        &tenant,
        &[
            Category::SignInLogs,
            Category::AuditLogs,
            Category::ProvisioningLogs,
        ],
        start,
        end,
    );
    let inventory = Inventory::generate(tenant.seed, &tenant.directory, end);
    seeded_store::sync(&store, TENANT, &inventory, end);
    let mut hostile = raw[&Category::SignInLogs]
        .iter()
        .rev()
        .find(|r| r["status"]["errorCode"] == 0)
        .unwrap()
        .clone();
    hostile["id"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
    hostile["appDisplayName"] = serde_json::json!(HOSTILE_APP);
    let row = normalise(Category::SignInLogs, TENANT, &hostile).unwrap();
    store
        .store_page(
            TENANT,
            Category::SignInLogs,
            &[StoredRow {
                id: row.id,
                time: row.time,
                columns: row.columns,
                raw: hostile,
            }],
            &PageRouting::embedded_only(),
            None,
            start,
            end,
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workbook_renders_the_endpoints_numbers_in_a_real_browser() {
    let dir = TempDir::new("workbooks");
    seed(dir.path());
    let key = "workbooks-test-key-0123456789abcdef";
    let keys = format!("browser={}", shared::auth::hash_key(key));
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_TENANT_ID", TENANT),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "00000000-0000-4000-8000-00000000c11e",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", "not-used-by-this-test"),
            // Collection fails at once (nothing listens there): the store stays as seeded.
            ("ENTRA_MONITOR_AUTHORITY_HOST", "http://127.0.0.1:9"),
            ("ENTRA_MONITOR_API_KEYS", &keys),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let out = browse(&base, "full", Some(key));
    assert!(out.contains("listing of"), "{out}");
    assert!(
        !process.logs().contains(key),
        "the key never appears in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_serve_opens_on_the_sign_ins_workbook() {
    let dir = TempDir::new("workbooks-first-run");
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(dir.path(), &["serve"], &[("ENTRA_MONITOR_LISTEN", &listen)]);
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    // Until the first collection of sign-ins has ended.
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let h = common::get_json(&client, &format!("{base}/api/health")).await;
        let done = h["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "collect-signins" && f["last_run"]["outcome"] == "succeeded");
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no collection: {}",
            process.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    browse(&base, "first-run", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let dir = TempDir::new("workbooks-http");
    let key = "workbooks-http-key-0123456789abcdef";
    let keys = format!("browser={}", shared::auth::hash_key(key));
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_API_KEYS", &keys),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/api/workbooks");
    let mut total = 0;
    for (path, kind) in [
        ("workbooks", "text/html"),
        ("workbooks/app.js", "text/javascript"),
        ("workbooks/app.css", "text/css"),
    ] {
        // Served without a credential (the page holds no data), with the policy.
        let r = client
            .get(format!("{base}/api/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind));
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = r.bytes().await.unwrap();
        total += body.len();
        // Nothing from another origin: no absolute URL in what the page loads.
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("https://") || path.ends_with(".js"),
            "{path} refers to another origin"
        );
    }
    assert!(total < 500 * 1024, "the page weighs {total} bytes");
    // The page's own script names no other origin but the SVG namespace.
    let js = std::fs::read_to_string(repo_root().join("functions/src/functions/workbooks/app.js"))
        .unwrap();
    let origins: Vec<&str> = js
        .match_indices("http")
        .map(|(i, _)| &js[i..(i + 30).min(js.len())])
        .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
        .collect();
    assert!(
        origins
            .iter()
            .all(|o| o.starts_with("http://www.w3.org/2000/svg")),
        "{origins:?}"
    );
    // An unknown asset, a path that climbs, a name that is markup: a JSON 404 naming the files.
    for asset in ["secrets.txt", "..%2Fstate.sqlite", "%3Cscript%3E"] {
        let r = client
            .get(format!("{base}/api/workbooks/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{asset}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        assert!(!r.text().await.unwrap().contains("<script>"));
    }
    // The data stays behind the credential.
    let r = client
        .get(format!("{base}/api/signins/breakdown?by=status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A page of another origin cannot read the data through this one.
    let r = client
        .get(format!("{base}/api/signins/breakdown?by=status"))
        .header("x-api-key", key)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    drop(process);
}
