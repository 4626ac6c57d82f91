//! The Storage destination against a real Azurite (installed by `bash tests/run` from npm into
//! `.tools/`): records land under the exact diagnostic-settings paths, one export record per
//! line; a retried batch adds nothing; concurrent writers to one hour lose nothing.

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use shared::destinations::storage::config::AZURITE_KEY;
use shared::destinations::storage::service::BlobService;
use shared::destinations::storage::sink::{ExportLine, Written};
use shared::destinations::storage::{StorageSink, StorageTarget, blob_path, container};
use shared::model::Category;
use shared::model::export::export_record;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

struct Azurite {
    child: Child,
    endpoint: String,
    _dir: std::path::PathBuf,
}

impl Azurite {
    /// The archive writer and a plain Blob client for the development account.
    fn clients(&self) -> (StorageSink, BlobService) {
        let key = shared::config::Secret::new(AZURITE_KEY);
        let target = StorageTarget::Account {
            endpoint: self.endpoint.clone(),
            account: "devstoreaccount1".into(),
            key: key.clone(),
        };
        (
            StorageSink::new(target).unwrap(),
            BlobService::new(&self.endpoint, "devstoreaccount1", &key).unwrap(),
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_azurite() -> Azurite {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "Azurite is not installed at {}; run `bash tests/run`, which installs it from npm",
        bin.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("entra-azurite-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(&bin)
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--location",
        ])
        .arg(&dir)
        .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azurite-blob");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 30,
            "Azurite did not start within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Azurite {
        child,
        endpoint: format!("http://127.0.0.1:{port}/devstoreaccount1"),
        _dir: dir,
    }
}

fn lines(category: Category, from: chrono::DateTime<Utc>, hours: i64) -> Vec<ExportLine> {
    let tenant = SimulatedTenant::new(4, 60);
    tenant
        .records(
            category,
            from,
            from + Duration::hours(hours) - Duration::milliseconds(1),
            None,
        )
        .into_iter()
        .map(|r| {
            let row = normalise(category, "t-1", &r.json).unwrap();
            ExportLine {
                id: row.id.clone(),
                time: row.time,
                record: export_record(category, "t-1", &row, &r.json),
            }
        })
        .collect()
}

#[tokio::test]
async fn records_land_in_the_diagnostic_settings_layout_exactly_once() {
    let azurite = start_azurite();
    let (sink, blob) = azurite.clients();
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let batch = lines(Category::SignInLogs, from, 2);
    assert!(batch.len() > 20, "{}", batch.len());

    let first = sink
        .write(Category::SignInLogs, "t-1", &batch)
        .await
        .unwrap();
    assert_eq!(
        first,
        Written {
            lines: batch.len(),
            skipped: 0
        }
    );
    // The same batch again (a retry after a lost answer) adds nothing.
    let retry = sink
        .write(Category::SignInLogs, "t-1", &batch)
        .await
        .unwrap();
    assert_eq!(
        retry,
        Written {
            lines: 0,
            skipped: batch.len()
        }
    );

    let mut seen = Vec::new();
    for hour in 0..2 {
        let t = from + Duration::hours(hour);
        let path = format!(
            "{}/{}",
            container(Category::SignInLogs),
            blob_path("t-1", t)
        );
        assert!(
            path.starts_with("insights-logs-signinlogs/tenantId=t-1/y=2026/m=11/d=25/h="),
            "{path}"
        );
        let body = String::from_utf8(
            blob.get(&path)
                .await
                .unwrap()
                .expect("the hour's blob exists"),
        )
        .unwrap();
        for l in body.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["category"], "SignInLogs");
            assert_eq!(v["resourceId"], "/tenants/t-1/providers/Microsoft.aadiam");
            assert!(v["properties"]["createdDateTime"].is_string());
            seen.push(v["properties"]["id"].as_str().unwrap().to_string());
        }
    }
    let mut expected: Vec<String> = batch.iter().map(|l| l.id.clone()).collect();
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "every record exactly once across the two hours"
    );
}

#[tokio::test]
async fn concurrent_writers_to_one_hour_lose_nothing() {
    let azurite = start_azurite();
    let (sink, blob) = azurite.clients();
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
    let all = lines(Category::NonInteractiveUserSignInLogs, from, 1);
    let (a, b) = all.split_at(all.len() / 2);
    let (ra, rb) = tokio::join!(
        sink.write(Category::NonInteractiveUserSignInLogs, "t-1", a),
        sink.write(Category::NonInteractiveUserSignInLogs, "t-1", b)
    );
    assert_eq!(ra.unwrap().lines + rb.unwrap().lines, all.len());
    let path = format!(
        "{}/{}",
        container(Category::NonInteractiveUserSignInLogs),
        blob_path("t-1", from)
    );
    let body = String::from_utf8(blob.get(&path).await.unwrap().unwrap()).unwrap();
    assert_eq!(body.lines().count(), all.len());

    // A wrong key is refused with the service's error code, and no key material is shown.
    let wrong = BlobService::new(
        &azurite.endpoint,
        "devstoreaccount1",
        &shared::config::Secret::new("d3Jvbmc="),
    )
    .unwrap();
    let e = wrong.get(&path).await.unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
    assert!(!e.contains("d3Jvbmc="));
}
