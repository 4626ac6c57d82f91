//! The Azure Functions custom handler, driven the way the Functions host drives it
//! (<https://learn.microsoft.com/en-us/azure/azure-functions/functions-custom-handlers>): the process is started with FUNCTIONS_CUSTOMHANDLER_PORT, pinged at
//! `GET /`, sent invocation envelopes at `POST /{FunctionName}` and forwarded HTTP requests at
//! `/api/...`. No Functions host can be installed here, so these are the host's requests.

mod common;

use common::{Process, TempDir, corrupt_state, free_port, wait_until_up};
use serde_json::{Value, json};

struct Handler {
    process: Process,
    base: String,
    client: reqwest::Client,
    _dir: TempDir,
}

impl Handler {
    async fn start(label: &str, prepare: impl FnOnce(&std::path::Path)) -> Self {
        let dir = TempDir::new(label);
        prepare(dir.path());
        let port = free_port();
        let process = Process::start(
            dir.path(),
            &["azure"],
            &[
                ("FUNCTIONS_CUSTOMHANDLER_PORT", &port.to_string()),
                ("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "w1"),
            ],
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_until_up(&format!("{base}/"), &process).await;
        Self {
            process,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// POSTs an envelope as the host does; returns the status and the parsed answer.
    async fn invoke(
        &self,
        function: &str,
        invocation_id: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/{function}", self.base))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("X-Azure-Functions-InvocationId", invocation_id)
            .header("X-Azure-Functions-HostVersion", "4.1040.300.0")
            .body(body)
            .send()
            .await
            .expect("the handler answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}")),
        )
    }
}

fn timer_envelope(function: &str, schedule_status: Value, past_due: bool) -> String {
    json!({
        "Data": { "timer": { "Schedule": { "AdjustForDST": true }, "ScheduleStatus": schedule_status, "IsPastDue": past_due } },
        "Metadata": { "sys": { "MethodName": function, "UtcNow": "2026-11-27T10:05:00.0012345Z", "RandGuid": "35e6e68c-7b1f-4a5b-9c1e-1a2b3c4d5e6f" } }
    })
    .to_string()
}

fn http_envelope(query: Value) -> String {
    json!({
        "Data": { "req": {
            "Url": "http://localhost:7071/api/health?verbose=1",
            "Method": "GET",
            "Query": query,
            "Headers": { "Accept": ["application/json"], "User-Agent": ["curl/8.5.0"] },
            "Params": {},
            "Body": null
        } },
        "Metadata": { "Query": {}, "Headers": {}, "sys": { "MethodName": "health", "UtcNow": "2026-11-27T10:05:00Z", "RandGuid": "0f0e0d0c-0b0a-0908-0706-050403020100" } }
    })
    .to_string()
}

fn logs_of(answer: &Value) -> String {
    answer["Logs"]
        .as_array()
        .expect("Logs is an array")
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn timer_and_http_envelopes_are_answered_in_the_host_format() {
    let h = Handler::start("azure-ok", |_| {}).await;

    // The host's liveness ping.
    let ping = h.client.get(format!("{}/", h.base)).send().await.unwrap();
    assert_eq!(ping.status(), 200);

    // Timer with a ScheduleStatus.
    let status = json!({ "Last": "2026-11-27T10:00:00+00:00", "Next": "2026-11-27T10:10:00+00:00", "LastUpdated": "2026-11-27T10:00:01+00:00" });
    let (code, answer) = h
        .invoke(
            "collect-audit",
            "11111111-aaaa-4bbb-8ccc-000000000001",
            timer_envelope("collect-audit", status, false),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["Outputs"], json!({}));
    assert!(answer["ReturnValue"].is_null());
    let logs = logs_of(&answer);
    assert!(
        logs.contains("tenant simulated: AuditLogs: ") && logs.contains("complete"),
        "{logs}"
    );
    assert!(logs.contains("succeeded"), "{logs}");

    // Timer with a null ScheduleStatus (first run / no monitor), past due.
    let (code, answer) = h
        .invoke(
            "collect-signins",
            "11111111-aaaa-4bbb-8ccc-000000000002",
            timer_envelope("collect-signins", Value::Null, true),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let logs = logs_of(&answer);
    assert!(logs.contains("past due"), "{logs}");
    assert!(
        logs.contains("SignInLogs") && logs.contains("ManagedIdentitySignInLogs"),
        "{logs}"
    );

    // HTTP with Query as an object: the health answer travels in Outputs.res with all four fields.
    let (code, answer) = h
        .invoke(
            "health",
            "11111111-aaaa-4bbb-8ccc-000000000003",
            http_envelope(json!({ "verbose": "1" })),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let res = &answer["Outputs"]["res"];
    assert_eq!(res["statusCode"], 200);
    assert_eq!(res["status"], 200);
    assert!(
        res["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );
    let health: Value =
        serde_json::from_str(res["body"].as_str().expect("body is a string")).unwrap();
    assert_eq!(health["host"], "azure");
    let functions = health["functions"].as_array().unwrap();
    let names: Vec<&str> = functions
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "collect-signins",
            "collect-audit",
            "collect-provisioning",
            "collect-risk",
            "collect-inventory",
            "replay-spool",
            "retention",
            "detect-risks",
            "evaluate-recommendations",
            "monitor-health",
            "health",
            "health-alerts",
            "health-microsoft-signals",
            "health-alert",
            "health-alert-action",
            "risk-detections",
            "risky-sign-ins",
            "risky-users",
            "risky-user-action",
            "recommendations",
            "recommendation",
            "recommendation-resources",
            "recommendation-action",
            "recommendation-resource-action",
            "workbooks",
            "workbook-asset",
            "openapi",
            "admin-access",
            "app-users",
            "password-resets",
            "sign-in-pattern",
            "weekly-users",
            "sign-in-status",
            "sign-in-breakdown",
            "ca-policies",
            "groups-created",
            "users-removed",
            "users-created",
            "logs",
            "provisioning",
            "client-apps",
            "app-sign-ins",
            "app-sign-in-failures",
            "service-principal-sign-ins",
            "app-credentials",
            "auth-requirements",
            "auth-method-usage",
            "auth-registration",
            "password-activity",
            "inactive-users",
            "health-signals"
        ]
    );
    // The runs above are recorded and reported, with outcome, duration and invocation id.
    let audit = &functions[1]["last_run"];
    assert_eq!(audit["outcome"], "succeeded");
    assert_eq!(
        audit["invocation_id"],
        "11111111-aaaa-4bbb-8ccc-000000000001"
    );
    assert!(audit["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(functions[0]["last_run"]["past_due"], true);
    assert!(functions[2]["last_run"].is_null());

    // HTTP with Query as a JSON-encoded string, as older hosts send it.
    let (code, answer) = h
        .invoke(
            "health",
            "11111111-aaaa-4bbb-8ccc-000000000004",
            http_envelope(json!("{\"verbose\":\"1\"}")),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["Outputs"]["res"]["statusCode"], 200);

    // A forwarded HTTP request (enableForwardingHttpRequest) reaches the same function.
    let fwd = h
        .client
        .get(format!("{}/api/health", h.base))
        .header(
            "X-Azure-Functions-InvocationId",
            "11111111-aaaa-4bbb-8ccc-000000000005",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fwd.status(), 200);
    let body: Value = fwd.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // Logs are JSON lines on Azure, each invocation's lines carrying its function and id.
    let logs = h.process.logs();
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["span"]["invocation_id"] == "11111111-aaaa-4bbb-8ccc-000000000001")
        .unwrap_or_else(|| panic!("no JSON log line for the first invocation:\n{logs}"));
    assert_eq!(line["span"]["function"], "collect-audit");
}

#[tokio::test]
async fn bad_envelopes_get_clear_errors() {
    let h = Handler::start("azure-bad", |_| {}).await;

    let (code, answer) = h
        .invoke(
            "collect-everything",
            "22222222-aaaa-4bbb-8ccc-000000000001",
            timer_envelope("x", Value::Null, false),
        )
        .await;
    assert_eq!(code, 404);
    let logs = logs_of(&answer);
    assert!(
        logs.contains("no function named \"collect-everything\"")
            && logs.contains("collect-signins"),
        "{logs}"
    );

    let (code, answer) = h
        .invoke(
            "collect-audit",
            "22222222-aaaa-4bbb-8ccc-000000000002",
            "this is not json",
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        logs_of(&answer).contains("the invocation body is not JSON"),
        "{answer}"
    );

    let (code, answer) = h
        .invoke(
            "health",
            "22222222-aaaa-4bbb-8ccc-000000000003",
            r#"{"Data": {"req": {"Query": "x=1"}}}"#,
        )
        .await;
    assert_eq!(code, 400);
    assert!(logs_of(&answer).contains("Data.req.Query"), "{answer}");

    let (code, answer) = h
        .invoke(
            "collect-audit",
            "22222222-aaaa-4bbb-8ccc-000000000004",
            vec![b' '; 2 * 1024 * 1024],
        )
        .await;
    assert_eq!(code, 413);
    assert!(logs_of(&answer).contains("larger than"), "{answer}");

    // The handler is still healthy after all of that.
    let (code, _) = h
        .invoke(
            "collect-audit",
            "22222222-aaaa-4bbb-8ccc-000000000005",
            timer_envelope("collect-audit", Value::Null, false),
        )
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_failing_function_answers_500_and_logs_why() {
    let h = Handler::start("azure-fail", corrupt_state).await;

    let (code, answer) = h
        .invoke(
            "collect-signins",
            "33333333-aaaa-4bbb-8ccc-000000000001",
            timer_envelope("collect-signins", Value::Null, false),
        )
        .await;
    assert_eq!(code, 500, "{answer}");
    let logs = logs_of(&answer);
    assert!(logs.contains("state.sqlite is unusable"), "{logs}");

    // The reason is in the process log too, as an error of that invocation.
    let logs = h.process.logs();
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["level"] == "ERROR"
                && v["span"]["invocation_id"] == "33333333-aaaa-4bbb-8ccc-000000000001"
        })
        .unwrap_or_else(|| panic!("no error line for the failed invocation:\n{logs}"));
    assert!(line.to_string().contains("unusable"), "{line}");

    // Health does not fail: it answers, inside a successful envelope, 503 naming the problem.
    let (code, answer) = h
        .invoke(
            "health",
            "33333333-aaaa-4bbb-8ccc-000000000002",
            http_envelope(json!({})),
        )
        .await;
    assert_eq!(code, 200);
    let res = &answer["Outputs"]["res"];
    assert_eq!(res["statusCode"], 503);
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "degraded");
    // Without a credential the reason is not given (it names the store's path); the
    // invocation's log above has it.
    assert_eq!(body["state"], json!({ "ok": false }), "{body}");
    assert!(!body.to_string().contains("state.sqlite"), "{body}");
}
