//! The Storage destination against a real Azurite (installed by `bash tests/run` from npm into
//! `.tools/`): records land under the exact diagnostic-settings paths, one export record per
//! line; a retried batch adds nothing; concurrent writers to one hour lose nothing.

mod support;

use support::azurite::start as start_azurite;

use chrono::{Duration, TimeZone, Utc};
use serde_json::Value;
use shared::destinations::storage::service::BlobService;
use shared::destinations::storage::sink::{ExportLine, Written};
use shared::destinations::storage::{blob_path, container};
use shared::model::Category;
use shared::model::export::export_record;
use shared::model::rows::normalise;
use shared::simulated::SimulatedTenant;

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
                record: export_record(category, "t-1", row.time, &row.columns, &r.json),
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

    // A record that changed (same id, new content) is a line of its own, once however often
    // its batch is sent, as diagnostic settings write one line per change.
    let mut changed = batch[0].clone();
    changed.record["properties"]["status"]["additionalDetails"] = "MFA completed".into();
    for expected_lines in [1, 0] {
        let w = sink
            .write(Category::SignInLogs, "t-1", std::slice::from_ref(&changed))
            .await
            .unwrap();
        assert_eq!(w.lines, expected_lines);
    }
    let path = format!(
        "{}/{}",
        container(Category::SignInLogs),
        blob_path("t-1", changed.time)
    );
    let body = String::from_utf8(blob.get(&path).await.unwrap().unwrap()).unwrap();
    let versions = body
        .lines()
        .filter(|l| l.contains(&format!("\"id\":\"{}\"", changed.id)))
        .count();
    assert_eq!(versions, 2, "the first version and the change");
}

