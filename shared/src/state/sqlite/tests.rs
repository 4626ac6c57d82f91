use super::*;
use chrono::TimeZone;

fn run(function: &str, minute: u32, outcome: Outcome) -> RunRecord {
    let started_at = Utc.with_ymd_and_hms(2026, 11, 27, 10, minute, 0).unwrap();
    RunRecord {
        function: function.into(),
        invocation_id: format!("inv-{minute}"),
        host: "local".into(),
        started_at,
        finished_at: started_at + chrono::Duration::milliseconds(250),
        duration_ms: 250,
        outcome,
        detail: "did things".into(),
        past_due: false,
    }
}

/// A store made before a table gained a column opens: the column is added, the rows
/// stored before keep theirs, and new rows fill it.
#[test]
fn a_store_of_an_earlier_version_gains_the_new_columns_and_keeps_its_rows() {
    let dir = std::env::temp_dir().join(format!("entra-state-columns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
    let row = |id: &str, session: &str| {
        let record = serde_json::json!({
            "id": id, "createdDateTime": "2026-11-27T09:00:00Z", "userPrincipalName": "a@b.c",
            "sessionId": session, "status": { "errorCode": 0 }
        });
        let r = crate::model::rows::normalise(Category::SignInLogs, "t1", &record).unwrap();
        StoredRow {
            id: r.id,
            time: r.time,
            columns: r.columns,
            raw: record,
        }
    };
    let path = {
        let store = SqliteState::open(&dir).unwrap();
        store
            .store_page(
                "t1",
                Category::SignInLogs,
                &[row("old", "s1")],
                &PageRouting::embedded_only(),
                None,
                at,
                at,
            )
            .unwrap();
        store.path().to_path_buf()
    };
    // What an earlier version's table looked like: without the column.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ALTER TABLE SigninLogs DROP COLUMN SessionId")
        .unwrap();
    let store = SqliteState::open(&dir).unwrap();
    store
        .store_page(
            "t1",
            Category::SignInLogs,
            &[row("new", "s2")],
            &PageRouting::embedded_only(),
            None,
            at,
            at,
        )
        .unwrap();
    let rows = store
        .embedded_rows(
            "t1",
            Category::SignInLogs,
            at - chrono::Duration::days(1),
            at,
        )
        .unwrap();
    let mut sessions: Vec<(String, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            (
                r["Id"].as_str().unwrap().to_string(),
                r["SessionId"].clone(),
            )
        })
        .collect();
    sessions.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sessions,
        [
            ("new".to_string(), serde_json::json!("s2")),
            ("old".to_string(), serde_json::Value::Null)
        ]
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A long read (a question over millions of rows) does not hold up a write (a collection
/// run's page): it reads on its own connection. With one connection behind a lock, the
/// write could only finish after the read (issue 19: a collection run went from 0.15 s to
/// 16 s behind one expensive question).
#[test]
fn a_long_read_does_not_hold_up_a_write() {
    let dir = std::env::temp_dir().join(format!("entra-state-read-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteState::open(&dir).unwrap());
    store
        .record_run(&run("collect-audit", 1, Outcome::Succeeded))
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (store, order) = (store.clone(), order.clone());
        std::thread::spawn(move || {
            started_tx.send(()).unwrap();
            // Tens of millions of rows counted: seconds of work for SQLite.
            let n = store
                .query_rows(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT COUNT(*) FROM c",
                    &[],
                )
                .unwrap();
            order.lock().unwrap().push("read");
            n
        })
    };
    started_rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    store
        .record_run(&run("collect-audit", 2, Outcome::Succeeded))
        .unwrap();
    order.lock().unwrap().push("write");
    let n = reader.join().unwrap();
    assert_eq!(n[0][0], serde_json::json!(30_000_000));
    assert_eq!(*order.lock().unwrap(), ["write", "read"]);
    assert_eq!(
        store.last_runs().unwrap()["collect-audit"].invocation_id,
        "inv-2"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_latest_run_of_each_function_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("entra-state-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = SqliteState::open(&dir).unwrap();
        s.record_run(&run("a", 1, Outcome::Succeeded)).unwrap();
        s.record_run(&run("a", 2, Outcome::Failed)).unwrap();
        s.record_run(&run("b", 3, Outcome::Skipped)).unwrap();
    }
    let s = SqliteState::open(&dir).unwrap();
    let last = s.last_runs().unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!(last["a"], run("a", 2, Outcome::Failed));
    assert_eq!(last["b"].outcome, Outcome::Skipped);
    // The WAL is checkpointed at 64 MiB (16,384 pages of 4 KiB).
    let pragma = |name: &str| {
        s.conn()
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(pragma("page_size"), 4096);
    assert_eq!(pragma("wal_autocheckpoint"), 16384);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_corrupt_database_file_is_named_with_what_to_do() {
    let dir = std::env::temp_dir().join(format!("entra-state-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.sqlite"), vec![b'x'; 4096]).unwrap();
    let e = SqliteState::open(&dir).unwrap_err().to_string();
    assert!(
        e.contains("state.sqlite is unusable") && e.contains("move the file aside"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
