//! Section 5, import: a file of diagnostic-settings records (one per line, as Storage writes
//! `insights-logs-signinlogs`) generated from the simulated tenant, imported by `entra-monitor
//! import` into a fresh store; wall time from exec to exit (detections included), the rate, and
//! the peak resident memory. Writing the file is not timed.

use crate::data::Generator;
use chrono::{Duration, Utc};
use serde_json::json;
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub struct Import {
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub peak_mb: f64,
    /// The command's own summary line (files, records, MB, rate).
    pub summary: String,
}

pub async fn run(work: &Path, binary: &Path, records: u64, tenant: &SimulatedTenant) -> Import {
    let dir = work.join("import");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the import folder");
    let file = dir.join("PT1H.json");
    let now = Utc::now();
    let generator = Generator::new(
        tenant,
        Category::SignInLogs,
        records,
        now - Duration::days(7),
        now,
    );
    let key = tenant.directory.tenant_id.clone();
    {
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&file).expect("the import file"),
        );
        for i in 0..records {
            let record = generator.record(i);
            let line = json!({
                "time": record["createdDateTime"],
                "resourceId": format!("/tenants/{key}/providers/Microsoft.aadiam"),
                "operationName": "Sign-in activity",
                "category": "SignInLogs",
                "tenantId": key,
                "properties": record,
            });
            serde_json::to_writer(&mut out, &line).expect("the import file is written");
            out.write_all(b"\n").expect("the import file is written");
        }
        out.flush().expect("the import file is written");
    }
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let child = tokio::process::Command::new(binary)
        .arg("import")
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENTRA_MONITOR_DATA_DIR", dir.join("data"))
        .env("ENTRA_MONITOR_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("import starts");
    let pid = child.id().expect("a pid");
    let mut peak = 0.0f64;
    let waiting = child.wait_with_output();
    tokio::pin!(waiting);
    let output = loop {
        tokio::select! {
            out = &mut waiting => break out.expect("import runs"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                if let Some(mb) = crate::memory::peak_mb(pid) {
                    peak = peak.max(mb);
                }
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "import failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new = format!("SignInLogs: {records} read, {records} new");
    assert!(stdout.contains(&new), "not every record imported: {stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.contains(" file(s), "))
        .unwrap_or_default()
        .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    Import {
        records,
        bytes,
        seconds,
        peak_mb: peak,
        summary,
    }
}
