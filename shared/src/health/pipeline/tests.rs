//! The pipeline alarms: conditions from checkpoints and destinations, raised once, resolved
//! when they clear, left alone while dismissed.

use super::*;
use chrono::TimeZone;

fn checkpoint(category: &str) -> Checkpoint {
    Checkpoint {
        tenant: "t1".into(),
        category: category.into(),
        watermark: None,
        last_run_at: None,
        window_from: None,
        window_to: None,
        records_last_run: 0,
        new_last_run: 0,
        requests_last_run: 0,
        throttled_last_run: 0,
        rejected_total: 0,
        drift_total: 0,
        last_error: None,
        paused_until: None,
        since: None,
    }
}

#[test]
fn each_condition_is_one_alert_until_it_clears() {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
    let dir = std::env::temp_dir().join(format!("entra-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteState::open(&dir).unwrap();
    let mut risk = checkpoint("UserRiskEvents");
    risk.paused_until = Some(now + Duration::hours(6));
    risk.last_error = Some(
        "Graph refused the request (Forbidden): grant the app IdentityRiskEvent.Read.All".into(),
    );
    let mut sign_ins = checkpoint("SignInLogs");
    sign_ins.watermark = Some(now - Duration::hours(5));
    sign_ins.requests_last_run = 10;
    sign_ins.throttled_last_run = 6;
    let mut audit = checkpoint("AuditLogs");
    audit.watermark = Some(now - Duration::minutes(20));
    audit.drift_total = 3;
    let mut elsewhere = checkpoint("SignInLogs");
    elsewhere.tenant = "t2".into();
    elsewhere.last_error = Some("another tenant's".into());
    let destinations = json!({"routes": [
        {"destination": "embedded"},
        {"destination": "log-analytics", "last_success": "2026-11-26T13:00:00Z",
         "last_error_at": "2026-11-26T13:50:00Z", "last_error": "HTTP 403: the DCR refused the token", "dead_letters": 0},
        {"destination": "storage", "last_success": "2026-11-26T13:55:00Z", "dead_letters": 2},
    ]});
    let mut conditions = of_checkpoints(&[risk, sign_ins.clone(), audit, elsewhere], "t1", now);
    conditions.extend(of_destinations(&destinations));
    let kinds: Vec<(&str, &str)> = conditions
        .iter()
        .map(|c| (c.alert_type, c.key.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("pipelineCategoryPaused", "paused:UserRiskEvents"),
            ("pipelineLag", "lag:SignInLogs"),
            ("pipelineThrottled", "throttled:SignInLogs"),
            ("pipelineSchemaDrift", "drift:AuditLogs"),
            ("pipelineDestinationFailing", "destination:log-analytics"),
            ("pipelineDeadLetters", "dead-letters:storage"),
        ]
    );
    // Each with its reason and what to do.
    assert!(conditions[0].reason.contains("IdentityRiskEvent.Read.All"));
    assert!(conditions[1].reason.contains("5 hours behind"));
    assert!(conditions[4].reason.contains("HTTP 403"));
    let (raised, cleared) = reconcile(&store, "t1", &conditions, now).unwrap();
    assert_eq!((raised.len(), cleared), (6, 0));
    let a = &raised[0];
    assert_eq!(
        (
            a.alert["alertType"].as_str(),
            a.alert["scenario"].as_str(),
            a.state.as_str()
        ),
        (
            Some("pipelineCategoryPaused"),
            Some("pipeline"),
            alert::ACTIVE
        )
    );
    let summary = a.alert["explanation"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("paused until") && summary.contains("What to do"),
        "{summary}"
    );
    // Again: nothing new.
    let later = now + Duration::minutes(15);
    assert_eq!(
        reconcile(&store, "t1", &conditions, later).unwrap(),
        (vec![], 0)
    );
    // A person dismisses the drift: not raised again while it lasts.
    let drift = raised
        .iter()
        .find(|a| a.signal == "pipeline:drift:AuditLogs")
        .unwrap();
    let mut dismissed = drift.clone();
    dismissed.state = alert::DISMISSED.into();
    alert::set_state(&mut dismissed, "admin", later, "known: new fields");
    store
        .put_health_alert(
            "t1",
            &dismissed,
            Some((
                alert::ACTIVE,
                StateChange {
                    at: later,
                    to: alert::DISMISSED,
                    by: "admin",
                    reason: "known: new fields",
                },
            )),
        )
        .unwrap();
    // The sign-ins catch up: lag and throttling clear and are resolved by the system; the rest
    // stay.
    let caught_up: Vec<Condition> = conditions
        .iter()
        .filter(|c| !c.key.ends_with(":SignInLogs"))
        .cloned()
        .collect();
    let (raised, cleared) = reconcile(&store, "t1", &caught_up, later).unwrap();
    assert_eq!((raised.len(), cleared), (0, 2));
    let lag = store
        .health_alerts("t1", now, later, Some(alert::RESOLVED), 10)
        .unwrap();
    assert_eq!(lag.len(), 2);
    let history = store.health_alert_history("t1", &lag[0].id).unwrap();
    assert_eq!(history.last().unwrap()["reason"], "the condition cleared");
    let active = store
        .health_alerts("t1", now, later, Some(alert::ACTIVE), 10)
        .unwrap();
    assert_eq!(active.len(), 3, "paused, destination failing, dead letters");
    std::fs::remove_dir_all(&dir).ok();
}
