//! `entra-monitor import` through the real binary: published samples of every format (Graph
//! documentation examples, diagnostic-settings records as Storage and Event Hubs deliver them,
//! a Log Analytics CSV export — sources in tests/fixtures/import/README.md) land in the
//! embedded store with their key fields; importing them again changes nothing; a broken record
//! is reported by line without losing the others; and an exported password spray (the
//! simulated tenant's, with its ground truth) is listed by the risk endpoint after import.

mod common;

use common::{Process, TempDir, free_port, repo_root, run, wait_until_up};
use serde_json::Value;
use shared::model::Category;
use shared::simulated::SimulatedTenant;
use shared::simulated::attacks::AttackKind;
use shared::state::SqliteState;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const GRAPH_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The tenants the published samples carry.
const ELASTIC_SIGNINS: &str = "4bbb79f7-5724-4c9e-95f3-de075f6ec090";
const ELASTIC_RISK: &str = "5611623b-9128-461e-9d7f-a0d9c270ead2";
const KMSI_SAMPLE: &str = "8a4de8b5-095c-47d0-a96f-a75130c61d53";
const LA_EXPORT: &str = "4b2462a4-bbee-495a-a0e1-f23ae524cc9c";
const GRAPH_ACTIVITY: &str = "aa30985b-427d-4434-b4dc-8f9040719adb";

