//! `entra-monitor import`: loads log files into the embedded store (see [`shared::import`]),
//! prints what each file held, then runs the risk detections over what was imported.
//!
//! Exit codes: 0 every record imported, 1 some records (or files) were not, 2 bad usage (an
//! unknown option value, a missing path, records that need `--tenant` or `--category`).

use crate::app::App;
use crate::functions::detect_risks::publish_risk;
use shared::import::read::Input;
use shared::import::{FileReport, Format, Importer, LISTED, Options, Progress, Spans};
use shared::model::{Category, TenantId};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What the command line gave.
pub struct Args {
    pub paths: Vec<String>,
    pub tenant: Option<String>,
    pub format: Option<String>,
    pub category: Option<String>,
}

fn usage(message: String) -> ExitCode {
    eprintln!("entra-monitor import: {message}");
    ExitCode::from(2)
}

pub async fn run(app: &App, args: Args) -> ExitCode {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    let (inputs, skipped) = match shared::import::read::expand(&args.paths) {
        Ok(e) => (e.inputs, e.skipped),
        Err(e) => return usage(e),
    };
    if inputs.is_empty() {
        return usage(format!(
            "no log export among the {} file(s) given ({}): folders are read for .json, .jsonl, .ndjson, .csv and .gz files; name a file to read it whatever its name",
            skipped.len(),
            names(&skipped)
        ));
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return usage("standard input (-) can be read once".into());
    }
    let store = match app.state() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("entra-monitor import: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = app.now();
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .sum();
    let started = Instant::now();
    // SQLite and file reading off the async threads.
    let worker = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            let mut bar = Bar::new(total);
            let mut importer = Importer::new(&store, options, now);
            let mut reports = Vec::new();
            let mut imported = Ok(());
            for input in &inputs {
                let name = input.name();
                match importer.import(input, &mut |p| bar.show(&name, p)) {
                    Ok(report) => {
                        bar.file_done(report.bytes);
                        reports.push(report);
                    }
                    Err(e) => {
                        imported = Err(e);
                        break;
                    }
                }
            }
            bar.clear();
            // Tables that were empty got their rows first; their indexes are built now,
            // also when the store failed half way (what was written is kept).
            if bar.on && importer.indexes_pending() {
                eprintln!("entra-monitor import: building the tables' indexes");
            }
            let built = importer.finish();
            imported?;
            built?;
            Ok::<_, shared::state::StateError>((reports, importer.spans))
        })
    };
    let (reports, spans) = match worker.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("entra-monitor import: the state store failed: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("entra-monitor import: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_summary(
        &skipped,
        &reports,
        &spans,
        started.elapsed(),
        app.config().destinations.retention_days,
        now,
    );
    detections(app, &spans).await;
    if reports.iter().any(|r| r.needs_option) {
        ExitCode::from(2)
    } else if reports.iter().all(FileReport::clean) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What the import did: files passed over, each file's summary, the totals and rate, and a
/// note when records are older than the retention.
fn print_summary(
    skipped: &[std::path::PathBuf],
    reports: &[FileReport],
    spans: &Spans,
    elapsed: std::time::Duration,
    retention_days: u32,
    now: chrono::DateTime<chrono::Utc>,
) {
    let mut out = std::io::stdout().lock();
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "note: {} file(s) in the folders are not log exports by their name and were passed over: {} (name a file to read it)",
            skipped.len(),
            names(skipped)
        );
    }
    for r in reports {
        let _ = write!(out, "{}", summary(r));
    }
    let records: u64 = reports.iter().map(FileReport::records).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let secs = elapsed.as_secs_f64().max(1e-6);
    let _ = writeln!(
        out,
        "{} file(s), {records} records, {:.1} MB in {:.1} s ({:.0} records/s, {:.1} MB/s)",
        reports.len(),
        bytes as f64 / 1e6,
        secs,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    let oldest = spans.values().map(|s| s.0).min();
    if let Some(oldest) = oldest
        && oldest < now - chrono::Duration::days(retention_days as i64)
    {
        let _ = writeln!(
            out,
            "note: records go back to {}, before the retention of {retention_days} days: the endpoints answer only within it, and the retention function deletes older rows at its next run; set ENTRA_MONITOR_RETENTION_DAYS (up to 3650) to keep them",
            oldest.format("%Y-%m-%d")
        );
    }
}

fn options(args: &Args) -> Result<Options, String> {
    Ok(Options {
        tenant: args
            .tenant
            .as_deref()
            .map(|t| TenantId::parse(t).map(|t| t.to_string()))
            .transpose()
            .map_err(|e| format!("--tenant: {e}"))?,
        format: args
            .format
            .as_deref()
            .map(str::parse::<Format>)
            .transpose()
            .map_err(|e| format!("--format: {e}"))?,
        category: args
            .category
            .as_deref()
            .map(str::parse::<Category>)
            .transpose()
            .map_err(|e| format!("--category: {e}"))?,
    })
}

