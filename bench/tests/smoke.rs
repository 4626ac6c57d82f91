//! The benchmark command runs end to end on small numbers and prints every section with its
//! ratio, so it keeps working as the product grows (the real run is `bash bench/run`; nothing
//! here is timed). DuckDB comes from `.tools/bench-venv`, which `tests/run` installs.

use std::path::Path;
use std::process::Command;

#[test]
fn the_benchmark_prints_all_six_sections_with_their_ratios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".tools/bench-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run the suite through tests/run, which installs DuckDB there",
        python.display()
    );
    // The product binary of this build (the functions package's tests build it too).
    let profile_dir = Path::new(env!("CARGO_BIN_EXE_entra-monitor-bench"))
        .parent()
        .expect("a target folder")
        .to_path_buf();
    let binary = profile_dir.join("entra-monitor");
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --bin entra-monitor; tests/run builds it with the suite)",
        binary.display()
    );
    let work = std::env::temp_dir().join(format!("entra-bench-smoke-{}", std::process::id()));
    let out = work.join("results.md");
    let run = Command::new(env!("CARGO_BIN_EXE_entra-monitor-bench"))
        .args(["--binary"])
        .arg(&binary)
        .arg("--python")
        .arg(&python)
        .arg("--out")
        .arg(&out)
        .arg("--work")
        .arg(&work)
        .args([
            "--pipeline-records",
            "3000",
            "--memory-records",
            "3000",
            "--store-sign-ins",
            "6000",
            "--reps",
            "2",
            "--cold-runs",
            "2",
            "--import-records",
            "3000",
            "--page-runs",
            "1",
        ])
        .output()
        .expect("the benchmark runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written = std::fs::read_to_string(&out).expect("the results file");
    for text in [&*stdout, &written] {
        for section in [
            "### 1. Collect pipeline throughput (3000 sign-ins",
            "| ratio pipeline / parse |",
            "### 2. Memory",
            "| 3000 |",
            "### 3. Endpoint latency (6000 sign-ins",
            "### 4. Cold start",
            "### 5. Import: `entra-monitor import` of 3000 sign-ins",
            "_The command's own summary: 1 file(s), 3000 records",
            "### 6. Workbooks page: first render of the Sign-ins workbook",
            "(target < 500 KB: met)",
            "Measured ",
        ] {
            assert!(text.contains(section), "{section} missing:\n{text}");
        }
        // Every question, answered by both with the same number of rows, and some.
        let mut empty = Vec::new();
        for q in [
            "admin-access",
            "app-users",
            "password-resets",
            "sign-in-pattern",
            "weekly-users",
            "sign-in-status",
            "groups-created",
            "users-removed",
            "users-created",
            "logs",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("| {q} |")))
                .unwrap_or_else(|| panic!("{q} missing:\n{text}"));
            let rows = line.split('|').nth(7).unwrap_or("").trim();
            let (ours, duck) = rows.split_once(" / ").unwrap_or(("", "?"));
            assert_eq!(ours, duck, "{q}: {line}");
            // The same rows, not only as many: each row's identifying values compared.
            assert_eq!(
                line.split('|').nth(9).map(str::trim),
                Some("yes"),
                "{q}: {line}"
            );
            if !ours.parse::<u64>().is_ok_and(|n| n > 0) {
                empty.push(q);
            }
        }
        // Both empty would agree about nothing: every question has rows on this data, but
        // admin access — the week's 70-odd audit events of this small store hold no addition to
        // an admin group (the full run's store answers 100 rows).
        assert_eq!(empty, ["admin-access"], "no rows:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&work);
}
