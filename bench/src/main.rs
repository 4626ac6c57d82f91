//! `entra-monitor-bench`: measures the performance bars the same way every time and prints one
//! table (Markdown), also written with the machine's description to `--out`. Run it through
//! `bash bench/run`, which builds the release binaries and installs DuckDB first.

mod cold;
mod data;
mod endpoints;
mod import;
mod memory;
mod pipeline;
mod workbooks;

use clap::Parser;

/// mimalloc: the collectors allocate and free many small JSON values; glibc's allocator spent
/// half the pipeline's time in malloc/free (measured with `bench/run`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use shared::simulated::SimulatedTenant;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "entra-monitor-bench",
    about = "Benchmarks: pipeline throughput, memory, endpoint latency against DuckDB, cold start, import"
)]
struct Args {
    /// The entra-monitor binary to measure (a release build).
    #[arg(long)]
    binary: PathBuf,
    /// A Python with the duckdb package.
    #[arg(long)]
    python: PathBuf,
    /// Where the results (table and machine) are written.
    #[arg(long)]
    out: PathBuf,
    /// A folder for the stores the benchmark writes (emptied as it goes).
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// Sign-ins through the pipeline (section 1).
    #[arg(long, default_value_t = 1_000_000)]
    pipeline_records: u64,
    /// Sign-ins backfilled over HTTP (section 2).
    #[arg(long, default_value_t = 1_000_000)]
    memory_records: u64,
    /// Sign-ins in the store the endpoints answer from (section 3).
    #[arg(long, default_value_t = 5_000_000)]
    store_sign_ins: u64,
    /// Calls of each question (section 3).
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Cold starts (section 4).
    #[arg(long, default_value_t = 20)]
    cold_runs: usize,
    /// Records imported from a file (section 5): a hundred thousand (about 15 s) keeps the
    /// whole run at about 20 minutes on 2 cores; `--import-records 1000000` for a million.
    #[arg(long, default_value_t = 100_000)]
    import_records: u64,
    /// Visits of the workbooks page measured (section 6).
    #[arg(long, default_value_t = 5)]
    page_runs: usize,
    /// Only these sections (1 pipeline, 2 memory, 3 endpoints, 4 cold start, 5 import, 6 the
    /// workbooks page), e.g. `1,4`.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 3, 4, 5, 6])]
    sections: Vec<u8>,
}

