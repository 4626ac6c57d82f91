//! Bad configuration stops start-up with one clear line per problem and exit code 2, and no
//! secret value is ever printed.

mod common;

use common::{TempDir, run, run_ok};

const SECRET: &str = "Zq8~SUPER-SECRET-VALUE-do-not-print";

#[test]
fn every_problem_is_named_on_its_own_line_and_nothing_starts() {
    let dir = TempDir::new("config");
    let file = dir.path().join("entra-monitor.toml");
    std::fs::write(
        &file,
        r#"
[[tenants]]
id = "contoso.onmicrosoft.com"
client_id = "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
client_secret_env = "CONTOSO_SECRET"

[[tenants]]
id = "fabrikam"
client_id = "7a2b3c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d"
client_secret_env = "CONTOSO_SECRET"

[[tenants]]
id = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
name = "tailspin"
client_id = "8b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"

[routes]
AuditLogs = ["embedded", "splunk"]
"#,
    )
    .unwrap();
    for command in ["serve", "azure", "check-config"] {
        let out = run(
            dir.path(),
            &["--config", file.to_str().unwrap(), command],
            &[
                ("CONTOSO_SECRET", SECRET),
                ("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS", "0 */5 * * *"),
                ("FUNCTIONS_CUSTOMHANDLER_PORT", "1"),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("configuration error: "))
            .collect();
        assert_eq!(problems.len(), 4, "{command}:\n{stderr}");
        let has = |needle: &str| problems.iter().any(|l| l.contains(needle));
        assert!(
            has("tenants[1].id: \"fabrikam\" is neither a tenant GUID"),
            "{stderr}"
        );
        assert!(
            has(
                "tenants[2] (tailspin): client id 8b3c4d5e-6f70-4182-93a4-b5c6d7e8f901 has no secret"
            ),
            "{stderr}"
        );
        assert!(
            has("routes.AuditLogs: unknown destination \"splunk\""),
            "{stderr}"
        );
        assert!(
            has("ENTRA_MONITOR_SCHEDULE_COLLECT_SIGNINS: \"0 */5 * * *\" has 5 fields"),
            "{stderr}"
        );
        assert!(
            !stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{command} printed to stdout");
        // Nothing was started: no state was created.
        assert!(!dir.path().join("data").exists());
    }
}

#[test]
fn a_valid_configuration_passes_and_its_secret_stays_hidden() {
    let dir = TempDir::new("config-ok");
    let out = run_ok(
        dir.path(),
        &["check-config"],
        &[
            ("ENTRA_MONITOR_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", SECRET),
            ("ENTRA_MONITOR_ROUTES_SIGNINLOGS", "embedded,storage"),
            (
                "ENTRA_MONITOR_STORAGE_CONNECTION_STRING",
                "DefaultEndpointsProtocol=https;AccountName=contosologs;AccountKey=c3RvcmFnZS1rZXktdmFsdWU=",
            ),
            ("ENTRA_MONITOR_LOG", "debug"),
        ],
    );
    for secret in [SECRET, "c3RvcmFnZS1rZXktdmFsdWU="] {
        assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
}

#[test]
fn a_typo_in_a_setting_name_is_caught() {
    let dir = TempDir::new("config-typo");
    let out = run(
        dir.path(),
        &["check-config"],
        &[("ENTRA_MONITOR_LISTEN_ADDRESS", "127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("configuration error: ENTRA_MONITOR_LISTEN_ADDRESS: unknown setting"),
        "{stderr}"
    );
}

/// Settings that would weaken what the endpoints protect are refused at start (issue 19):
/// an API key whose `@` names no tenant (or `*`, which would mean all of them), a key limited
/// to a tenant that is not configured, plain-http identity or Graph hosts that are not this
/// machine, and `serve` on a network address with no credential at all.
#[test]
fn settings_that_would_open_the_endpoints_are_refused() {
    let dir = TempDir::new("config-open");
    let hash = shared::auth::hash_key("k");
    let keys = format!("a={hash}@;b={hash}@*;c={hash}@no-such-tenant.example");
    let out = run(
        dir.path(),
        &["check-config"],
        &[
            (
                "ENTRA_MONITOR_TENANT_ID",
                "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
            ),
            (
                "ENTRA_MONITOR_CLIENT_ID",
                "8b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
            ),
            ("ENTRA_MONITOR_CLIENT_SECRET", SECRET),
            ("ENTRA_MONITOR_API_KEYS", &keys),
            ("ENTRA_MONITOR_AUTHORITY_HOST", "http://login.example.com"),
            ("ENTRA_MONITOR_GRAPH_HOST", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "the key a names no tenant after @",
        "the key b names no tenant after @",
        "the key c names the tenant \"no-such-tenant.example\"",
        "ENTRA_MONITOR_AUTHORITY_HOST: \"http://login.example.com\" is plain http",
    ] {
        assert!(stderr.contains(needle), "{needle}:\n{stderr}");
    }
    // A loopback Graph over http (a local stand-in) is fine.
    assert!(!stderr.contains("ENTRA_MONITOR_GRAPH_HOST"), "{stderr}");
    assert!(!stderr.contains(SECRET));

    for command in ["serve", "check-config"] {
        let out = run(
            dir.path(),
            &[command],
            &[("ENTRA_MONITOR_LISTEN", "0.0.0.0:7071")],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("not a loopback address and no credential"),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