#[tokio::test]
async fn concurrent_writers_to_one_hour_lose_nothing() {
    let azurite = start_azurite();
    let (sink, blob) = azurite.clients();
    let from = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
    let all = lines(Category::NonInteractiveUserSignInLogs, from, 1);
    // Eight writers start together on an hour that does not exist yet: all but one lose the
    // first commit (412) and must commit again on the new block list.
    let parts: Vec<&[ExportLine]> = all.chunks(all.len().div_ceil(8)).collect();
    assert_eq!(parts.len(), 8);
    let w = |i: usize| sink.write(Category::NonInteractiveUserSignInLogs, "t-1", parts[i]);
    let written = tokio::join!(w(0), w(1), w(2), w(3), w(4), w(5), w(6), w(7));
    let lines_written: usize = [
        written.0, written.1, written.2, written.3, written.4, written.5, written.6, written.7,
    ]
    .into_iter()
    .map(|w| w.unwrap().lines)
    .sum();
    assert_eq!(lines_written, all.len());
    assert!(
        sink.conflicts() > 0,
        "no writer lost a commit race: the test proves nothing about them"
    );
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

#[tokio::test]
async fn a_blob_container_spool_keeps_batches_until_replayed() {
    use shared::destinations::spool::Spool;
    use shared::destinations::{Batch, BatchItem};
    use shared::model::Destination;
    let az = start_azurite();
    let spool = Spool::Blob {
        service: az.blob(),
        container: "entra-monitor-spool".into(),
    };
    assert!(
        spool.list().await.unwrap().is_empty(),
        "no container yet: empty"
    );
    let t = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    let batch = |id: &str, destination| Batch {
        id: id.into(),
        destination,
        tenant: "t1".into(),
        category: Category::AuditLogs,
        created: t,
        items: vec![BatchItem {
            id: format!("{id}-r1"),
            time: t,
            body: serde_json::json!({ "properties": { "id": format!("{id}-r1") } }),
        }],
    };
    let later = batch("20261127T091000000Z-02", Destination::LogAnalytics);
    let earlier = batch("20261127T090000000Z-01", Destination::EventHubs);
    spool.put(&later, "HTTP 503", t).await.unwrap();
    spool.put(&earlier, "HTTP 503", t).await.unwrap();
    spool
        .dead_letter(&later, 0, "20261127T091000000Z-02-r1", "too large")
        .await
        .unwrap();
    let names = spool.list().await.unwrap();
    assert_eq!(
        names,
        vec![
            "batches/event-hubs/20261127T090000000Z-01.json".to_string(),
            "batches/log-analytics/20261127T091000000Z-02.json".to_string()
        ],
        "oldest first, dead letters apart"
    );
    let got = spool.get(&names[0]).await.unwrap().unwrap();
    assert_eq!(got.batch, earlier);
    assert_eq!(got.reason, "HTTP 503");
    spool.delete(&names[0]).await.unwrap();
    assert_eq!(spool.list().await.unwrap(), vec![names[1].clone()]);
    assert_eq!(spool.dead_letters().await.unwrap().len(), 1);
}

/// With an account URL and no key, requests carry the managed identity's bearer token (Azurite
/// accepts OAuth only over HTTPS, so a local server checks this one): the token for
/// `https://storage.azure.com`, a service version that accepts bearer tokens, no Shared Key.
#[tokio::test]
async fn an_account_url_sends_the_managed_identitys_bearer_token() {
    use shared::destinations::storage::service::BlobService;
    use shared::source::token::{TokenCache, TokenSource};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use warp::Filter;
    let blobs: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Default::default();
    let b = blobs.clone();
    let put = warp::put()
        .and(warp::path::tail())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("x-ms-version"))
        .and(warp::header::optional::<String>("x-ms-blob-type"))
        .and(warp::body::bytes())
        .map(
            move |tail: warp::path::Tail,
                  auth: Option<String>,
                  version: Option<String>,
                  kind: Option<String>,
                  body: bytes::Bytes| {
                let ok = auth.as_deref() == Some("Bearer token-for-storage")
                    && version.is_some_and(|v| v.as_str() >= "2017-11-09")
                    && kind.as_deref() == Some("BlockBlob");
                let status = if ok {
                    b.lock()
                        .unwrap()
                        .insert(tail.as_str().to_string(), body.to_vec());
                    201
                } else {
                    403
                };
                warp::reply::with_status(
                    String::new(),
                    warp::http::StatusCode::from_u16(status).unwrap(),
                )
            },
        );
    let token = warp::get()
        .and(warp::path!("msi" / "token"))
        .and(warp::query::<BTreeMap<String, String>>())
        .map(|q: BTreeMap<String, String>| {
            assert_eq!(q["resource"], "https://storage.azure.com");
            warp::reply::json(&serde_json::json!({
                "access_token": "token-for-storage",
                "expires_on": (Utc::now().timestamp() + 3600).to_string(),
            }))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(put.or(token)).incoming(listener).run());
    let tokens = Arc::new(TokenCache::new(TokenSource::ManagedIdentity {
        endpoint: format!("{base}/msi/token"),
        header: shared::config::Secret::new("h"),
        resource: "https://storage.azure.com".into(),
        client_id: None,
    }));
    let blob = BlobService::with_tokens(&format!("{base}/contosologs"), "contosologs", tokens);
    blob.put_blob("entra-monitor-spool/batches/x.json", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(
        blobs.lock().unwrap().keys().cloned().collect::<Vec<_>>(),
        vec!["contosologs/entra-monitor-spool/batches/x.json".to_string()]
    );
}

#[tokio::test]
async fn a_lease_admits_one_writer_per_tenant_and_category() {
    use shared::state::lease::Leases;
    let azurite = start_azurite();
    // Two instances of the function app, each with its own client.
    let leases = |_: u8| {
        Leases::new(
            std::sync::Arc::new(azurite.blob()),
            "entra-monitor-state",
            15,
        )
    };
    let (first, second) = (leases(1), leases(2));

    let held = first
        .try_acquire("t-1", Category::SignInLogs)
        .await
        .unwrap()
        .expect("the first writer gets the lease");
    // The second waits for the same tenant and category, not for another of either.
    let same = second
        .try_acquire("t-1", Category::SignInLogs)
        .await
        .unwrap();
    assert!(same.is_none());
    let other_category = second
        .try_acquire("t-1", Category::AuditLogs)
        .await
        .unwrap();
    let other_tenant = second
        .try_acquire("t-2", Category::SignInLogs)
        .await
        .unwrap();
    assert!(other_category.is_some() && other_tenant.is_some());
    assert!(held.renew().await.unwrap() && !held.lost());

    // Released, it is the second's at once.
    held.release().await.unwrap();
    let taken = second
        .try_acquire("t-1", Category::SignInLogs)
        .await
        .unwrap()
        .expect("released, the lease is free");
    assert!(taken.renew().await.unwrap());

    // A writer that dies without releasing holds it no longer than its 15 seconds.
    drop(taken);
    assert!(
        first
            .try_acquire("t-1", Category::SignInLogs)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;
    let after_crash = first
        .try_acquire("t-1", Category::SignInLogs)
        .await
        .unwrap();
    assert!(after_crash.is_some(), "the lease of a dead writer lapses");
    for h in [after_crash, other_category, other_tenant]
        .into_iter()
        .flatten()
    {
        h.release().await.unwrap();
    }
}
