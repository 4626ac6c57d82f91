//! Section 6: the workbooks page's first render. A store holding a week of a 300-user
//! simulated tenant's sign-ins, audits and provisioning events; `serve` (release) on it; then
//! Debian's chromium (driven by playwright-core, `tests/browser/workbooks.mjs` in its bench
//! mode) opens the Sign-ins workbook several times after one warming visit and times each from
//! navigation to every tile drawn.

#[path = "../../tests/support/seeded_store.rs"]
mod seeded_store;

use chrono::{Duration, Utc};
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use shared::state::SqliteState;
use std::path::Path;

const TENANT: &str = "5b6e1d2c-7a41-4c1e-9a55-0e3c2f7b9d10";

pub struct Render {
    pub runs_ms: Vec<u64>,
    pub page_bytes: u64,
    pub tiles: u64,
    pub sign_ins: u64,
}

impl Render {
    pub fn median_ms(&self) -> u64 {
        let mut v = self.runs_ms.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    }
}

fn browse(root: &Path, base: &str, runs: usize) -> serde_json::Value {
    let out = std::process::Command::new("node")
        .arg(root.join("tests/browser/workbooks.mjs"))
        .env("BASE", base)
        .env("MODE", "bench")
        .env("RUNS", runs.to_string())
        .env("SHOTS", root.join("target/workbooks-bench"))
        .env(
            "CHROMIUM",
            std::env::var("ENTRA_MONITOR_CHROMIUM").unwrap_or("/usr/bin/chromium".into()),
        )
        .env("TOOLS", root.join(".tools"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("the browser's figures")
}

pub async fn run(work: &Path, binary: &Path, runs: usize) -> Render {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = work.join("workbooks");
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir.join("data")).expect("a store");
    let tenant = SimulatedTenant::new(26, 300);
    let end = Utc::now();
    seeded_store::load(
        &store,
        TENANT,
        &tenant,
        &[
            Category::SignInLogs,
            Category::AuditLogs,
            Category::ProvisioningLogs,
        ],
        end - Duration::days(8),
        end,
    );
    drop(store);
    let (_child, base) = crate::endpoints::serve(&dir.join("data"), binary, TENANT).await;
    // Warm the serve with one visit.
    let warm = root.clone();
    let b = base.clone();
    tokio::task::spawn_blocking(move || browse(&warm, &b, 1))
        .await
        .expect("the warming visit");
    let figures = tokio::task::spawn_blocking(move || browse(&root, &base, runs))
        .await
        .expect("the measured visits");
    let n = |k: &str| figures[k].as_u64().unwrap_or(0);
    Render {
        runs_ms: figures["runs_ms"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
            .unwrap_or_default(),
        page_bytes: n("page_bytes"),
        tiles: n("tiles"),
        sign_ins: n("sign_ins"),
    }
}
