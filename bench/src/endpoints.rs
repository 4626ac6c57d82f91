//! Section 3, endpoint latency: an embedded store of generated sign-ins (30 days) with audit and
//! provisioning rows in proportion, written as `entra-monitor import` writes into an empty store
//! (rows first, the indexes built at the end; the rows are copies of normalised records, see
//! `data::Rows`); the real binary
//! (`serve`) answers each question endpoint repeatedly over HTTP. The same rows — the columns the
//! questions read — are written as NDJSON, loaded into DuckDB (the Python package) and asked the
//! same questions in DuckDB's SQL (`bench/duckdb_questions.py`); both answers' row counts are
//! compared.

use crate::data::Generator;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use shared::state::{SqliteState, StoredRow};
use std::io::Write;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

/// The tenant the store is written for (configured in `serve`, so no simulated tenant runs).
const TENANT: &str = "5e1c7b0a-0000-4000-8000-00000000be9c";

/// Columns the questions read, per table: what DuckDB gets.
fn exported(category: Category) -> &'static [&'static str] {
    match category {
        Category::SignInLogs => &[
            "Id",
            "TimeGenerated",
            "UserPrincipalName",
            "AppDisplayName",
            "AppId",
            "ResultType",
            "ResultDescription",
            "Location",
            "LocationDetails",
            "DeviceDetail",
            "IPAddress",
        ],
        Category::AuditLogs => &[
            "Id",
            "TimeGenerated",
            "OperationName",
            "TargetResources",
            "InitiatedBy",
            "CorrelationId",
        ],
        _ => &[
            "Id",
            "TimeGenerated",
            "SourceSystem",
            "TargetSystem",
            "ProvisioningAction",
            "SourceIdentity",
            "TargetIdentity",
            "ResultType",
        ],
    }
}

pub struct Built {
    pub sign_ins: u64,
    pub audits: u64,
    pub provisioning: u64,
    pub seconds: f64,
    pub store_mb: f64,
    pub user: String,
    pub app: String,
}

/// One NDJSON line of `columns`: nested values as JSON text, as DuckDB reads them.
fn write_line(out: &mut impl Write, columns: &[&str], row: &Map<String, Value>) {
    let _ = out.write_all(b"{");
    for (k, c) in columns.iter().enumerate() {
        if k > 0 {
            let _ = out.write_all(b",");
        }
        let _ = serde_json::to_writer(&mut *out, c);
        let _ = out.write_all(b":");
        let _ = match row.get(*c) {
            Some(v @ (Value::Object(_) | Value::Array(_))) => {
                serde_json::to_writer(&mut *out, &v.to_string())
            }
            Some(v) => serde_json::to_writer(&mut *out, v),
            None => serde_json::to_writer(&mut *out, &Value::Null),
        };
    }
    let _ = out.write_all(b"}\n");
}

/// mimalloc's `mi_option_purge_delay`: the 16th of `mi_option_e` in the mimalloc.h (v3) that
/// libmimalloc-sys 0.1.49 (pinned in Cargo.lock) builds; the crate names no constant for it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// While alive, mimalloc keeps freed memory instead of returning it to the OS 10 ms later (its
/// default). The store's rows are made and freed ten thousand at a time; the memory returned
/// was faulted back in, zeroed by the kernel, for the next ten thousand — a fifth of the
/// generating thread's time (perf), and the generating thread set the pace (the 1M-row store:
/// 67 s before, 56 s with this). Scoped to the store's build, so the pipeline (section 1) runs
/// with the allocator as the product has it.
struct KeepFreedMemory {
    before: std::ffi::c_long,
}

impl KeepFreedMemory {
    fn new() -> Self {
        // SAFETY: reads and sets one of mimalloc's options, which it reads each time it would
        // purge.
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
        Self { before }
    }
}

impl Drop for KeepFreedMemory {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, self.before) };
    }
}

