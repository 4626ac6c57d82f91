//! Tenant health alerts end to end: three weeks of a 1,000-user tenant's sign-ins and audit log
//! to learn from, a fourth with three incidents injected (an MFA outage on Tuesday, a
//! compliant-device wave on Wednesday, Teams failing on Thursday), in the embedded store.
//!
//! The monitor runs every hour of Monday to Thursday morning as its timer would, judging up to
//! the collection's watermark: each of the first two incidents gives one alert, on its signal,
//! created within 30 minutes of its start, resolved within 30 minutes of its end, whose
//! explanation names the injected cause (the error code) with figures against the baseline;
//! nothing else is raised, and running again changes nothing. Then `serve` starts on that store
//! on Thursday afternoon: its `monitor-health` timer raises the Teams alert (naming the app) and
//! sends it to the webhook once; the README's curl examples list, show and dismiss alerts, every
//! change of state is one record of `EntraMonitorHealthAlerts` (in the embedded store, listed
//! by `/api/logs`), and bad requests get a clear 4xx.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use shared::health::anomaly::Model;
use shared::health::monitor;
use shared::health::{alert, microsoft};
use shared::model::Category;
use shared::state::SqliteState;
use std::time::Instant;

mod common;
#[path = "support/health.rs"]
mod health;
#[path = "support/seeded_store.rs"]
mod seeded_store;
mod support;

use common::{Process, TempDir, free_port, repo_root, wait_until_up};

fn weeks_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("no time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Checks a stored alert against its incident: created within 30 minutes of the start,
/// resolved within 30 minutes of the end, figures above the band, impacts sampled, and the
/// explanation naming the cause.
fn check_alert(j: &Value, scenario: &str, start: DateTime<Utc>, stop: DateTime<Utc>) {
    let created = time(&j["createdDateTime"]);
    assert!(
        created > start && created <= start + Duration::minutes(30),
        "{scenario}: created {created}, incident at {start}"
    );
    assert_eq!(j["state"], "resolved", "{scenario}: {j:#}");
    let ended = time(&j["endedDateTime"]);
    assert!(
        ended >= stop - Duration::minutes(15) && ended <= stop + Duration::minutes(30),
        "{scenario}: ended {ended}, incident ended {stop}"
    );
    assert_eq!(j["resolution"]["by"], alert::SYSTEM);
    let f = &j["figures"];
    assert!(
        f["observed"].as_f64().unwrap() > f["expectedBand"][1].as_f64().unwrap(),
        "{f}"
    );
    // Impacts: users counted and sampled (at most ten), as Graph's strings.
    let users = &j["enrichment"]["impacts"][0];
    assert_eq!(users["resourceType"], "user");
    let count: usize = users["impactedCount"].as_str().unwrap().parse().unwrap();
    let samples = users["resourceSampling"].as_array().unwrap();
    assert!(count >= 5 && samples.len() == count.min(10), "{users}");
    // The explanation names the cause: the code that rose most, or the app.
    let e = &j["explanation"];
    let summary = e["summary"].as_str().unwrap();
    if scenario == "appSignInFailures" {
        assert_eq!(j["signal"], format!("appSignInFailures:{}", health::TEAMS));
        assert_eq!(j["app"]["displayName"], health::APP);
        assert_eq!(e["changes"]["apps"][0]["value"], health::APP, "{e:#}");
        assert!(summary.contains(health::APP), "{summary}");
        return;
    }
    let code = if scenario == "mfaSignInFailure" {
        "500121"
    } else {
        "53000"
    };
    let top = &e["changes"]["errorCodes"][0];
    assert_eq!(top["value"], code, "{e:#}");
    assert!(
        top["observed"].as_f64().unwrap() > 5.0 * top["expected"].as_f64().unwrap(),
        "{top}"
    );
    assert!(summary.contains(&format!("error code {code}")), "{summary}");
    let signins = j["enrichment"]["supportingData"]["signIns"]
        .as_str()
        .unwrap();
    assert!(signins.contains(&format!("result={code}")), "{signins}");
}

/// The README's curl examples of health alerts: (POST body if a POST, URL path and query).
fn readme_examples() -> Vec<(Option<String>, String)> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## Tenant health alerts")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README has a Tenant health alerts section");
    section
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(|l| {
            // A POST sends JSON as it says (curl's -d alone would send a form).
            assert!(
                !l.contains("-d '") || l.contains("-H 'Content-Type: application/json'"),
                "{l}"
            );
            let body = l
                .split("-d '")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .map(String::from);
            let url = l.rsplit('\'').nth(1).unwrap();
            (
                body,
                url.split("127.0.0.1:7071").nth(1).unwrap().to_string(),
            )
        })
        .collect()
}

