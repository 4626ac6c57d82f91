use super::*;

const FUNCTIONS: &[&str] = &["collect-signins", "collect-audit"];

fn env(pairs: &[(&str, &str)]) -> ConfigSource {
    ConfigSource {
        file: None,
        env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn problems(source: &ConfigSource) -> Vec<String> {
    Config::load(source, Host::Local, FUNCTIONS)
        .unwrap_err()
        .0
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn defaults_use_the_simulated_tenant_and_the_embedded_store() {
    let c = Config::load(&env(&[]), Host::Local, FUNCTIONS).unwrap();
    assert!(c.uses_simulated_tenant());
    assert_eq!(c.listen.to_string(), "127.0.0.1:7071");
    assert_eq!(c.log_format, LogFormat::Text);
    assert!(c.routes.values().all(|d| d == &vec![Destination::Embedded]));
    assert_eq!(c.routes.len(), Category::ALL.len());
    assert_eq!(
        Config::defaults(Host::Lambda).data_dir,
        PathBuf::from("/tmp/entra-monitor")
    );
    assert_eq!(Config::defaults(Host::Azure).log_format, LogFormat::Json);
}

#[test]
fn the_simulated_start_is_a_time_and_only_for_the_simulated_tenant() {
    let c = Config::load(
        &env(&[("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z")]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    assert_eq!(
        c.simulated_start.map(|t| t.to_rfc3339()),
        Some("2026-11-19T15:00:00+00:00".to_string())
    );
    let p = problems(&env(&[("ENTRA_MONITOR_SIMULATED_START", "yesterday")]));
    assert!(
        p.iter()
            .any(|p| p.contains("ENTRA_MONITOR_SIMULATED_START")
                && p.contains("expected RFC 3339")),
        "{p:?}"
    );
    let p = problems(&env(&[
        ("ENTRA_MONITOR_SIMULATED_START", "2026-11-19T15:00:00Z"),
        ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
        (
            "ENTRA_MONITOR_CLIENT_ID",
            "00000000-0000-0000-0000-000000000001",
        ),
        ("ENTRA_MONITOR_CLIENT_SECRET", "s"),
    ]));
    assert!(
        p.iter()
            .any(|p| p.contains("applies only to the simulated tenant")),
        "{p:?}"
    );
}

#[test]
fn detection_thresholds_are_read_and_checked() {
    let c = Config::load(
        &env(&[
            ("ENTRA_MONITOR_VPN_EGRESS", "203.0.113., 198.51.100.7"),
            ("ENTRA_MONITOR_DETECT_SPRAY_MIN_USERS", "20"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    assert_eq!(c.detections.vpn_egress, vec!["203.0.113.", "198.51.100.7"]);
    assert_eq!(c.detections.spray_min_users, 20);
    assert_eq!(c.detections.brute_min_failures, 6);
    let e = Config::load(
        &env(&[("ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH", "fast")]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ENTRA_MONITOR_DETECT_TRAVEL_MAX_KMH: \"fast\" is out of range"),
        "{e}"
    );
    let list = std::env::temp_dir().join(format!("entra-tor-{}.txt", std::process::id()));
    std::fs::write(
        &list,
        "# Tor exit nodes\n185.220.101.\n\n45.153.160.7 # one host\n",
    )
    .unwrap();
    let c = Config::load(
        &env(&[("ENTRA_MONITOR_ANONYMOUS_IP_FILE", list.to_str().unwrap())]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    assert_eq!(
        c.detections.anonymous_ips,
        vec!["185.220.101.", "45.153.160.7"]
    );
    std::fs::remove_file(&list).ok();
    let e = Config::load(
        &env(&[("ENTRA_MONITOR_ANONYMOUS_IP_FILE", "/nonexistent/tor.txt")]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ENTRA_MONITOR_ANONYMOUS_IP_FILE: cannot read /nonexistent/tor.txt"),
        "{e}"
    );
}

#[test]
fn the_alert_webhook_is_read_and_its_secret_never_repeated() {
    let c = Config::load(
        &env(&[
            (
                "ENTRA_MONITOR_ALERT_WEBHOOK",
                "https://hooks.slack.com/services/T0/B0/s3cret",
            ),
            ("ENTRA_MONITOR_ALERT_FORMAT", "slack"),
            ("ENTRA_MONITOR_ALERT_MAX_PER_HOUR", "5"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    let a = c.alerts.unwrap();
    assert_eq!(
        (a.format, a.max_per_hour, a.min_level),
        (
            crate::detect::alerts::AlertFormat::Slack,
            5,
            crate::detect::RiskLevel::Medium
        )
    );
    assert!(!format!("{a:?}").contains("s3cret"));
    let e = Config::load(
        &env(&[
            (
                "ENTRA_MONITOR_ALERT_WEBHOOK",
                "hooks.slack.com/services/T0/B0/s3cret",
            ),
            ("ENTRA_MONITOR_ALERT_FORMAT", "email"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ENTRA_MONITOR_ALERT_WEBHOOK: is not an http(s) URL"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn destinations_are_checked_against_the_routes() {
    let e = Config::load(
        &env(&[
            (
                "ENTRA_MONITOR_ROUTES_SIGNINLOGS",
                "log-analytics,event-hubs",
            ),
            ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "storage"),
            (
                "ENTRA_MONITOR_LOG_ANALYTICS_ENDPOINT",
                "https://x.westeurope-1.ingest.monitor.azure.com",
            ),
            ("ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID", "my-dcr"),
            (
                "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send",
            ),
            ("ENTRA_MONITOR_RETENTION_DAYS", "0"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "ENTRA_MONITOR_LOG_ANALYTICS_DCR_ID: \"my-dcr\" is not a DCR immutable id",
        "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING: not an Event Hubs connection string: SharedAccessKey is missing",
        "ENTRA_MONITOR_ROUTES_SIGNINLOGS: routes SignInLogs to event-hubs, which is not configured",
        "ENTRA_MONITOR_ROUTES_AUDITLOGS: routes AuditLogs to storage, which is not configured; set ENTRA_MONITOR_STORAGE_FOLDER",
        "ENTRA_MONITOR_RETENTION_DAYS: \"0\" is out of range",
    ] {
        assert!(e.contains(expected), "{expected}\nnot in\n{e}");
    }
    // The key never appears in a message.
    let e = Config::load(
        &env(&[
            (
                "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
                "AccountName=a;AccountKey=c2VjcmV0a2V5;BlobEndpoint=not a url",
            ),
            ("ENTRA_MONITOR_STORAGE_FOLDER", "x"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("set only one of the storage folder"), "{e}");
    assert!(!e.contains("c2VjcmV0a2V5"), "{e}");
    let ok = Config::load(
        &env(&[
            ("ENTRA_MONITOR_ROUTES_RISKYUSERS", "event-hubs,embedded"),
            (
                "ENTRA_MONITOR_EVENT_HUBS_CONNECTION_STRING",
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k;EntityPath=entra",
            ),
            ("ENTRA_MONITOR_EVENT_HUBS_MAX_REQUEST_BYTES", "262144"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    let eh = ok.destinations.event_hubs.unwrap();
    assert_eq!(
        (
            eh.endpoint.as_str(),
            eh.hub.as_deref(),
            eh.max_request_bytes
        ),
        ("https://x.servicebus.windows.net", Some("entra"), 262_144)
    );
    assert!(matches!(ok.destinations.spool, SpoolSetting::Folder(ref p) if p.ends_with("spool")));
    assert_eq!(ok.destinations.retention_days, 30);
}

#[test]
fn environment_settings_are_applied() {
    let c = Config::load(
        &env(&[
            ("ENTRA_MONITOR_SCHEDULE_COLLECT_AUDIT", "0 0 * * * *"),
            ("ENTRA_MONITOR_ROUTES_AUDITLOGS", "storage, embedded"),
            ("ENTRA_MONITOR_STORAGE_FOLDER", "archive"),
            ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "00000000-0000-0000-0000-0000000000AB",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", "s3cr3t"),
            ("ENTRA_MONITOR_LISTEN", "127.0.0.1:9999"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    assert_eq!(c.schedules["collect-audit"].as_str(), "0 0 * * * *");
    assert_eq!(
        c.routes[&Category::AuditLogs],
        vec![Destination::Storage, Destination::Embedded]
    );
    assert_eq!(c.tenants.len(), 1);
    assert_eq!(
        c.tenants[0].credential,
        Credential::ClientSecret {
            client_id: "00000000-0000-0000-0000-0000000000ab".into(),
            secret: Secret::new("s3cr3t")
        }
    );
    assert_eq!(c.listen.port(), 9999);
}

#[test]
fn every_problem_is_reported_at_once_and_secrets_never_appear() {
    let p = problems(&env(&[
        ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "*/5 * * * *"),
        ("ENTRA_MONITOR_ROUTES_SIGNINLOGS", "embedded,splunk"),
        ("ENTRA_MONITOR_TENANT_ID", "not a tenant"),
        (
            "ENTRA_MONITOR_CLIENT_ID",
            "00000000-0000-0000-0000-000000000001",
        ),
        ("ENTRA_MONITOR_LISTEN", "localhost"),
        ("ENTRA_MONITOR_LOG_FORMAT", "xml"),
    ]));
    assert_eq!(p.len(), 6, "{p:#?}");
    assert!(
        p[0].starts_with("ENTRA_MONITOR_LISTEN: \"localhost\" is not an address"),
        "{p:#?}"
    );
    assert!(p.iter().any(|l| l.starts_with("ENTRA_MONITOR_LOG_FORMAT:")));
    assert!(p.iter().any(|l| {
        l.starts_with("ENTRA_MONITOR_TENANT_ID: \"not a tenant\" is neither a tenant GUID")
    }));
    assert!(p.iter().any(|l| {
        l.starts_with("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS: \"*/5 * * * *\" has 5 fields")
    }));
    assert!(p.iter().any(|l| {
        l.starts_with("ENTRA_MONITOR_ROUTES_SIGNINLOGS: unknown destination \"splunk\"")
    }));
    assert!(
        p.iter()
            .any(|l| l.contains("client id 00000000-0000-0000-0000-000000000001 has no secret"))
    );

    // A tenant with a client id and no secret is named; the secret of another is not shown.
    let p = problems(&env(&[
        ("ENTRA_MONITOR_TENANT_ID", "contoso.com"),
        (
            "ENTRA_MONITOR_CLIENT_ID",
            "00000000-0000-0000-0000-000000000001",
        ),
        ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNIN", "0 * * * * *"),
    ]));
    assert!(p.iter().any(|l| l.contains("has no secret")), "{p:#?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNIN: no timer function"))
    );
}

#[test]
fn file_tenants_are_validated_and_secret_values_stay_hidden() {
    let dir = std::env::temp_dir().join(format!("entra-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        r#"
[[tenants]]
id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
name = "corp"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret_env = "CORP_SECRET"

[[tenants]]
id = "fabrikam"
client_id = "22222222-2222-2222-2222-222222222222"
client_secret = "very-secret-value"

[[tenants]]
id = "tailspin.com"
client_id = "33333333-3333-3333-3333-333333333333"

[schedules]
collect-everything = "0 * * * * *"

[routes]
AuditLogs = ["embedded", "kafka"]
"#,
    )
    .unwrap();
    let mut source = env(&[("CORP_SECRET", "corp-secret-value")]);
    source.file = Some(path.clone());
    let errors = Config::load(&source, Host::Local, FUNCTIONS).unwrap_err();
    let text = errors.to_string();
    assert!(
        text.contains("tenants[1].id: \"fabrikam\" is neither"),
        "{text}"
    );
    assert!(text.contains("tenants[2] (tailspin.com): client id 33333333-3333-3333-3333-333333333333 has no secret"), "{text}");
    assert!(
        text.contains("schedules.collect-everything: no timer function"),
        "{text}"
    );
    assert!(
        text.contains("routes.AuditLogs: unknown destination \"kafka\""),
        "{text}"
    );
    assert!(
        !text.contains("very-secret-value") && !text.contains("corp-secret-value"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");

    // With the problems fixed, the secret is held but never printed by Debug.
    std::fs::write(
        &path,
        "[[tenants]]\nid = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret_env = \"CORP_SECRET\"\n",
    )
    .unwrap();
    let c = Config::load(&source, Host::Local, FUNCTIONS).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("corp-secret-value"), "{debug}");
    assert!(debug.contains("Secret(<redacted>)"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn tenants_share_a_multi_tenant_app_and_narrow_their_categories() {
    let dir = std::env::temp_dir().join(format!("entra-config-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        r#"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret_env = "MSP_APP_SECRET"
categories = ["SignInLogs", "AuditLogs"]

[[tenants]]
id = "contoso.onmicrosoft.com"

[[tenants]]
id = "fabrikam.onmicrosoft.com"
categories = ["AuditLogs", "ProvisioningLogs"]

[[tenants]]
id = "tailspin.onmicrosoft.com"
managed_identity = true
"#,
    )
    .unwrap();
    let mut source = env(&[("MSP_APP_SECRET", "msp-secret")]);
    source.file = Some(path.clone());
    let c = Config::load(&source, Host::Local, FUNCTIONS).unwrap();
    let shared = Credential::ClientSecret {
        client_id: "11111111-1111-1111-1111-111111111111".into(),
        secret: Secret::new("msp-secret"),
    };
    assert_eq!(c.tenants[0].credential, shared);
    assert_eq!(c.tenants[1].credential, shared);
    assert_eq!(
        c.tenants[2].credential,
        Credential::ManagedIdentity { client_id: None }
    );
    assert_eq!(
        c.tenants[0].categories,
        vec![Category::SignInLogs, Category::AuditLogs]
    );
    assert_eq!(
        c.tenants[1].categories,
        vec![Category::AuditLogs, Category::ProvisioningLogs]
    );

    // The environment's client id and secret serve the file's tenants too.
    std::fs::write(
        &path,
        "[[tenants]]\nid = \"contoso.onmicrosoft.com\"\ncategories = [\"SignIns\"]\n",
    )
    .unwrap();
    let mut source = env(&[
        (
            "ENTRA_MONITOR_CLIENT_ID",
            "22222222-2222-2222-2222-222222222222",
        ),
        ("ENTRA_MONITOR_CLIENT_SECRET", "s"),
    ]);
    source.file = Some(path.clone());
    let p = problems(&source);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("tenants[0].categories: unknown category \"SignIns\""),
        "{p:?}"
    );
    // A category Graph does not serve cannot be collected: the problem says how to get it.
    let p = problems(&env(&[(
        "ENTRA_MONITOR_CATEGORIES",
        "SignInLogs,MicrosoftGraphActivityLogs",
    )]));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("ENTRA_MONITOR_CATEGORIES: MicrosoftGraphActivityLogs is not served")
            && p[0].contains("entra-monitor import"),
        "{p:?}"
    );
    // Nor can our own: they are routed, not collected.
    for (own, routes) in [
        (
            "EntraMonitorRecommendations",
            "ENTRA_MONITOR_ROUTES_ENTRAMONITORRECOMMENDATIONS",
        ),
        (
            "EntraMonitorHealthAlerts",
            "ENTRA_MONITOR_ROUTES_ENTRAMONITORHEALTHALERTS",
        ),
    ] {
        let p = problems(&env(&[("ENTRA_MONITOR_CATEGORIES", own)]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("entra-monitor's own") && p[0].contains(routes),
            "{p:?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn overlap_and_settle_can_be_tuned_per_category() {
    let c = Config::load(
        &env(&[
            ("ENTRA_MONITOR_OVERLAP_MINUTES_SIGNINLOGS", "240"),
            ("ENTRA_MONITOR_SETTLE_MINUTES", "5"),
        ]),
        Host::Local,
        FUNCTIONS,
    )
    .unwrap();
    assert_eq!(
        c.overlaps[&Category::SignInLogs],
        chrono::Duration::hours(4)
    );
    assert!(!c.overlaps.contains_key(&Category::AuditLogs));
    assert_eq!(c.settle, chrono::Duration::minutes(5));
    let p = problems(&env(&[
        ("ENTRA_MONITOR_OVERLAP_MINUTES_AUDITLOGS", "0"),
        ("ENTRA_MONITOR_SETTLE_MINUTES", "soon"),
    ]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("ENTRA_MONITOR_OVERLAP_MINUTES_AUDITLOGS: 0 is out of range"))
    );
}

#[test]
fn a_malformed_file_names_the_line() {
    let dir = std::env::temp_dir().join(format!("entra-config-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_typo = 3\n").unwrap();
    let source = ConfigSource {
        file: Some(path.clone()),
        env: BTreeMap::new(),
    };
    let p = problems(&source);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].contains("line 2") && p[0].contains("listen_typo"),
        "{p:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shared_state_is_an_account_and_a_container_checked_like_the_others() {
    let c = Config::load(&env(&[]), Host::Local, FUNCTIONS).unwrap();
    assert!(c.state.shared.is_none(), "one process by default");
    let c = Config::load(
        &env(&[(
            "ENTRA_MONITOR_STATE_ACCOUNT_URL",
            "https://contosostate.blob.core.windows.net/",
        )]),
        Host::Azure,
        FUNCTIONS,
    )
    .unwrap();
    let (account, container) = c.state.shared.unwrap();
    assert!(matches!(
        account,
        crate::state::settings::StateAccount::AccountWithIdentity { ref url }
            if url == "https://contosostate.blob.core.windows.net"
    ));
    assert_eq!(container, "entra-monitor-state");
    let said = problems(&env(&[
        (
            "ENTRA_MONITOR_STATE_CONNECTION_STRING",
            "AccountName=x;AccountKey=a2V5",
        ),
        (
            "ENTRA_MONITOR_STATE_ACCOUNT_URL",
            "https://x.blob.core.windows.net",
        ),
        ("ENTRA_MONITOR_STATE_CONTAINER", "State_Here"),
    ]));
    assert!(
        said.iter()
            .any(|p| p.starts_with("ENTRA_MONITOR_STATE_CONTAINER:")
                && p.contains("not a container name")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|p| p.starts_with("ENTRA_MONITOR_STATE_ACCOUNT_URL:") && p.contains("not both")),
        "{said:?}"
    );
    // The key is never repeated.
    assert!(said.iter().all(|p| !p.contains("a2V5")), "{said:?}");
}

/// On AWS the shared state is an S3 bucket with the region and keys Lambda puts in the
/// function's environment; without them, or with an Azure account as well, it is refused
/// with what to set, and the secret key is never repeated.
#[test]
fn shared_state_on_s3_takes_lambdas_credentials() {
    let aws = [
        ("ENTRA_MONITOR_STATE_BUCKET", "contoso-entra-state"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "c2VjcmV0LWtleQ"),
        ("AWS_SESSION_TOKEN", "session"),
    ];
    let c = Config::load(&env(&aws), Host::Lambda, FUNCTIONS).unwrap();
    let (account, _) = c.state.shared.unwrap();
    assert!(matches!(
        account,
        crate::state::settings::StateAccount::S3 { ref bucket, ref region, endpoint: None, ref credentials }
            if bucket == "contoso-entra-state" && region == "eu-west-1"
                && credentials.session_token.is_some()
    ));
    let said = problems(&env(&[(
        "ENTRA_MONITOR_STATE_BUCKET",
        "contoso-entra-state",
    )]));
    assert!(
        said.iter()
            .any(|p| p.starts_with("ENTRA_MONITOR_STATE_BUCKET:")
                && p.contains("AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")),
        "{said:?}"
    );
    let said = problems(&env(&[("ENTRA_MONITOR_STATE_BUCKET", "Bad_Bucket")]));
    assert!(
        said.iter().any(|p| p.contains("not an S3 bucket name")),
        "{said:?}"
    );
    let mut both = aws.to_vec();
    both.push((
        "ENTRA_MONITOR_STATE_ACCOUNT_URL",
        "https://x.blob.core.windows.net",
    ));
    let said = problems(&env(&both));
    assert!(said.iter().any(|p| p.contains("not both")), "{said:?}");
    assert!(
        said.iter().all(|p| !p.contains("c2VjcmV0LWtleQ")),
        "{said:?}"
    );
}

/// In the cloud an instance's embedded store holds only what it collected since it started:
/// with a workspace configured, the questions go to Log Analytics unless told otherwise;
/// locally the embedded store stays the default.
#[test]
fn in_the_cloud_questions_go_to_log_analytics_when_a_workspace_is_configured() {
    use crate::query::params::Backend;
    let workspace = [(
        "ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID",
        "8b1d9c2e-3f4a-4b5c-9d6e-7f8a9b0c1d2e",
    )];
    let backend = |vars: &[(&str, &str)], host| {
        Config::load(&env(vars), host, FUNCTIONS)
            .unwrap()
            .query
            .backend
    };
    assert_eq!(backend(&workspace, Host::Local), Backend::Embedded);
    assert_eq!(backend(&workspace, Host::Azure), Backend::LogAnalytics);
    assert_eq!(backend(&workspace, Host::Lambda), Backend::LogAnalytics);
    assert_eq!(backend(&[], Host::Azure), Backend::Embedded);
    let mut chosen = workspace.to_vec();
    chosen.push(("ENTRA_MONITOR_QUERY_BACKEND", "embedded"));
    assert_eq!(backend(&chosen, Host::Azure), Backend::Embedded);
}