/// Writes the store and the NDJSON files under `dir`.
pub fn build(dir: &Path, sign_ins: u64, tenant: &SimulatedTenant) -> Built {
    let _keep = KeepFreedMemory::new();
    let _ = std::fs::remove_dir_all(dir);
    let store = SqliteState::open(dir).expect("the store opens");
    let end = Utc::now() - Duration::hours(1);
    let start = end - Duration::days(30);
    let started = Instant::now();
    let mut built = Built {
        sign_ins,
        audits: sign_ins / 20,
        provisioning: sign_ins / 20,
        seconds: 0.0,
        store_mb: 0.0,
        user: String::new(),
        app: String::new(),
    };
    for (category, total, file) in [
        (Category::SignInLogs, built.sign_ins, "SigninLogs.ndjson"),
        (Category::AuditLogs, built.audits, "AuditLogs.ndjson"),
        (
            Category::ProvisioningLogs,
            built.provisioning,
            "AADProvisioningLogs.ndjson",
        ),
    ] {
        let generator = Generator::new(tenant, category, total, start, end);
        store
            .begin_bulk_load(category)
            .expect("the table's indexes are dropped");
        let copies = generator.rows(TENANT);
        if category == Category::SignInLogs {
            // The newest sign-in's user and app: inside the week the questions ask about,
            // so their answers have rows however few sign-ins are generated.
            let newest = generator.record(total.saturating_sub(1));
            built.user = newest["userPrincipalName"].as_str().unwrap_or("").into();
            built.app = newest["appDisplayName"].as_str().unwrap_or("").into();
        }
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(dir.join(file)).expect("the NDJSON file is created"),
        );
        // Two threads: this one makes the rows and writes the NDJSON; the other writes the
        // store (SQLite has one writer) as `entra-monitor import` does into an empty store:
        // ten thousand rows per transaction, the table's indexes built once at the end. The
        // rows written come back here to be freed: freeing 10,000 JSON maps took the writer a
        // quarter of its time.
        let (pages, receive) = std::sync::mpsc::sync_channel::<Vec<StoredRow>>(4);
        let (written, freed) = std::sync::mpsc::channel::<Vec<StoredRow>>();
        std::thread::scope(|scope| {
            let store = &store;
            scope.spawn(move || {
                for rows in receive {
                    store
                        .store_imported(TENANT, category, &rows, Utc::now())
                        .expect("the page is stored");
                    let _ = written.send(rows);
                }
            });
            let mut from = 0;
            while from < total {
                let to = (from + 10_000).min(total);
                let rows: Vec<StoredRow> = (from..to).filter_map(|i| copies.row(i)).collect();
                for r in &rows {
                    write_line(&mut out, exported(category), &r.columns);
                }
                if pages.send(rows).is_err() {
                    break;
                }
                from = to;
                freed.try_iter().for_each(drop);
            }
            drop(pages);
        });
        let _ = out.flush();
    }
    store.build_indexes().expect("the indexes are built");
    built.seconds = started.elapsed().as_secs_f64();
    built.store_mb = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("state"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len() as f64 / 1e6)
        .sum();
    built
}

pub struct Latency {
    pub question: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub rows: usize,
    pub duck_p50_ms: f64,
    pub duck_p95_ms: f64,
    pub duck_rows: usize,
    /// Whether both engines' answers hold the same rows (their identifying values, sorted).
    pub same_values: bool,
}

