//! The Log Analytics destination against a local server that enforces the Logs Ingestion API as
//! documented (protocols.md §4): no emulator of Azure Monitor exists, so this server checks the
//! path, `api-version`, bearer token, gzip, the per-call size limit (answering 413
//! `ContentLengthLimitExceeded`), that every element is an object with `TimeGenerated`, and
//! answers 429 with `Retry-After` and 503 once each.

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
        .map(|i| json!({ "Id": format!("Directory_{i}"), "ActivityDisplayName": "Add member to group", "Note": format!("{:032x}", fastrand::u128(..)).repeat(8), "TimeGenerated": null }))
        .collect();
    rows.push(json!({ "Id": "huge", "Blob": "x".repeat(1_200_000) }));
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
        .map(|(_, r)| r["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3000, "every row arrived, whole");
    assert!(
        s.rows.iter().all(
            |(_, r)| r["Note"].as_str().unwrap().len() == 256 && r["TimeGenerated"].is_string()
        )
    );
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
    let tenant = shared::simulated::SimulatedTenant::new(11, 120);
    let from = Utc::now() - chrono::Duration::hours(80);
    for category in Category::ALL {
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
        let records = tenant.records(category, from, from + chrono::Duration::hours(72), None);
        assert!(!records.is_empty(), "{category}: no sample records");
        for r in records.iter().take(300) {
            let row = normalise(category, "t1", &r.json).unwrap();
            let custom = schema::custom_row(category, &row.columns);
            for (name, value) in custom.as_object().unwrap() {
                let ty = declared.get(name).unwrap_or_else(|| {
                    panic!("{category}: {name} is sent but not declared in {stream}")
                });
                let fits = match ty.as_str() {
                    "string" => value.is_string(),
                    "datetime" => value
                        .as_str()
                        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
                    "boolean" => value.is_boolean(),
                    "long" => value.is_i64(),
                    "dynamic" => true,
                    other => panic!("unexpected type {other}"),
                };
                assert!(fits, "{category}: {name} = {value} is not a {ty}");
            }
            assert!(custom["RecordId"].is_string() && custom["TimeGenerated"].is_string());
        }
    }
}