/// The first few of a list of files, for a note.
fn names(files: &[std::path::PathBuf]) -> String {
    const SHOWN: usize = 5;
    let mut s: Vec<String> = files
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if files.len() > SHOWN {
        s.push(format!("and {} more", files.len() - SHOWN));
    }
    s.join(", ")
}

/// A file's lines of the summary.
pub fn summary(r: &FileReport) -> String {
    let mut s = format!("{}:", r.name);
    if !r.formats.is_empty() {
        let formats: Vec<&str> = r.formats.iter().copied().collect();
        s.push_str(&format!(
            " {} ({})",
            formats.join(" + "),
            r.layout.unwrap_or("")
        ));
    }
    s.push('\n');
    for (category, c) in &r.categories {
        s.push_str(&format!(
            "  {category}: {} read, {} new, {} updated, {} duplicates skipped",
            c.read, c.new, c.updated, c.duplicates
        ));
        if c.superseded > 0 {
            s.push_str(&format!(
                ", {} superseded by a later version in the file",
                c.superseded
            ));
        }
        s.push('\n');
    }
    if r.rejected_total > 0 {
        s.push_str(&format!("  rejected: {} record(s)", r.rejected_total));
        if r.rejected_total as usize > LISTED {
            s.push_str(&format!(", the first {LISTED}"));
        }
        s.push('\n');
        for (line, reason) in &r.rejected {
            s.push_str(&format!("    line {line}: {reason}\n"));
        }
    }
    if let Some(e) = &r.error {
        s.push_str(&format!("  not imported: {e}\n"));
    }
    s
}

/// Runs the detections over each tenant's imported sign-ins and audit events, then routes the
/// new ones like the `detect-risks` function does.
async fn detections(app: &App, spans: &Spans) {
    type Span = (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>);
    let mut per_tenant: BTreeMap<&str, Span> = BTreeMap::new();
    for ((tenant, category), (from, to)) in spans {
        if matches!(category, Category::SignInLogs | Category::AuditLogs) {
            per_tenant
                .entry(tenant)
                .and_modify(|s| *s = (s.0.min(*from), s.1.max(*to)))
                .or_insert((*from, *to));
        }
    }
    for (tenant, span) in per_tenant {
        let Ok(store) = app.state() else { return };
        let thresholds = app.detection_thresholds();
        let now = app.now();
        let owned = tenant.to_string();
        let report = tokio::task::spawn_blocking(move || {
            shared::detect::run::detect_imported(&store, &owned, span, now, &thresholds)
        })
        .await;
        match report {
            Ok(Ok(report)) => {
                let routed = match publish_risk(app, tenant, &report.new_detections).await {
                    Ok(p) => format!(
                        "; {} detections and {} risky users routed",
                        p.detections, p.risky_users
                    ),
                    Err(e) => format!("; routing them failed: {e}"),
                };
                // A closed pipe (`import ... | head`) ends the output, quietly.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "tenant {tenant}: detections run over {} sign-ins and {} audit events: {} new risk detections{routed}",
                    report.sign_ins, report.audits, report.new
                );
                for d in &report.new_detections {
                    let _ = writeln!(
                        out,
                        "  {} ({}) for {} at {}",
                        d.name,
                        d.risk_level,
                        d.user,
                        d.first_seen.format("%Y-%m-%d %H:%M")
                    );
                }
            }
            Ok(Err(e)) => {
                eprintln!("entra-monitor import: detections for tenant {tenant} failed: {e}")
            }
            Err(e) => eprintln!("entra-monitor import: detections for tenant {tenant} failed: {e}"),
        }
    }
}

/// The progress line on standard error, only when it is a terminal: records and megabytes
/// read, their rates, and a bar of the bytes when the total is known.
struct Bar {
    on: bool,
    total: u64,
    done_before: u64,
    started: Instant,
    last: Option<Instant>,
}

impl Bar {
    fn new(total: u64) -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            total,
            done_before: 0,
            started: Instant::now(),
            last: None,
        }
    }

    fn show(&mut self, name: &str, p: Progress) {
        if !self.on
            || self
                .last
                .is_some_and(|l| l.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let bytes = self.done_before + p.bytes;
        let bar = if self.total > 0 {
            let filled = ((bytes as f64 / self.total as f64).min(1.0) * 24.0) as usize;
            format!("[{}{}] ", "#".repeat(filled), " ".repeat(24 - filled))
        } else {
            String::new()
        };
        let name: String = name
            .chars()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        eprint!(
            "\r\x1b[2K{bar}{name}: {} records, {:.1} MB ({:.0} records/s, {:.1} MB/s)",
            p.records,
            bytes as f64 / 1e6,
            p.records as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
        let _ = std::io::stderr().flush();
    }

    fn file_done(&mut self, bytes: u64) {
        self.done_before += bytes;
    }

    fn clear(&self) {
        if self.on && self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}
