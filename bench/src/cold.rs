//! Section 4, cold start: from exec of the binary (`serve`, a fresh data folder, the default
//! configuration) to the first answered `/api/health`; and the binary's size.

use std::path::Path;
use std::time::{Duration, Instant};

pub struct Cold {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
    pub binary_mb: f64,
}

pub async fn run(work: &Path, binary: &Path, runs: usize) -> Cold {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let mut times = Vec::new();
    for i in 0..runs {
        let dir = work.join(format!("cold-{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        let port = crate::free_port();
        let url = format!("http://127.0.0.1:{port}/api/health");
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ENTRA_MONITOR_DATA_DIR", &dir)
            .env("ENTRA_MONITOR_LISTEN", format!("127.0.0.1:{port}"))
            .env("ENTRA_MONITOR_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts");
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not answer"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let _ = child.kill().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    times.sort_by(f64::total_cmp);
    Cold {
        median_ms: times[times.len() / 2],
        min_ms: times[0],
        max_ms: times[times.len() - 1],
        runs,
        binary_mb: std::fs::metadata(binary)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0),
    }
}
