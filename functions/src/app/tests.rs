use super::*;
use shared::clock::FixedClock;
use shared::config::Host;

fn app(data_dir: &std::path::Path) -> Arc<App> {
    let mut config = Config::defaults(Host::Local);
    config.data_dir = data_dir.to_path_buf();
    let clock = FixedClock::new(chrono::DateTime::from_timestamp(1_795_773_900, 0).unwrap());
    App::new(
        config,
        HostKind::Local,
        Arc::new(clock),
        crate::functions::REGISTRY.as_slice(),
    )
}

#[test]
fn a_function_cannot_start_twice_at_once() {
    let app = app(Path::new("unused"));
    let first = app.try_start("collect-audit").expect("first start");
    assert!(app.is_running("collect-audit"));
    assert!(
        app.try_start("collect-audit").is_none(),
        "a second run overlapped the first"
    );
    // Other functions are independent.
    assert!(app.try_start("collect-signins").is_some());
    drop(first);
    assert!(!app.is_running("collect-audit"));
    assert!(app.try_start("collect-audit").is_some());
}

#[tokio::test]
async fn an_occurrence_while_the_function_runs_is_skipped_and_recorded() {
    let dir = std::env::temp_dir().join(format!("entra-app-skip-{}", std::process::id()));
    let app = app(&dir);
    let guard = app.try_start("collect-audit").unwrap();
    let report = app
        .invoke_timer("collect-audit", TimerInfo::default(), "second".into())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Skipped);
    drop(guard);
    let last = app.state().unwrap().last_runs().unwrap();
    assert_eq!(last["collect-audit"].outcome, Outcome::Skipped);
    assert_eq!(last["collect-audit"].invocation_id, "second");
    // The fixed clock stamps the run.
    assert_eq!(last["collect-audit"].started_at, app.now());
    let report = app
        .invoke_timer("collect-audit", TimerInfo::default(), "third".into())
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Succeeded);
    std::fs::remove_dir_all(&dir).ok();
}
