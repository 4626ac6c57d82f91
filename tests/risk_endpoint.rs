//! Risk detections end to end through the real binary: `serve` collects three days of the
//! simulated tenant, `detect-risks` learns from the first two and reports the last day; every
//! attack the generator injected in that day is listed by `/api/risk/detections` with its
//! evidence, and nothing else is.

mod common;

use common::{Process, TempDir, free_port, wait_until_up};
use serde_json::Value;
use shared::simulated::SimulatedTenant;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_after_collection_list_the_days_attacks() {
    // A Slack-style webhook receiver for the alerts.
    let alerts: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let a = alerts.clone();
    let hook = {
        use warp::Filter;
        warp::post()
            .and(warp::path!("services" / String))
            .and(warp::body::json())
            .map(move |_: String, body: Value| {
                a.lock().unwrap().push(body);
                "ok"
            })
    };
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!(
        "http://{}/services/T00-B00-secret",
        hook_listener.local_addr().unwrap()
    );
    tokio::spawn(warp::serve(hook).incoming(hook_listener).run());
    let dir = TempDir::new("risk");
    let archive = dir.path().join("archive");
    let archive_text = archive.display().to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    // The simulated tenant's clock starts at a fixed instant (a Thursday afternoon), so every
    // run of this test sees the same three days and the same attacks.
    let clock_start = chrono::DateTime::parse_from_rfc3339("2026-11-19T15:00:00Z")
        .unwrap()
        .to_utc();
    let launched = Instant::now();
    let simulated_now =
        move || clock_start + chrono::Duration::from_std(launched.elapsed()).unwrap();
    let process = Process::start(
        dir.path(),
        &["serve"],
        &[
            ("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z"),
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_SIMULATED_USERS", "120"),
            ("ENTRA_MONITOR_BACKFILL_HOURS", "72"),
            (
                "ENTRA_MONITOR_CATEGORIES",
                "SignInLogs,AuditLogs,RiskyUsers,ServicePrincipalRiskEvents",
            ),
            // Dismissals written back to (simulated) Graph, and read back from it at once.
            ("ENTRA_MONITOR_RISK_WRITE_BACK", "true"),
            ("ENTRA_MONITOR_SETTLE_MINUTES", "0"),
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_RISK", "*/2 * * * * *"),
            ("ENTRA_MONITOR_SCHEDULE_DETECT_RISKS", "*/2 * * * * *"),
            ("ENTRA_MONITOR_ALERT_WEBHOOK", &hook_url),
            ("ENTRA_MONITOR_ALERT_FORMAT", "slack"),
            (
                "ENTRA_MONITOR_DETECT_PRIVILEGED_GROUPS",
                "Helpdesk Admins, Privileged Access Admins",
            ),
            // Our detections and risky users routed like Microsoft's.
            ("ENTRA_MONITOR_STORAGE_FOLDER", &archive_text),
            ("ENTRA_MONITOR_ROUTES_USERRISKEVENTS", "embedded,storage"),
            ("ENTRA_MONITOR_ROUTES_RISKYUSERS", "embedded,storage"),
            (
                "ENTRA_MONITOR_ROUTES_SERVICEPRINCIPALRISKEVENTS",
                "embedded,storage",
            ),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{base}{path}");
        let client = client.clone();
        async move {
            client
                .get(&url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // Wait until sign-ins and audits are collected up to the last minutes, then for a
    // detection run that started after that.
    let start = Instant::now();
    let mut caught_up_at: Option<String> = None;
    loop {
        let h = get("/api/health").await;
        let collection = h["collection"].as_array().unwrap();
        let caught_up = ["SignInLogs", "AuditLogs"].iter().all(|c| {
            collection
                .iter()
                .any(|x| x["category"] == *c && x["lag_seconds"].as_i64().is_some_and(|l| l < 600))
        });
        let detect = &h["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "detect-risks")
            .unwrap()["last_run"];
        match &caught_up_at {
            None if caught_up => caught_up_at = Some(h["time"].as_str().unwrap().to_string()),
            Some(t)
                if detect["started_at"]
                    .as_str()
                    .is_some_and(|s| s > t.as_str())
                    && detect["outcome"] == "succeeded" =>
            {
                break;
            }
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no detection run after collection:\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answer = get("/api/risk/detections?last=3d&limit=1000&source=entra-monitor").await;
    let rows = answer["rows"].as_array().unwrap();
    let detections: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["user"].as_str().unwrap().to_lowercase(),
                r["first_seen"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The attacks of the reported day that are fully visible (the last hour's records may
    // still be arriving).
    let now = simulated_now();
    let tenant = SimulatedTenant::new(1, 120);
    let attacks = tenant.attacks(
        now - chrono::Duration::hours(22),
        now - chrono::Duration::hours(1),
    );
    assert!(attacks.len() >= 2, "{attacks:?}");
    for a in &attacks {
        let ids: Vec<&str> = a.record_ids.iter().map(String::as_str).collect();
        let found = rows.iter().any(|r| {
            r["name"] == a.kind.detection().name()
                && r["record_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|id| ids.contains(&id.as_str().unwrap()))
        });
        assert!(
            found,
            "{:?} at {} not listed; listed: {detections:#?}",
            a.kind, a.start
        );
    }
    // Everything listed comes from an injected attack (of the listed range), with evidence.
    let all = tenant.attacks(now - chrono::Duration::hours(80), now);
    common::assert_all_from_attacks(rows, &all);
    for r in rows {
        assert!(!r["evidence"].as_str().unwrap().is_empty());
    }
    // Each medium- or high-risk detection was alerted once, in Slack's shape, the URL's
    // secret never in the log. The detection runs go on (every 2 s, the clock moving on): a
    // run that stores a detection alerts it at its end, so the two counts are compared once
    // they agree, or after 30 s (under load, one run found three more between the listing
    // above and the count).
    let settle = Instant::now();
    let got = loop {
        let listed = get("/api/risk/detections?last=3d&limit=1000&source=entra-monitor").await;
        let expected_alerts = listed["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["risk_level"] != "low")
            .count()
            .min(30);
        let got = alerts.lock().unwrap().clone();
        if got.len() == expected_alerts || settle.elapsed() > Duration::from_secs(30) {
            assert_eq!(got.len(), expected_alerts, "{got:#?}");
            break got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        got.iter()
            .all(|b| b["text"].as_str().is_some_and(|t| t.contains(" risk) — ")))
    );
    // Once each: no detection (its kind, user, times and evidence) alerted twice.
    let distinct: std::collections::BTreeSet<String> = got.iter().map(Value::to_string).collect();
    assert_eq!(distinct.len(), got.len(), "an alert sent twice: {got:#?}");
    assert!(!process.logs().contains("T00-B00-secret"));

    // Risky sign-ins: exactly the sign-ins our detections name, each with its detections; and
    // those Identity Protection rated (the attackers' successes from anonymising networks).
    let sign_in_detections: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            let kind = r["name"]
                .as_str()
                .unwrap()
                .parse::<shared::detect::DetectionKind>();
            !matches!(kind, Ok(k) if k.from_audit())
        })
        .collect();
    let mut named: Vec<String> = sign_in_detections
        .iter()
        .flat_map(|r| r["record_ids"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    named.sort();
    named.dedup();
    let signins = get("/api/risk/signins?last=3d&limit=1000&source=entra-monitor").await;
    let mut listed_ids: Vec<String> = signins["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["detections"].as_array().unwrap().is_empty(), "{r}");
            r["id"].as_str().unwrap().to_string()
        })
        .collect();
    listed_ids.sort();
    assert_eq!(listed_ids, named);
    let microsoft = get("/api/risk/signins?last=3d&limit=1000&source=Microsoft").await;
    let rated = microsoft["rows"].as_array().unwrap();
    assert!(!rated.is_empty(), "{microsoft}");
    for r in rated {
        assert_eq!(r["microsoft_risk_level"], "medium", "{r}");
        assert_eq!(r["result"], "0", "{r}");
    }

    // Our detections were routed as AADUserRiskEvents records: each once, in the Storage
    // archive (diagnostic-settings layout) and in the embedded table, marked as ours.
    let archived = |category: &str| -> Vec<Value> {
        let mut out = Vec::new();
        let mut stack = vec![archive.join(format!("insights-logs-{category}"))];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    let text = std::fs::read_to_string(e.path()).unwrap();
                    out.extend(
                        text.lines()
                            .map(|l| serde_json::from_str::<Value>(l).unwrap()),
                    );
                }
            }
        }
        out
    };
    let events = archived("userriskevents");
    let mut routed: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["properties"]["source"], "entra-monitor", "{e}");
            (
                e["properties"]["riskEventType"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                e["properties"]["userPrincipalName"]
                    .as_str()
                    .unwrap()
                    .to_lowercase(),
            )
        })
        .collect();
    let mut listed: Vec<(String, String)> = detections
        .iter()
        .map(|(n, u, _)| (n.clone(), u.clone()))
        .collect();
    routed.sort();
    listed.sort();
    // The listing covers three days; every detection stored was routed once.
    assert_eq!(routed, listed);
    // Those about an app (a credential added to it, a consent to it) were also routed as that
    // app's service principal risk, naming it, beside Microsoft's for service principals.
    let about_apps: Vec<String> = listed
        .iter()
        .filter(|(n, _)| n == "appCredentialAdded" || n == "highPrivilegeConsent")
        .map(|(n, _)| n.clone())
        .collect();
    assert!(!about_apps.is_empty(), "{listed:?}");
    let service_principal_events = archived("serviceprincipalriskevents");
    let mut about_apps_routed: Vec<String> = service_principal_events
        .iter()
        .filter(|e| e["properties"]["source"] == "entra-monitor")
        .map(|e| {
            let named = &e["properties"]["servicePrincipalDisplayName"];
            assert!(named.as_str().is_some_and(|n| !n.is_empty()), "{e}");
            e["properties"]["riskEventType"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    about_apps_routed.sort();
    assert_eq!(about_apps_routed, about_apps);
    assert!(
        service_principal_events
            .iter()
            .any(|e| e["properties"]["source"] == "IdentityProtection"),
        "Microsoft's service principal risk detections are collected too"
    );
    let table = get("/api/logs/UserRiskEvents?last=3d&limit=1000").await;
    let ours = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Source"] == "entra-monitor" && r["SourceSystem"] == "entra-monitor")
        .count();
    assert_eq!(ours, listed.len(), "{table}");
    // Microsoft's listing does not include ours.
    let microsoft = get("/api/risk/detections?last=3d&source=Microsoft").await;
    assert_eq!(
        microsoft["rows"].as_array().unwrap().len(),
        0,
        "{microsoft}"
    );

    // A risky user dismissed: written back to Graph (which then lists the user dismissed, and
    // collection brings Microsoft's record back), and our AADRiskyUsers record routed again
    // with the new state.
    let at_risk = get("/api/risk/users?state=atRisk").await;
    let user = at_risk["users"][0]["user"].as_str().unwrap().to_string();
    // State changes need the local admin key, even on loopback.
    let admin_key = std::fs::read_to_string(dir.path().join("data/local-admin-key")).unwrap();
    let response = client
        .post(format!("{base}/api/risk/users/dismiss"))
        .header("x-api-key", admin_key.trim())
        .json(&serde_json::json!({ "user": user, "reason": "known pen test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let acted: Value = response.json().await.unwrap();
    assert_eq!(acted["state"], "dismissed");
    assert_eq!(acted["graph"]["written_back"], true, "{acted}");
    // Graph now lists the user dismissed; collection brings Microsoft's record back.
    let start = Instant::now();
    loop {
        let table = get(&format!("/api/logs/RiskyUsers?last=1d&user={user}")).await;
        let rows = table["rows"].as_array().unwrap();
        if rows
            .iter()
            .any(|r| r["SourceSystem"] == "Azure AD" && r["RiskState"] == "dismissed")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Graph's dismissed record never collected: {table}\n{}",
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut states: Vec<(String, String)> = archived("riskyusers")
        .iter()
        .filter(|r| {
            r["properties"]["userPrincipalName"] == user.as_str()
                && r["properties"]["id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("entra-monitor-"))
        })
        .map(|r| {
            let p = &r["properties"];
            (
                p["riskLastUpdatedDateTime"].as_str().unwrap().to_string(),
                p["riskState"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    let states: Vec<&str> = states.iter().map(|(_, s)| s.as_str()).collect();
    // The archive has a line per version, as diagnostic settings do: at risk, then dismissed.
    assert_eq!(states, ["atRisk", "dismissed"], "{user}");
    // The embedded table holds the current state.
    let table = get(&format!("/api/logs/RiskyUsers?last=1d&user={user}")).await;
    let ours: Vec<&Value> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["SourceSystem"] == "entra-monitor")
        .collect();
    assert_eq!(ours.len(), 1, "{table}");
    assert_eq!(ours[0]["RiskState"], "dismissed", "{table}");

    // Detections also ran right after a collection of sign-ins, not only on their timer.
    assert!(
        process
            .logs()
            .lines()
            .any(|l| l.contains("function=\"collect-signins\"") && l.contains("audit events read")),
        "{}",
        process.logs()
    );

    // Authorisation and bad input like every endpoint.
    let bad = get("/api/risk/detections?source=everyone").await;
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("source: "),
        "{bad}"
    );
}