/// A loopback port nobody listens on (for a `serve` the benchmark starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a loopback port")
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem_gb:.0} GiB, Linux {}, {rustc}",
        kernel.trim()
    )
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let _ = std::fs::create_dir_all(&a.work);
    let work = std::fs::canonicalize(&a.work).unwrap_or(a.work.clone());
    let binary = std::fs::canonicalize(&a.binary).unwrap_or(a.binary.clone());
    let tenant = SimulatedTenant::new(11, 5000);
    let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mut t = String::new();
    let _ = writeln!(t, "Measured {when} on: {}\n", machine());
    let log = |s: &str| eprintln!("bench: {s}");

    let run = |n: u8| a.sections.contains(&n);
    if run(1) {
        log(&format!("1/6 pipeline: {} sign-ins", a.pipeline_records));
        let p = pipeline::run(&work, a.pipeline_records, &tenant);
        let (pr, pmb) = p.rate(p.parse);
        let (qr, qmb) = p.rate(p.pipeline);
        let ratio = qr / pr;
        let _ = writeln!(
            t,
            "### 1. Collect pipeline throughput ({} sign-ins, {:.0} MB of Graph pages)\n",
            p.records,
            p.bytes as f64 / 1e6
        );
        let _ = writeln!(t, "| | records/s | MB/s |\n|---|---:|---:|");
        let _ = writeln!(
            t,
            "| parse only (`serde_json::Value`) | {pr:.0} | {pmb:.1} |"
        );
        let _ = writeln!(
            t,
            "| pipeline (parse, normalise, dedupe, embedded write, Storage encoding) | {qr:.0} | {qmb:.1} |"
        );
        let _ = writeln!(
            t,
            "| ratio pipeline / parse | {ratio:.2} | target ≥ 0.5: {} |\n",
            met(ratio >= 0.5)
        );
    }
    if run(2) {
        log(&format!(
            "2/6 memory: {} sign-ins over HTTP",
            a.memory_records
        ));
        let marks: Vec<u64> = [100_000, 500_000, 1_000_000]
            .into_iter()
            .filter(|m| *m <= a.memory_records)
            .chain(std::iter::once(a.memory_records))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let m = memory::run(&work, &binary, a.memory_records, &tenant, &marks).await;
        let _ = writeln!(
            t,
            "### 2. Memory: peak RSS of `run collect-signins` backfilling {} sign-ins over HTTP ({} stored, {:.0} s)\n",
            a.memory_records, m.stored, m.seconds
        );
        let _ = writeln!(t, "| records served | peak RSS (MB) |\n|---:|---:|");
        for (n, mb) in &m.marks {
            let _ = writeln!(t, "| {n} | {mb:.1} |");
        }
        let first = m.marks.first().map(|x| x.1).unwrap_or(0.0);
        let flat = m.peak_mb <= first * 1.25 + 5.0;
        let _ = writeln!(
            t,
            "| peak | {:.1} (target: flat and < 100: {}) |\n",
            m.peak_mb,
            met(flat && m.peak_mb < 100.0)
        );
    }
    if run(3) {
        log(&format!(
            "3/6 endpoints: building a store of {} sign-ins",
            a.store_sign_ins
        ));
        let dir = work.join("endpoints");
        let built = endpoints::build(&dir, a.store_sign_ins, &tenant);
        log(&format!(
            "3/6 endpoints: built in {:.0} s; asking each question {} times",
            built.seconds, a.reps
        ));
        let (latencies, duck_load) =
            endpoints::measure(&dir, &binary, &a.python, &built, a.reps).await;
        let _ = writeln!(
            t,
            "### 3. Endpoint latency ({} sign-ins over 30 days, {} audit, {} provisioning rows; store {:.0} MB written in {:.0} s; questions over the last 7 days; {} calls each after one not measured; DuckDB {} in memory, loaded in {:.0} s)\n",
            built.sign_ins,
            built.audits,
            built.provisioning,
            built.store_mb,
            built.seconds,
            a.reps,
            endpoints::duckdb_version(&a.python),
            duck_load
        );
        let _ = writeln!(
            t,
            "| question | p50 ms | p95 ms | DuckDB p50 | DuckDB p95 | p95 ratio | rows (ours / DuckDB) | p95 ≤ DuckDB | same rows |\n|---|---:|---:|---:|---:|---:|---:|---|---|"
        );
        for l in &latencies {
            let _ = writeln!(
                t,
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} / {} | {} | {} |",
                l.question,
                l.p50_ms,
                l.p95_ms,
                l.duck_p50_ms,
                l.duck_p95_ms,
                l.p95_ms / l.duck_p95_ms,
                l.rows,
                l.duck_rows,
                met(l.p95_ms <= l.duck_p95_ms),
                if l.same_values { "yes" } else { "NO" }
            );
        }
        let _ = writeln!(t);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if run(4) {
        log(&format!("4/6 cold start: {} runs", a.cold_runs));
        let c = cold::run(&work, &binary, a.cold_runs).await;
        let _ = writeln!(
            t,
            "### 4. Cold start: exec of `serve` to the first answered `/api/health` ({} runs)\n",
            c.runs
        );
        let _ = writeln!(
            t,
            "| median ms | min | max | target < 50 ms | release binary |\n|---:|---:|---:|---|---:|"
        );
        let _ = writeln!(
            t,
            "| {:.1} | {:.1} | {:.1} | {} | {:.1} MB |",
            c.median_ms,
            c.min_ms,
            c.max_ms,
            met(c.median_ms < 50.0),
            c.binary_mb
        );
    }
    if run(5) {
        log(&format!(
            "5/6 import: {} sign-ins from a file",
            a.import_records
        ));
        let i = import::run(&work, &binary, a.import_records, &tenant).await;
        let _ = writeln!(
            t,
            "\n### 5. Import: `entra-monitor import` of {} sign-ins as diagnostic-settings records, one per line ({:.0} MB), into a fresh store, detections included\n",
            i.records,
            i.bytes as f64 / 1e6
        );
        let _ = writeln!(
            t,
            "| seconds | records/s | MB/s | peak RSS (MB) |\n|---:|---:|---:|---:|"
        );
        let _ = writeln!(
            t,
            "| {:.1} | {:.0} | {:.1} | {:.1} |\n\n_The command's own summary: {}_",
            i.seconds,
            i.records as f64 / i.seconds,
            i.bytes as f64 / 1e6 / i.seconds,
            i.peak_mb,
            i.summary
        );
    }
    if run(6) {
        log(&format!("6/6 workbooks page: {} visits", a.page_runs));
        let w = workbooks::run(&work, &binary, a.page_runs).await;
        let median = w.median_ms();
        let _ = writeln!(
            t,
            "\n### 6. Workbooks page: first render of the Sign-ins workbook over a week of a 300-user tenant ({} sign-ins, {} tiles), Debian chromium headless, after one warming visit\n",
            w.sign_ins, w.tiles
        );
        let _ = writeln!(
            t,
            "| visits (ms) | median (ms) | page and assets (bytes) |\n|---|---:|---:|"
        );
        let _ = writeln!(
            t,
            "| {:?} | {median} (target < 1000: {}) | {} (target < 500 KB: {}) |",
            w.runs_ms,
            met(median < 1000),
            w.page_bytes,
            met(w.page_bytes < 500 * 1024)
        );
    }
    println!("{t}");
    if let Some(parent) = a.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(&a.out, format!("# Benchmark results\n\n{t}")) {
        eprintln!("bench: cannot write {}: {e}", a.out.display());
        std::process::exit(1);
    }
    log(&format!("written to {}", a.out.display()));
}
