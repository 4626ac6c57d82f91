//! The Log Analytics destination against a local server that enforces the Logs Ingestion API as
//! documented (<https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>): no emulator of Azure Monitor exists, so this server checks the
//! path and the stream against the committed DCR, `api-version`, bearer token, content type,
//! gzip, the per-call size limit compressed and uncompressed (answering 413
//! `ContentLengthLimitExceeded`), that every element is an object with a real `TimeGenerated`
//! and only declared columns of their types, and answers 429 with `Retry-After` and 503 once
//! each (`tests/support/ingestion.rs`).

mod support;

use chrono::Utc;
use serde_json::{Value, json};
use shared::destinations::log_analytics::{LogAnalyticsSink, LogAnalyticsTarget};
use shared::model::Category;
use support::ingestion;

/// The server's per-call limit; smaller than the API's 1 MB so the client's halving is exercised.
const SERVER_LIMIT: usize = 64 * 1024;

/// A sink for the local server, with a token from its managed-identity endpoint.
fn sink_for(base: &str) -> LogAnalyticsSink {
    let target = LogAnalyticsTarget {
        endpoint: base.to_string(),
        dcr_immutable_id: ingestion::DCR.into(),
    };
    LogAnalyticsSink::new(target, Some(ingestion::tokens(base)))
}

#[tokio::test]
async fn rows_arrive_whole_at_least_once_within_the_limits() {
    let state = ingestion::state(SERVER_LIMIT);
    state.lock().unwrap().script = [Some(429), None, Some(503)].into();
    let base = ingestion::start(state.clone()).await;
    let sink = sink_for(&base);

    // 3,000 audit rows with varied text (so gzip does not squeeze them to nothing) and one
    // record too big for any call.
    let mut rows: Vec<Value> = (0..3000)
        .map(|i| json!({ "RecordId": format!("Directory_{i}"), "ActivityDisplayName": "Add member to group", "ResultDescription": format!("{:032x}", fastrand::u128(..)).repeat(8), "TimeGenerated": null }))
        .collect();
    // 1.2 MB of one letter gzips to a few KB: too large all the same.
    rows.push(json!({ "RecordId": "huge", "ResultDescription": "x".repeat(1_200_000) }));
    let sent = sink
        .send(Category::AuditLogs, &rows, Utc::now())
        .await
        .unwrap();

    let s = state.lock().unwrap();
    assert_eq!(sent.records, 3000);
    assert_eq!(sent.dead_letter.len(), 1);
    assert_eq!(sent.dead_letter[0].0, "huge");
    assert!(sent.dead_letter[0].1.contains("limit of one call"));
    assert!(
        s.too_large > 0,
        "the server's 413 made the client halve its calls"
    );
    assert!(s.largest_call <= SERVER_LIMIT);
    let ids: std::collections::BTreeSet<&str> = s
        .rows
        .iter()
        .map(|(_, r)| r["RecordId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3000, "every row arrived, whole");
    assert!(s.refusals.is_empty(), "{:?}", s.refusals);
    assert!(s.rows.iter().all(
        |(_, r)| r["ResultDescription"].as_str().unwrap().len() == 256
            && r["TimeGenerated"].is_string()
    ));
    println!(
        "{} calls ({} answered 413, one 429, one 503) for 3,000 rows; largest accepted call {} bytes",
        s.calls, s.too_large, s.largest_call
    );
}

#[tokio::test]
async fn a_wrong_stream_is_refused_with_what_to_check() {
    let state = ingestion::state(SERVER_LIMIT);
    state.lock().unwrap().streams = vec!["Custom-AuditLogs_CL".into()];
    let base = ingestion::start(state).await;
    let sink = sink_for(&base);
    let e = sink
        .send(Category::SignInLogs, &[json!({ "Id": "x" })], Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("stream name"), "{e}");
}

/// The stand-in is as strict as the service where a lost record would otherwise go unseen: a
/// small gzip of a body over 1 MB, a body that is not `application/json`, a column the stream
/// does not declare or of another type, a `TimeGenerated` that is no date-time, and a token for
/// another resource are all refused.
#[tokio::test]
async fn the_stand_in_refuses_what_the_service_would() {
    use std::io::Write;
    let state = ingestion::state(1_048_576);
    let base = ingestion::start(state.clone()).await;
    let url = format!(
        "{base}/dataCollectionRules/{}/streams/Custom-AuditLogs_CL?api-version=2023-01-01",
        ingestion::DCR
    );
    let gzip = |body: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(body).unwrap();
        gz.finish().unwrap()
    };
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>, content_type: &'static str| {
        client
            .post(&url)
            .bearer_auth(ingestion::TOKEN)
            .header("content-type", content_type)
            .header("content-encoding", "gzip")
            .body(body)
            .send()
    };
    let status = |body: Value| async move {
        post(gzip(body.to_string().as_bytes()), "application/json")
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let good = json!([{ "RecordId": "1", "TimeGenerated": "2026-11-27T10:00:00Z", "OperationName": "Add user" }]);
    assert_eq!(status(good.clone()).await, 204);
    let big = json!([{ "RecordId": "1", "TimeGenerated": "2026-11-27T10:00:00Z", "ResultDescription": "x".repeat(1_100_000) }]);
    let compressed = gzip(big.to_string().as_bytes());
    assert!(compressed.len() < 10_000, "{}", compressed.len());
    assert_eq!(
        post(compressed, "application/json")
            .await
            .unwrap()
            .status()
            .as_u16(),
        413
    );
    assert_eq!(
        post(gzip(good.to_string().as_bytes()), "text/plain")
            .await
            .unwrap()
            .status()
            .as_u16(),
        415
    );
    for bad in [
        json!([{ "RecordId": "1", "TimeGenerated": "2026-11-27T10:00:00Z", "Note": "x" }]),
        json!([{ "RecordId": "1", "TimeGenerated": "2026-11-27T10:00:00Z", "DurationMs": "12" }]),
        json!([{ "RecordId": "1", "TimeGenerated": "yesterday" }]),
        json!([{ "RecordId": "1" }]),
    ] {
        assert_eq!(status(bad.clone()).await, 400, "{bad}");
    }
    assert_eq!(state.lock().unwrap().refusals.len(), 4);
    let token = client
        .get(format!(
            "{base}/msi/token?resource=https://storage.azure.com&api-version=2019-08-01"
        ))
        .header("x-identity-header", "h")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status().as_u16(), 400);
}