fn fixture(path: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(path)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The number of records in a Graph response fixture.
fn graph_count(name: &str) -> i64 {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    v["value"].as_array().unwrap().len() as i64
}

fn row(
    store: &SqliteState,
    tenant: &str,
    category: Category,
    id: &str,
) -> serde_json::Map<String, Value> {
    let from = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    store
        .embedded_rows(tenant, category, from, chrono::Utc::now())
        .unwrap()
        .into_iter()
        .find(|r| r["Id"] == id)
        .unwrap_or_else(|| panic!("no {category} row {id} for {tenant}"))
}

fn counts(store: &SqliteState) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for t in [
        GRAPH_TENANT,
        ELASTIC_SIGNINS,
        ELASTIC_RISK,
        KMSI_SAMPLE,
        LA_EXPORT,
        GRAPH_ACTIVITY,
    ] {
        for c in Category::ALL {
            out.push((
                t.to_string(),
                c.to_string(),
                store.embedded_count(t, c).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn published_samples_of_every_format_are_imported_once() {
    let dir = TempDir::new("import");
    // The Storage/Event Hubs/Log Analytics samples in a folder, one of them gzipped as
    // Storage archives often are.
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(exports.join("nested")).unwrap();
    for entry in std::fs::read_dir(fixture("import")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json" || e == "csv") {
            std::fs::copy(
                &path,
                exports.join("nested").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let status = std::process::Command::new("gzip")
        .arg(exports.join("nested/diag-non-interactive.json"))
        .status()
        .expect("gzip");
    assert!(status.success());
    let mut args: Vec<String> = vec!["import".into(), "--tenant".into(), GRAPH_TENANT.into()];
    args.push(exports.display().to_string());
    for f in [
        "graph/signins-list.json",
        "graph/directoryaudits-list.json",
        "graph/provisioning-list.json",
        "graph/riskdetections-list.json",
        "graph/riskyuser-get.json",
        "labelled/portal-sign-in.json",
        "labelled/keep-me-signed-in-interrupt.json",
        "labelled/msi-certificate-rotation.json",
    ] {
        args.push(fixture(f).display().to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(dir.path(), &argv, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for expected in [
        "diag-non-interactive.json.gz: diagnostic-settings (JSON, one record or page per line)",
        "la-signinlogs-export.csv: log-analytics (CSV)",
        "signins-list.json: graph (one JSON document)",
        "eventhubs-user-risk-events.json: diagnostic-settings",
        "ManagedIdentitySignInLogs: 2 read, 2 new, 0 updated, 0 duplicates skipped",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }
    // The records went in with the time and retention warning for these old samples.
    assert!(said.contains("ENTRA_MONITOR_RETENTION_DAYS"), "{said}");

    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    let count = |t: &str, c: Category| store.embedded_count(t, c).unwrap();
    // Graph documentation examples, under --tenant.
    assert_eq!(
        count(GRAPH_TENANT, Category::SignInLogs),
        graph_count("graph/signins-list.json")
    );
    assert_eq!(
        count(GRAPH_TENANT, Category::AuditLogs),
        graph_count("graph/directoryaudits-list.json")
    );
    assert_eq!(
        count(GRAPH_TENANT, Category::ProvisioningLogs),
        graph_count("graph/provisioning-list.json")
    );
    assert_eq!(
        count(GRAPH_TENANT, Category::UserRiskEvents),
        graph_count("graph/riskdetections-list.json")
    );
    assert_eq!(
        count(GRAPH_TENANT, Category::RiskyUsers),
        graph_count("graph/riskyuser-get.json")
    );
    let sign_in = row(
        &store,
        GRAPH_TENANT,
        Category::SignInLogs,
        "66ea54eb-6301-4ee5-be62-ff5a759b0100",
    );
    assert_eq!(sign_in["UserPrincipalName"], "testaccount1@contoso.com");
    assert_eq!(sign_in["TimeGenerated"], "2020-03-13T19:15:41.619Z");
    // Diagnostic-settings records, under the tenant they carry.
    assert_eq!(
        count(ELASTIC_SIGNINS, Category::NonInteractiveUserSignInLogs),
        2
    );
    assert_eq!(
        count(ELASTIC_SIGNINS, Category::ServicePrincipalSignInLogs),
        2
    );
    assert_eq!(
        count(ELASTIC_SIGNINS, Category::ManagedIdentitySignInLogs),
        2
    );
    assert_eq!(count(ELASTIC_SIGNINS, Category::SignInLogs), 1);
    assert_eq!(count(ELASTIC_SIGNINS, Category::AuditLogs), 1);
    assert_eq!(count(KMSI_SAMPLE, Category::SignInLogs), 1);
    let sp = row(
        &store,
        ELASTIC_SIGNINS,
        Category::ServicePrincipalSignInLogs,
        "d5935dca-86f2-4ac9-a42c-3593b00af801",
    );
    assert_eq!(sp["ServicePrincipalName"], "Terraform-Datadog-CLI");
    assert_eq!(sp["TimeGenerated"], "2022-02-08T06:22:28.351Z");
    let ni = row(
        &store,
        ELASTIC_SIGNINS,
        Category::NonInteractiveUserSignInLogs,
        "290faffa-477b-4b28-ae92-579daae7b000",
    );
    assert_eq!(
        ni["UserPrincipalName"],
        "mpliftrelastic20210901@outlook.com"
    );
    assert_eq!(ni["IsInteractive"], 0, "bool columns read back as 0/1");
    assert_eq!(count(ELASTIC_RISK, Category::ProvisioningLogs), 2);
    let prov = row(
        &store,
        ELASTIC_RISK,
        Category::ProvisioningLogs,
        "d6cbb0bd-c3ec-6455-bd3e-4282141ce369",
    );
    assert_eq!(prov["ProvisioningAction"], "create");
    assert_eq!(count(ELASTIC_RISK, Category::RiskyUsers), 2);
    // Published with a one-digit hour; stored as RFC 3339.
    let joel = row(
        &store,
        ELASTIC_RISK,
        Category::RiskyUsers,
        "e3b2b242-4ccb-4cf1-9b8b-004cf034a458",
    );
    assert_eq!(joel["RiskLastUpdatedDateTime"], "2022-09-09T09:59:27.958Z");
    assert_eq!(joel["RiskLevel"], "high");
    assert_eq!(count(ELASTIC_RISK, Category::UserRiskEvents), 2);
    let spray = row(
        &store,
        ELASTIC_RISK,
        Category::UserRiskEvents,
        "d93ffb8db664e4e8bd08db6e183b6390dacf00553cc5768aac83012e2dc7c2c9",
    );
    assert_eq!(spray["RiskEventType"], "passwordSpray");
    // The Log Analytics export, under its Entra tenant (AADTenantId, not the workspace).
    assert_eq!(count(LA_EXPORT, Category::SignInLogs), 2);
    let kmsi = row(
        &store,
        LA_EXPORT,
        Category::SignInLogs,
        "b069bb58-4f48-4f41-9380-e26c3d6cb600",
    );
    assert_eq!(kmsi["ResultType"], "50140");
    assert_eq!(kmsi["TimeGenerated"], "2023-09-19T13:46:55.434Z");
    assert_eq!(kmsi["IsInteractive"], 1, "TRUE in the CSV");
    assert_eq!(kmsi["UserType"], "Member");
    let status: Value = serde_json::from_str(kmsi["Status"].as_str().unwrap()).unwrap();
    assert_eq!(status["errorCode"], 50140);
    // A Graph activity log record, which only diagnostic settings export: its own table, keyed
    // by request id (the table has no Id), columns from its envelope and properties.
    assert_eq!(
        count(GRAPH_ACTIVITY, Category::MicrosoftGraphActivityLogs),
        1
    );
    let from = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let call = store
        .embedded_rows(
            GRAPH_ACTIVITY,
            Category::MicrosoftGraphActivityLogs,
            from,
            chrono::Utc::now(),
        )
        .unwrap()
        .remove(0);
    assert_eq!(call["RequestId"], "f7739jk0-e6d1-4e3f-985a-64937fbge367");
    assert_eq!(
        call["RequestUri"],
        "https://graph.microsoft.com/v1.0/me/photos/96x96/$value"
    );
    assert_eq!(call["ResponseStatusCode"], 404);
    assert_eq!(call["ClientAuthMethod"], 2, "published as the text \"2\"");
    assert_eq!(call["AadTenantId"], GRAPH_ACTIVITY);
    assert_eq!(call["TimeGenerated"], "2024-03-07T10:35:31.959Z");

    // Again: nothing new, nothing changed.
    let before = counts(&store);
    let out = run(dir.path(), &argv, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert_eq!(counts(&store), before);
    for line in said.lines().filter(|l| l.contains(" read, ")) {
        assert!(
            line.contains(" 0 new, 0 updated"),
            "re-import changed something: {line}"
        );
    }
    assert!(said.contains("duplicates skipped"));
}

#[test]
fn broken_records_are_reported_by_line_and_the_rest_imported() {
    let dir = TempDir::new("import-broken");
    let lines: Vec<String> = std::fs::read_to_string(fixture("import/diag-service-principal.json"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut no_id: Value = serde_json::from_str(&lines[1]).unwrap();
    no_id["properties"].as_object_mut().unwrap().remove("id");
    let file = dir.path().join("mixed.json");
    std::fs::write(
        &file,
        format!(
            "{}\n{{\"time\": \"2022-02-08T06:22:28Z\", \"category\": \"ServicePrincipalSignInLogs\", \"proper\n{}\n{}\n",
            lines[0], no_id, lines[1]
        ),
    )
    .unwrap();
    let readme = fixture("import/README.md");
    let out = run(
        dir.path(),
        &["import", file.to_str().unwrap(), readme.to_str().unwrap()],
        &[],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("ServicePrincipalSignInLogs: 2 read, 2 new"),
        "{said}"
    );
    assert!(said.contains("rejected: 2 record(s)"), "{said}");
    assert!(said.contains("line 2: not valid JSON"), "{said}");
    assert!(said.contains("line 3: the record has no \"id\""), "{said}");
    assert!(
        said.contains("README.md:") && said.contains("not imported: not a format this imports"),
        "{said}"
    );
    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    assert_eq!(
        store
            .embedded_count(ELASTIC_SIGNINS, Category::ServicePrincipalSignInLogs)
            .unwrap(),
        2
    );

    // Usage errors: 2, with what to do.
    let graph = fixture("graph/signins-list.json");
    let out = run(dir.path(), &["import", graph.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--tenant"), "{}", text(&out));
    let out = run(dir.path(), &["import", "no-such-file.json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no-such-file.json: no such file"),
        "{}",
        text(&out)
    );
    let out = run(
        dir.path(),
        &["import", "--format", "xml", graph.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("expected graph, diagnostic-settings or log-analytics"));

    // Standard input.
    let mut child = common::command(dir.path(), &["import", "-"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&std::fs::read(fixture("import/la-signinlogs-export.csv")).unwrap())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("standard input: log-analytics (CSV)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        store
            .embedded_count(LA_EXPORT, Category::SignInLogs)
            .unwrap(),
        2
    );
}

/// A Graph export (one record per line) of the sign-ins around a password spray the simulated
/// tenant injected, with the spray's records known.
fn spray_export(path: &Path) -> shared::simulated::attacks::Attack {
    let tenant = SimulatedTenant::new(1, 120);
    let now = chrono::Utc::now();
    let spray = tenant
        .attacks(
            now - chrono::Duration::days(4),
            now - chrono::Duration::hours(2),
        )
        .into_iter()
        .find(|a| a.kind == AttackKind::PasswordSpray)
        .expect("the simulated tenant sprays at least once in four days");
    let records = tenant.records(
        Category::SignInLogs,
        spray.start - chrono::Duration::hours(1),
        spray.start + chrono::Duration::hours(1),
        None,
    );
    let mut text = String::new();
    for r in &records {
        text.push_str(&serde_json::to_string(&r.json).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    spray
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_password_spray_is_listed_by_the_risk_endpoint() {
    let dir = TempDir::new("import-spray");
    let file = dir.path().join("signins.json");
    let spray = spray_export(&file);
    let out = run(
        dir.path(),
        &["import", "--tenant", GRAPH_TENANT, file.to_str().unwrap()],
        &[],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("passwordSpray"), "{said}");

    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_CATEGORIES", "AuditLogs"),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let answer = common::get_json(
        &client,
        &format!("{base}/api/risk/detections?tenant={GRAPH_TENANT}&last=7d&source=entra-monitor"),
    )
    .await;
    let rows = answer["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    let found = rows.iter().any(|r| {
        r["name"] == "passwordSpray"
            && r["record_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|id| spray.record_ids.iter().any(|s| s == id.as_str().unwrap()))
    });
    assert!(
        found,
        "the spray at {} is not listed: {answer:#}",
        spray.start
    );
    // The imported tenant answers the other endpoints too.
    let logs = common::get_json(
        &client,
        &format!("{base}/api/logs/SignInLogs?tenant={GRAPH_TENANT}&last=7d&limit=5"),
    )
    .await;
    assert_eq!(logs["rows"].as_array().map(Vec::len), Some(5), "{logs}");
    // The README's examples, which name no tenant, still answer for the simulated tenant:
    // imported tenants are asked for by name, never made the default.
    let status = client
        .get(format!("{base}/api/signins/status?last=7d"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 200);
    let status: Value = status.json().await.unwrap();
    assert_ne!(status["tenant"], GRAPH_TENANT, "{status}");
}

/// Hostile or damaged files lose only what is wrong in them: a bad byte, a line too long, a
/// folder that links to itself, a small gzip expanding to a document too large to hold, a
/// reader that stops reading.
#[test]
fn hostile_inputs_lose_only_their_own_lines() {
    use std::io::Write;
    let dir = TempDir::new("import-hostile");
    let sample: Vec<String> =
        std::fs::read_to_string(fixture("import/diag-service-principal.json"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    // 1,000 records, each its own id; line 11 has a byte that is not UTF-8, line 12 is longer
    // than any record may be.
    let folder = dir.path().join("logs");
    std::fs::create_dir_all(&folder).unwrap();
    let mut file = std::fs::File::create(folder.join("signins.json")).unwrap();
    for i in 1..=1000 {
        let mut v: Value = serde_json::from_str(&sample[0]).unwrap();
        v["properties"]["id"] = Value::from(format!("hostile-{i:04}"));
        let mut line = v.to_string().into_bytes();
        if i == 11 {
            let at = line.len() / 2;
            line[at] = 0xff;
        }
        if i == 12 {
            line = vec![b' '; shared::import::read::MAX_LINE_BYTES + 10];
        }
        file.write_all(&line).unwrap();
        file.write_all(b"\n").unwrap();
    }
    drop(file);
    // A folder linking to itself.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();
    let out = run(dir.path(), &["import", folder.to_str().unwrap()], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("ServicePrincipalSignInLogs: 998 read, 998 new"),
        "{said}"
    );
    assert!(said.contains("line 11: not UTF-8 text"), "{said}");
    assert!(said.contains("line 12: the line is longer than"), "{said}");

    // 1 MB of gzip expanding to one document larger than is ever held whole.
    let bomb = dir.path().join("bomb.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    );
    gz.write_all(b"{\"value\": [\n").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..300 {
        gz.write_all(&spaces).unwrap();
    }
    gz.write_all(b"]}\n").unwrap();
    gz.finish().unwrap();
    let out = run(dir.path(), &["import", bomb.to_str().unwrap()], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("larger than 256 MiB is not imported"),
        "{said}"
    );

    // `import ... | head -1`: the reader goes away; the import ends without a panic.
    let mut child = common::command(dir.path(), &["import", folder.to_str().unwrap()], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(!said.contains("panicked"), "{said}");
    assert_ne!(out.status.code(), Some(101), "{said}");
}

/// Log Analytics exports as real queries produce them: a `project` that put its own value in
/// `Type`, rows without `TimeGenerated` (the record's own time stands for it), a folder with a
/// README and other files beside the exports; and the same rows exported twice, as JSON and as
/// CSV, are one set of records (the second import: duplicates, not updates).
#[test]
fn query_exports_are_recognised_by_their_columns_and_json_then_csv_are_duplicates() {
    let dir = TempDir::new("import-la-shapes");
    let folder = dir.path().join("exports");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("README.md"), "# Exports from the workspace\n").unwrap();
    std::fs::write(
        folder.join("query.kql"),
        "SigninLogs | project Type = 'x'\n",
    )
    .unwrap();
    std::fs::write(folder.join(".DS_Store"), [0u8, 1, 2, 255]).unwrap();
    let rows = serde_json::json!([
        {"AADTenantId": LA_EXPORT, "Id": "la-interactive", "Type": "Interactive",
         "CreatedDateTime": "2026-11-27T10:00:00.123Z", "UserPrincipalName": "ann@contoso.com",
         "UserId": "u-ann", "AppId": "app-1", "ResultType": "50126", "IsInteractive": true,
         "LocationDetails": {"city": "Paris", "countryOrRegion": "FR"}},
        {"AADTenantId": LA_EXPORT, "Id": "la-background", "Type": "Token refresh",
         "CreatedDateTime": "2026-11-27T10:05:00Z", "UserPrincipalName": "ann@contoso.com",
         "UserId": "u-ann", "AppId": "app-1", "ResultType": "0", "IsInteractive": false,
         "LocationDetails": {"city": "Paris", "countryOrRegion": "FR"}},
        {"AADTenantId": LA_EXPORT, "Id": "la-audit", "Type": "Group change",
         "ActivityDateTime": "2026-11-27T11:00:00Z", "ActivityDisplayName": "Add member to group",
         "LoggedByService": "Core Directory", "Result": "success",
         "TargetResources": [{"id": "g-1", "type": "Group"}]}
    ]);
    std::fs::write(folder.join("rows.json"), rows.to_string()).unwrap();

    let out = run(dir.path(), &["import", folder.to_str().unwrap()], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("3 file(s) in the folders are not log exports by their name")
            && said.contains("README.md")
            && said.contains("query.kql"),
        "{said}"
    );
    for expected in [
        "  SignInLogs: 1 read, 1 new",
        "NonInteractiveUserSignInLogs: 1 read, 1 new",
        "AuditLogs: 1 read, 1 new",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }
    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    let sign_in = row(&store, LA_EXPORT, Category::SignInLogs, "la-interactive");
    assert_eq!(sign_in["TimeGenerated"], "2026-11-27T10:00:00.123Z");
    assert_eq!(sign_in["Type"], "SigninLogs");
    // The embedded store keeps dynamic columns as JSON text.
    let location: Value =
        serde_json::from_str(sign_in["LocationDetails"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(location["city"], "Paris", "{sign_in:?}");
    let audit = row(&store, LA_EXPORT, Category::AuditLogs, "la-audit");
    assert_eq!(audit["TimeGenerated"], "2026-11-27T11:00:00.000Z");
    drop(store);

    // The same rows as the portal's CSV: every value text, objects as JSON text.
    let header: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_object().unwrap().keys().cloned())
        .fold(Vec::new(), |mut h, k| {
            if !h.contains(&k) {
                h.push(k);
            }
            h
        });
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut csv = header.join(",") + "\n";
    for r in rows.as_array().unwrap() {
        let cells: Vec<String> = header
            .iter()
            .map(|k| match &r[k] {
                Value::Null => String::new(),
                Value::String(s) => quote(s),
                v => quote(&v.to_string()),
            })
            .collect();
        csv += &(cells.join(",") + "\n");
    }
    let again = dir.path().join("rows.csv");
    std::fs::write(&again, csv).unwrap();
    let out = run(dir.path(), &["import", again.to_str().unwrap()], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for expected in [
        "  SignInLogs: 1 read, 0 new, 0 updated, 1 duplicates skipped",
        "NonInteractiveUserSignInLogs: 1 read, 0 new, 0 updated, 1 duplicates skipped",
        "AuditLogs: 1 read, 0 new, 0 updated, 1 duplicates skipped",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }

    // A folder of nothing but notes is a usage error naming them.
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("README.txt"), "nothing here\n").unwrap();
    let out = run(dir.path(), &["import", notes.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("README.txt"), "{}", text(&out));
}