/// Routes `tenant`'s alert changes with a router sending `EntraMonitorHealthAlerts` to Log
/// Analytics and the embedded store: one row per change of `raised`'s alerts, each with the
/// stream's declared columns only (the stand-in refuses others), and nothing routed twice.
async fn routed_to_log_analytics(
    store: &SqliteState,
    tenant: &str,
    raised: &[shared::state::StoredAlert],
    now: DateTime<Utc>,
) {
    let la = support::ingestion::state(256 * 1024);
    let base = support::ingestion::start(la.clone()).await;
    let spool = TempDir::new("health-alerts-spool");
    let category = Category::EntraMonitorHealthAlerts;
    let router = support::ingestion::router(&base, category, spool.path().to_path_buf());
    let published = shared::health::publish::publish(store, &router, tenant, now).unwrap();
    router.deliver(store, now).await.unwrap();
    let changes: usize = raised
        .iter()
        .map(|a| store.health_alert_history(tenant, &a.id).unwrap().len())
        .sum();
    assert_eq!(changes, 4, "raised and resolved, twice");
    assert_eq!(published.rows, changes as i64);
    let sent: Vec<Value> = {
        let la = la.lock().unwrap();
        assert!(la.refusals.is_empty(), "{:?}", la.refusals);
        la.rows
            .iter()
            .filter(|(stream, _)| stream == "Custom-EntraMonitorHealthAlerts_CL")
            .map(|(_, row)| row.clone())
            .collect()
    };
    assert_eq!(sent.len(), changes, "one row per change at Log Analytics");
    for a in raised {
        let mine: Vec<&Value> = sent.iter().filter(|r| r["AlertId"] == a.id).collect();
        let states: Vec<(&str, &str)> = mine
            .iter()
            .map(|r| {
                (
                    r["StateFrom"].as_str().unwrap(),
                    r["State"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(states, [("none", "active"), ("active", "resolved")]);
        assert!(
            mine.iter()
                .all(|r| r["Signal"] == a.signal.as_str() && r["ChangedBy"] == alert::SYSTEM),
            "{mine:#?}"
        );
    }
    // Routed again: nothing new.
    let again = shared::health::publish::publish(store, &router, tenant, now).unwrap();
    assert_eq!(again.rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incident_is_one_explained_alert_sent_once_and_listed() {
    let test_week = weeks_start() + Duration::weeks(3);
    let end = test_week + Duration::weeks(1);
    let incidents = health::week_incidents(test_week);
    let tenant = health::tenant(&incidents);
    let key = tenant.directory.tenant_id.clone();
    let dir = TempDir::new("health-alerts");
    let store = SqliteState::open(&dir.path().join("data")).unwrap();
    seeded_store::load(
        &store,
        &key,
        &tenant,
        &[Category::SignInLogs, Category::AuditLogs],
        weeks_start(),
        end,
    );
    let model = Model::default();
    // Before three weeks of history: learning, nothing raised.
    let early = monitor::run(
        &store,
        &key,
        weeks_start() + Duration::days(10),
        &model,
        weeks_start(),
    )
    .unwrap();
    assert!(early.learning && early.raised.is_empty(), "{early:?}");

    // Monday to Thursday 06:00, hourly: the MFA outage and the compliant-device wave.
    let thursday = test_week + Duration::days(3);
    let mut raised = Vec::new();
    let mut t = test_week;
    while t <= thursday + Duration::hours(6) {
        let report = monitor::run(&store, &key, t, &model, t + Duration::minutes(5)).unwrap();
        assert!(!report.learning, "{report:?}");
        raised.extend(report.raised);
        t += Duration::hours(1);
    }
    let names: Vec<(&str, DateTime<Utc>)> = raised
        .iter()
        .map(|a| (a.signal.as_str(), a.started))
        .collect();
    assert_eq!(raised.len(), 2, "raised: {names:?}");
    for (scenario, kind, start, minutes) in &incidents[..2] {
        let a = raised
            .iter()
            .find(|a| a.signal == *scenario)
            .unwrap_or_else(|| panic!("no alert for {kind:?}: {names:?}"));
        let stored = store.health_alert(&key, &a.id).unwrap().unwrap();
        assert_eq!(stored.state, alert::RESOLVED);
        check_alert(
            &stored.alert,
            scenario,
            *start,
            *start + Duration::minutes(*minutes),
        );
        // Its history: raised, then resolved by the monitor.
        let history = store.health_alert_history(&key, &a.id).unwrap();
        let states: Vec<(&str, &str)> = history
            .iter()
            .map(|h| (h["from"].as_str().unwrap(), h["to"].as_str().unwrap()))
            .collect();
        assert_eq!(
            states,
            [("none", "active"), ("active", "resolved")],
            "{history:?}"
        );
    }
    // Running again over the same days raises nothing and changes no alert.
    let before = store
        .health_alerts(&key, test_week, end, None, 100)
        .unwrap();
    let t = thursday + Duration::hours(6);
    let again = monitor::run(&store, &key, t, &model, t + Duration::hours(1)).unwrap();
    assert!(again.raised.is_empty() && again.resolved == 0, "{again:?}");
    assert_eq!(
        store
            .health_alerts(&key, test_week, end, None, 100)
            .unwrap(),
        before
    );
    // Each change of state so far routed as a record, here to Log Analytics (the local
    // stand-in enforcing the committed DCR's stream declaration) and the embedded store, once.
    routed_to_log_analytics(&store, &key, &raised, end).await;
    // Microsoft's own alerts for the same incidents, as `collect-inventory` keeps them from
    // Graph: listed beside ours. (`serve` lists them again at start, from the same tenant.)
    let afternoon = thursday + Duration::hours(14);
    let microsofts = shared::simulated::health_alerts::alerts(&tenant, afternoon);
    assert_eq!(
        microsofts.len(),
        2,
        "the MFA outage's and the device wave's"
    );
    store
        .sync_inventory(&key, microsoft::KIND, &microsofts, afternoon, None)
        .unwrap();
    drop(store);
    // `serve`'s Graph: this tenant, incidents and all, from Thursday 14:00 on.
    let clock = std::sync::Arc::new(shared::clock::StartedClock::new(afternoon));
    let sim = shared::simulated::server::SimServer::new(tenant, clock, Default::default());
    let graph = sim.start("127.0.0.1:0".parse().unwrap()).await.unwrap();

    // `serve` on this store on Thursday afternoon, the monitor every five seconds.
    let (hook, received, _) = support::webhook::receiver().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_LISTEN", listen.as_str()),
            ("ENTRA_MONITOR_SIMULATED_SEED", "5"),
            ("ENTRA_MONITOR_SIMULATED_USERS", "1000"),
            ("ENTRA_MONITOR_SIMULATED_START", "2026-11-26T14:00:00Z"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "1"),
            ("ENTRA_MONITOR_SCHEDULE_MONITOR_HEALTH", "*/5 * * * * *"),
            ("ENTRA_MONITOR_ALERT_WEBHOOK", hook.as_str()),
            ("ENTRA_MONITOR_SIMULATED_GRAPH_URL", graph.as_str()),
        ],
    );
    assert_eq!(
        thursday + Duration::hours(14),
        Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap()
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    // The Teams failures raised by the timer and sent, once.
    let started = Instant::now();
    while received.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "no health alert sent in 180 s:\n{}",
            process.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // A few more monitor runs: nothing sent again.
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    let sent = received.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], "entra-monitor");
    let message = &sent[0]["health"];
    assert_eq!(
        message["signal"],
        format!("appSignInFailures:{}", health::TEAMS)
    );
    assert!(
        message["summary"].as_str().unwrap().contains(health::APP),
        "{message}"
    );

    // The README's examples: the list, one alert, dismissing it with the local admin key.
    let examples = readme_examples();
    assert_eq!(examples.len(), 3, "{examples:?}");
    let admin = std::fs::read_to_string(dir.path().join("data/local-admin-key")).unwrap();
    let call = |body: Option<String>, path: String, key: Option<&str>| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        let key = key.map(str::to_string);
        async move {
            let mut r = match body {
                Some(b) => client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(b),
                None => client.get(&url),
            };
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, list) = call(None, examples[0].1.clone(), None).await;
    assert_eq!(status, 200, "{list}");
    let all = list["rows"].as_array().unwrap();
    let rows: &Vec<Value> = &all
        .iter()
        .filter(|r| r["source"] == alert::SYSTEM)
        .cloned()
        .collect();
    assert_eq!(rows.len(), 3, "{list:#}");
    // Microsoft's beside ours, newest first by creation.
    let theirs: Vec<&Value> = all
        .iter()
        .filter(|r| r["source"] == microsoft::SOURCE)
        .collect();
    assert_eq!(theirs.len(), 2, "{list:#}");
    let created: Vec<&str> = all
        .iter()
        .map(|r| r["createdDateTime"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    let mfa = theirs
        .iter()
        .find(|r| r["alertType"] == "mfaSignInFailure")
        .unwrap();
    let mfa_id = mfa["id"].as_str().unwrap();
    let (status, one) = call(None, format!("/api/health/alerts/{mfa_id}"), None).await;
    assert_eq!(
        (status, &one["source"]),
        (200, &json!("microsoft")),
        "{one}"
    );
    let (status, v) = call(
        Some(r#"{"reason": "seen"}"#.into()),
        format!("/api/health/alerts/{mfa_id}/dismiss"),
        Some(admin.trim()),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft Entra admin center"),
        "{v}"
    );
    for (scenario, _, start, minutes) in &incidents {
        let row = rows
            .iter()
            .find(|r| r["signal"].as_str().unwrap().starts_with(scenario))
            .unwrap_or_else(|| panic!("{scenario} not listed: {list:#}"));
        check_alert(row, scenario, *start, *start + Duration::minutes(*minutes));
    }
    let teams = rows
        .iter()
        .find(|r| r["alertType"] == "appSignInFailure")
        .unwrap();
    let id = teams["id"].as_str().unwrap();
    let (status, one) = call(None, examples[1].1.replace("<id>", id), None).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["id"], id);
    assert_eq!(one["history"].as_array().unwrap().len(), 2, "{one:#}");
    let (body, path) = examples[2].clone();
    let dismiss = path.replace("<id>", id);
    // A change of state needs the key; then it is recorded with who and why.
    let (status, v) = call(body.clone(), dismiss.clone(), None).await;
    assert_eq!(status, 401, "{v}");
    let (status, v) = call(body.clone(), dismiss.clone(), Some(admin.trim())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["state"], "resolved");
    assert_eq!(v["resolution"]["state"], "dismissed");
    assert_eq!(v["resolution"]["reason"], "planned MFA maintenance");
    let (_, one) = call(None, format!("/api/health/alerts/{id}"), None).await;
    let last = one["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("resolved"), Some("dismissed")),
        "{last}"
    );
    assert_eq!(last["reason"], "planned MFA maintenance");
    let (_, dismissed) = call(
        None,
        "/api/health/alerts?last=7d&state=dismissed".into(),
        None,
    )
    .await;
    assert_eq!(
        dismissed["rows"].as_array().unwrap().len(),
        1,
        "{dismissed}"
    );

    // Every change of state is a record of EntraMonitorHealthAlerts (routed to the embedded
    // store, `serve`'s only destination): the changes the monitor made before `serve` started,
    // the Teams alert's, and the dismissal, each once.
    let (status, routed) = call(
        None,
        "/api/logs/EntraMonitorHealthAlerts?last=30d&limit=100".into(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{routed}");
    let routed = routed["rows"].as_array().unwrap().clone();
    let mut changes = 0;
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let (_, one) = call(None, format!("/api/health/alerts/{id}"), None).await;
        let history = one["history"].as_array().unwrap();
        let mine: Vec<&Value> = routed.iter().filter(|r| r["AlertId"] == id).collect();
        assert_eq!(mine.len(), history.len(), "{id}: {mine:#?}");
        for h in history {
            assert!(
                mine.iter()
                    .any(|r| r["StateFrom"] == h["from"] && r["State"] == h["to"]),
                "{id}: {h} not routed"
            );
        }
        changes += history.len();
    }
    assert_eq!(routed.len(), changes, "{routed:#?}");
    let dismissal = routed
        .iter()
        .find(|r| r["State"] == "dismissed")
        .expect("the dismissal routed");
    assert_eq!(
        (
            &dismissal["AlertId"],
            &dismissal["StateFrom"],
            &dismissal["ChangedBy"],
            &dismissal["Reason"],
            &dismissal["AlertType"],
            &dismissal["Subject"]["displayName"],
        ),
        (
            &json!(id),
            &json!("resolved"),
            &last["by"],
            &json!("planned MFA maintenance"),
            &json!("appSignInFailure"),
            &json!(health::APP),
        ),
        "{dismissal:#}"
    );
    assert!(
        dismissal["Summary"].as_str().unwrap().contains(health::APP)
            && dismissal["Figures"]["observed"].as_f64().is_some(),
        "{dismissal:#}"
    );

    // Microsoft's own metrics, collected by the monitor from the simulated Graph beside our
    // signals: the same counts for the same sign-ins (up to three hours before the newest
    // collected, where records published late could still be on their way).
    let microsoft_signal = "/api/health/microsoft/signals?scenario=mfaSignInSuccess&last=2d";
    let started = Instant::now();
    let theirs = loop {
        let (status, v) = call(None, microsoft_signal.into(), None).await;
        assert_eq!(status, 200, "{v}");
        let rows = v["rows"].as_array().unwrap().clone();
        if !rows.is_empty() {
            break rows;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "Microsoft's metrics not collected in 120 s:\n{}",
            process.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let (first, last) = (
        theirs[0]["intervalStartDateTime"]
            .as_str()
            .unwrap()
            .to_string(),
        theirs.last().unwrap()["intervalStartDateTime"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    assert!(
        theirs.len() >= 90,
        "a day of quarter hours: {}",
        theirs.len()
    );
    let settled = time(&json!(last)) - Duration::hours(3);
    let (status, ours) = call(
        None,
        format!(
            "/api/health/signals?scenario=mfaSignInSuccess&from={first}&to={}",
            settled.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ours}");
    let ours = ours["rows"].as_array().unwrap();
    let compared: Vec<&Value> = theirs
        .iter()
        .filter(|r| time(&r["intervalStartDateTime"]) < settled)
        .collect();
    assert!(compared.len() >= 60, "{}", compared.len());
    for (t, o) in compared.iter().zip(ours) {
        assert_eq!(
            (time(&t["intervalStartDateTime"]), t["value"].as_f64()),
            (time(&o["intervalStartDateTime"]), o["value"].as_f64()),
            "Microsoft's against ours"
        );
    }
    assert!(compared.iter().any(|r| r["value"].as_f64() > Some(0.0)));
    let (status, v) = call(
        None,
        "/api/health/microsoft/signals?scenario=appSignIns".into(),
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");

    // Bad requests: each a clear 4xx naming what is wrong.
    let key = Some(admin.trim());
    let reason = Some(r#"{"reason": "x"}"#.to_string());
    for (body, path, key, expected, says) in [
        (body.clone(), dismiss.clone(), key, 409, "already"),
        (
            reason.clone(),
            format!("/api/health/alerts/{id}/delete"),
            key,
            404,
            "resolve or dismiss",
        ),
        (
            Some("{}".into()),
            format!("/api/health/alerts/{id}/resolve"),
            key,
            400,
            "reason",
        ),
        (
            Some("not json".into()),
            format!("/api/health/alerts/{id}/resolve"),
            key,
            400,
            "reason",
        ),
        (
            Some(format!(r#"{{"reason": "{}"}}"#, "x".repeat(1001))),
            format!("/api/health/alerts/{id}/resolve"),
            key,
            400,
            "1000",
        ),
        (
            reason.clone(),
            "/api/health/alerts/nope/resolve".into(),
            key,
            404,
            "no health alert",
        ),
        (
            None,
            "/api/health/alerts/nope".into(),
            None,
            404,
            "no health alert",
        ),
        (
            None,
            format!("/api/health/alerts/{id}?limit=5"),
            None,
            400,
            "limit",
        ),
        (
            None,
            "/api/health/alerts?state=open".into(),
            None,
            400,
            "state",
        ),
        (
            None,
            "/api/health/alerts?last=7d&tenant=someone-else".into(),
            None,
            400,
            "tenant",
        ),
    ] {
        let (status, v) = call(body, path.clone(), key).await;
        assert_eq!(status, expected, "{path}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path}: {message}");
    }

    // The timer's outcome in /api/health.
    let (_, h) = call(None, "/api/health".into(), None).await;
    let run = h["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "monitor-health")
        .unwrap()["last_run"]
        .clone();
    assert_eq!(run["outcome"], "succeeded", "{run}");
}