/// The committed ARM template (custom tables and DCR) is what the row definitions generate,
/// and every row the collector sends fits the stream it is sent to: declared columns only, each
/// value of the declared type. Editing either side alone fails here.
#[test]
fn infra_tables_and_dcr_agree_with_the_rows() {
    use shared::destinations::log_analytics::schema;
    use shared::model::rows::normalise;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra/log-analytics/tables-and-dcr.json");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == schema::arm_template_text(),
        "{} differs from the row definitions; regenerate it with `entra-monitor log-analytics-template --out {}`",
        path.display(),
        path.display()
    );
    let template: Value = serde_json::from_str(&committed).unwrap();
    let resources = template["resources"].as_array().unwrap();
    let dcr = resources
        .iter()
        .find(|r| r["type"] == "Microsoft.Insights/dataCollectionRules")
        .unwrap();
    // A fixed week of a 300-user tenant: every category has records (risk detections are
    // rare, about one per 200 users a day), the same ones on every run.
    let tenant = shared::simulated::SimulatedTenant::new(11, 300);
    let from = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 16, 0, 0, 0).unwrap();
    for category in Category::COLLECTED {
        let stream = LogAnalyticsTarget::stream(category);
        let declared: std::collections::BTreeMap<String, String> =
            dcr["properties"]["streamDeclarations"][&stream]["columns"]
                .as_array()
                .unwrap_or_else(|| panic!("{stream} is not declared"))
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().into(),
                        c["type"].as_str().unwrap().into(),
                    )
                })
                .collect();
        // The table has the same columns as the stream.
        let table = resources
            .iter()
            .find(|r| r["properties"]["schema"]["name"] == schema::table_name(category))
            .unwrap();
        let table_cols: std::collections::BTreeSet<&str> = table["properties"]["schema"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            table_cols,
            declared.keys().map(String::as_str).collect(),
            "{category}: the table and the stream declare different columns"
        );
        let records = tenant.records(category, from, from + chrono::Duration::days(7), None);
        assert!(!records.is_empty(), "{category}: no sample records");
        for r in records.iter().take(300) {
            let row = normalise(category, "t1", &r.json).unwrap();
            let custom = schema::custom_row(category, &row.columns);
            for (name, value) in custom.as_object().unwrap() {
                let ty = declared.get(name).unwrap_or_else(|| {
                    panic!("{category}: {name} is sent but not declared in {stream}")
                });
                assert!(
                    ingestion::fits(ty, value),
                    "{category}: {name} = {value} is not a {ty}"
                );
            }
            assert!(custom["RecordId"].is_string() && custom["TimeGenerated"].is_string());
        }
    }
}