/// The values that identify each row of an endpoint's answer, as text, sorted — the ones
/// `duckdb_questions.py` (`key_values`) reads from DuckDB's rows.
fn key_values(question: &str, body: &Value) -> Vec<String> {
    let names: &[&str] = match question {
        "admin-access" => &["user", "granted", "through"],
        "app-users" => &["user", "sign_ins"],
        "password-resets" => &["day", "self_service", "by_admin"],
        "sign-in-pattern" => &["dimension", "key", "sign_ins"],
        "weekly-users" => &["day", "users", "sign_ins"],
        "sign-in-status" => &["code", "sign_ins"],
        "logs" => &["Id"],
        _ => &["id"],
    };
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: Vec<String> = body["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        // The endpoint lists every day of the range; DuckDB only the days with resets.
        .filter(|r| question != "password-resets" || r["self_service"] != 0 || r["by_admin"] != 0)
        .map(|r| {
            names
                .iter()
                .map(|n| text(&r[*n]))
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect();
    out.sort();
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Every question, as (name, path and query).
fn questions(built: &Built, range: &str) -> Vec<(String, String)> {
    let enc = |s: &str| {
        let mut u = reqwest::Url::parse("http://x/").expect("a URL");
        u.query_pairs_mut().append_pair("v", s);
        u.query()
            .unwrap_or("v=")
            .trim_start_matches("v=")
            .to_string()
    };
    let (user, app) = (enc(&built.user), enc(&built.app));
    [
        ("admin-access", format!("audit/admin-access?{range}&limit=100")),
        ("app-users", format!("signins/app-users?app={app}&{range}&limit=100")),
        ("password-resets", format!("audit/password-resets?{range}")),
        ("sign-in-pattern", format!("signins/pattern?user={user}&{range}")),
        ("weekly-users", format!("signins/users?{range}")),
        ("sign-in-status", format!("signins/status?{range}")),
        (
            "groups-created",
            format!("provisioning/groups-created?target=ServiceNow&{range}&limit=100"),
        ),
        (
            "users-removed",
            format!("provisioning/users-removed?target=Adobe%20Identity%20Management&{range}&limit=100"),
        ),
        (
            "users-created",
            format!("provisioning/users-created?source=Workday&target=Active%20Directory&{range}&limit=100"),
        ),
        ("logs", format!("logs/SignInLogs?user={user}&{range}&limit=100")),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), p))
    .collect()
}

/// `serve` (the `binary`) on the store in `dir`, configured for `tenant` with a token endpoint
/// nobody listens at: collection at start fails at once and the store stays as built. Answers
/// once `/api/health` does and the start-up runs have ended; its base URL (`http://...`).
pub async fn serve(dir: &Path, binary: &Path, tenant: &str) -> (tokio::process::Child, String) {
    let listen = format!("127.0.0.1:{}", crate::free_port());
    let child = tokio::process::Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENTRA_MONITOR_DATA_DIR", dir)
        .env("ENTRA_MONITOR_LISTEN", &listen)
        .env("ENTRA_MONITOR_TENANT_ID", tenant)
        .env(
            "ENTRA_MONITOR_CLIENT_ID",
            "00000000-0000-4000-8000-00000000c11e",
        )
        .env("ENTRA_MONITOR_CLIENT_SECRET", "not-used-by-the-benchmark")
        .env("ENTRA_MONITOR_AUTHORITY_HOST", "http://127.0.0.1:9")
        .env("ENTRA_MONITOR_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let up = Instant::now();
    while client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            up.elapsed() < StdDuration::from_secs(30),
            "serve did not start"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // Let the start-up runs (which fail for want of a token) finish.
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    (child, base)
}

pub async fn measure(
    dir: &Path,
    binary: &Path,
    python: &Path,
    built: &Built,
    reps: usize,
) -> (Vec<Latency>, f64) {
    let (mut child, base) = serve(dir, binary, TENANT).await;
    let base = format!("{base}/api");
    let client = reqwest::Client::new();
    let to = Utc::now();
    let from = to - Duration::days(7);
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let range = format!("from={}&to={}", iso(from), iso(to));
    let mut ours = Vec::new();
    for (name, path) in questions(built, &range) {
        let mut times = Vec::new();
        let mut rows = 0;
        let mut values = Vec::new();
        // One call first, not measured (as for DuckDB): it brings the question's pages of the
        // store into memory, as DuckDB's load brings all of them.
        let _ = client.get(format!("{base}/{path}")).send().await;
        for _ in 0..reps {
            let t = Instant::now();
            let response = client
                .get(format!("{base}/{path}"))
                .send()
                .await
                .expect("an answer");
            let status = response.status();
            let body: Value = response.json().await.expect("JSON");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(status.is_success(), "{name}: {status} {body}");
            rows = body["rows"].as_array().map(Vec::len).unwrap_or(0);
            values = key_values(&name, &body);
        }
        times.sort_by(f64::total_cmp);
        ours.push((name, times, rows, values));
    }
    let _ = child.kill().await;

    // DuckDB on the same rows.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb_questions.py");
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(dir)
        .arg(iso(from))
        .arg(iso(to))
        .arg(reps.to_string())
        .arg(json!({ "user": built.user, "app": built.app }).to_string())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "DuckDB: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let duck: Value = serde_json::from_slice(&output.stdout).expect("DuckDB's JSON");
    let latencies = ours
        .into_iter()
        .map(|(name, times, rows, values)| {
            let d = &duck["questions"][&name];
            let duck_values: Vec<String> = d["values"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Latency {
                same_values: values == duck_values,
                p50_ms: percentile(&times, 0.5),
                p95_ms: percentile(&times, 0.95),
                rows,
                duck_p50_ms: d["p50_ms"].as_f64().unwrap_or(f64::NAN),
                duck_p95_ms: d["p95_ms"].as_f64().unwrap_or(f64::NAN),
                duck_rows: d["rows"].as_u64().unwrap_or(0) as usize,
                question: name,
            }
        })
        .collect();
    (latencies, duck["load_s"].as_f64().unwrap_or(f64::NAN))
}

/// The DuckDB package's version.
pub fn duckdb_version(python: &Path) -> String {
    std::process::Command::new(python)
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
