//! A store written by an earlier release opens without loss: `tests/fixtures/store-v1` was made by
//! `make.sh` with the binary of commit 6c209eb (before versioned migrations), with the answers
//! that release gave. This binary upgrades the store and must find every row and give the same
//! answers.

mod common;

use common::{TempDir, run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const FIXTURE: &str = "tests/fixtures/store-v1";

/// The rows of every table of a store.
fn row_counts(path: &Path) -> BTreeMap<String, i64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_store_of_the_previous_release_opens_with_every_row_and_answer() {
    let fixture = common::repo_root().join(FIXTURE);
    let dir = TempDir::new("upgrade");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store = data.join("state.sqlite");
    std::fs::copy(fixture.join("state.sqlite"), &store).unwrap();
    let before = row_counts(&store);
    assert_eq!(user_version(&store), 1, "the fixture is of the old schema");
    assert!(before["SigninLogs"] > 0 && before["risk_actions"] > 0);

    // The tenant is the simulated one the fixture was collected from (make.sh's settings).
    let env = [
        ("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z"),
        ("ENTRA_MONITOR_SIMULATED_USERS", "30"),
    ];
    let range = ["from=2026-11-19T12:00:00Z", "to=2026-11-19T15:00:00Z"];
    let asked: [(&str, &str, &[&str]); 12] = [
        ("audit-admin-access", "admin-access", &range),
        ("audit-password-resets", "password-resets", &range),
        ("signins-users", "weekly-users", &range),
        ("signins-status", "sign-in-status", &range),
        ("provisioning-events", "provisioning", &range),
        ("risk-detections", "risk-detections", &range),
        ("risk-signins", "risky-sign-ins", &range),
        ("risk-users", "risky-users", &[]),
        (
            "logs-SignInLogs",
            "logs",
            &["category=SignInLogs", "limit=1000"],
        ),
        (
            "logs-AuditLogs",
            "logs",
            &["category=AuditLogs", "limit=1000"],
        ),
        (
            "logs-ProvisioningLogs",
            "logs",
            &["category=ProvisioningLogs", "limit=1000"],
        ),
        (
            "logs-NonInteractiveUserSignInLogs",
            "logs",
            &["category=NonInteractiveUserSignInLogs", "limit=1000"],
        ),
    ];
    for (file, function, params) in asked {
        let mut args = vec!["run", function];
        args.extend(params.iter().copied());
        if function == "logs" {
            args.extend(range);
        }
        let out = run(dir.path(), &args, &env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.join("answers").join(format!("{file}.json"))).unwrap(),
        )
        .unwrap();
        // Three hours of thirty users hold no admin grant; every other answer has rows.
        assert!(
            file == "audit-admin-access"
                || answer["rows"].as_array().is_some_and(|r| !r.is_empty())
                || answer["users"].as_array().is_some_and(|u| !u.is_empty()),
            "{file}: the fixture's answer is empty"
        );
        assert_eq!(
            answer, expected,
            "{file}: the answer changed with the upgrade"
        );
    }

    // Every table the old release wrote keeps its rows; the store is now of the current version.
    let after = row_counts(&store);
    for (table, n) in &before {
        assert_eq!(
            after.get(table),
            Some(n),
            "{table} lost rows in the upgrade"
        );
    }
    assert!(user_version(&store) > 1, "the store was not migrated");
}
