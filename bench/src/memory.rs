//! Section 2, memory on a large backfill: the real binary (`entra-monitor run collect-signins`) reads
//! generated sign-ins from a page server over HTTP — the Graph list protocol: `$filter` on the
//! time (`ge`/`le`), `$top`, `@odata.nextLink` — and stores them; its peak resident memory
//! (`VmHWM`) is sampled as the records are served.

use crate::data::Generator;
use chrono::{DateTime, Duration, Utc};
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use warp::Filter;

pub struct Memory {
    /// (records served, peak RSS in MB at that moment).
    pub marks: Vec<(u64, f64)>,
    pub peak_mb: f64,
    pub stored: u64,
    pub seconds: f64,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The `[ge, le]` times of a `$filter`.
fn window(filter: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let words: Vec<&str> = filter.split_whitespace().collect();
    let after = |op: &str| {
        words
            .windows(2)
            .find(|w| w[0] == op)
            .and_then(|w| parse_time(w[1]))
    };
    (after("ge"), after("le"))
}

/// Serves the generator's records as Graph pages; counts what it served.
async fn page_server(generator: Arc<Generator>, served: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let base_for_links = base.clone();
    let route = warp::get()
        .and(warp::path::full())
        .and(warp::query::<HashMap<String, String>>())
        .map(
            move |path: warp::path::FullPath, q: HashMap<String, String>| {
                let filter = q.get("$filter").cloned().unwrap_or_default();
                // Only interactive sign-ins are generated.
                let ours = path.as_str().ends_with("auditLogs/signIns")
                    && filter.contains("interactiveUser")
                    && !filter.contains("nonInteractiveUser");
                let (from, to) = window(&filter);
                let (mut first, last) = if ours {
                    (
                        from.map(|t| generator.index_at(t)).unwrap_or(0),
                        to.map(|t| generator.index_at(t + Duration::milliseconds(1)))
                            .unwrap_or(generator.total),
                    )
                } else {
                    (0, 0)
                };
                if let Some(skip) = q.get("$skiptoken").and_then(|s| s.parse::<u64>().ok()) {
                    first = skip;
                }
                let top: u64 = q.get("$top").and_then(|t| t.parse().ok()).unwrap_or(1000);
                let end = (first + top).min(last);
                let next = (end < last).then(|| {
                    let mut params: Vec<(String, String)> = q
                        .iter()
                        .filter(|(k, _)| *k != "$skiptoken")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    params.push(("$skiptoken".into(), end.to_string()));
                    format!(
                        "{base_for_links}{}?{}",
                        path.as_str(),
                        serde_urlencoded_pairs(&params)
                    )
                });
                let body = if first < end {
                    served.fetch_add(end - first, Ordering::SeqCst);
                    generator.page(first, end, next)
                } else {
                    generator.page(0, 0, None)
                };
                warp::http::Response::builder()
                    .header("content-type", "application/json")
                    .body(body)
                    .unwrap_or_default()
            },
        );
    tokio::spawn(warp::serve(route).incoming(listener).run());
    base
}

fn serde_urlencoded_pairs(params: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a URL");
    url.query_pairs_mut().extend_pairs(params);
    url.query().unwrap_or_default().to_string()
}

/// The process's peak resident memory (`VmHWM`), in MB.
pub fn peak_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(
    work: &Path,
    binary: &Path,
    records: u64,
    tenant: &SimulatedTenant,
    marks: &[u64],
) -> Memory {
    let now = Utc::now();
    // The records fall within the first run's backfill (24 h, read up to 2 minutes ago).
    let generator = Arc::new(Generator::new(
        tenant,
        Category::SignInLogs,
        records,
        now - Duration::hours(23),
        now - Duration::minutes(10),
    ));
    let served = Arc::new(AtomicU64::new(0));
    let base = page_server(generator, served.clone()).await;
    let data = work.join("memory");
    let _ = std::fs::remove_dir_all(&data);
    let data_text = data.display().to_string();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .args(["run", "collect-signins"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENTRA_MONITOR_DATA_DIR", &data_text)
        .env("ENTRA_MONITOR_SIMULATED_GRAPH_URL", &base)
        .env("ENTRA_MONITOR_SIMULATED_BUDGET", "100000")
        .env("ENTRA_MONITOR_CATEGORIES", "SignInLogs")
        .env("ENTRA_MONITOR_BACKFILL_HOURS", "24")
        .env("ENTRA_MONITOR_RUN_BUDGET_SECONDS", "3600")
        .env("ENTRA_MONITOR_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id().unwrap_or(0);
    let mut out = Memory {
        marks: Vec::new(),
        peak_mb: 0.0,
        stored: 0,
        seconds: 0.0,
    };
    let mut pending: Vec<u64> = marks.to_vec();
    loop {
        if let Some(mb) = peak_mb(pid) {
            out.peak_mb = out.peak_mb.max(mb);
        }
        let n = served.load(Ordering::SeqCst);
        while pending.first().is_some_and(|m| n >= *m) {
            out.marks.push((pending.remove(0), out.peak_mb));
        }
        if let Ok(Some(status)) = child.try_wait() {
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut err).await;
                }
                panic!("the collector failed ({status}): {err}");
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    out.seconds = started.elapsed().as_secs_f64();
    let store = shared::state::SqliteState::open(&data).expect("the store opens");
    out.stored = store
        .record_counts_all()
        .expect("counts")
        .values()
        .sum::<i64>() as u64;
    let _ = std::fs::remove_dir_all(&data);
    out
}
