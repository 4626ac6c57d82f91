//! Authentication of the question endpoints through the real binary: Entra access tokens signed
//! with the test key and checked against a local key server (JWKS at
//! `{authority}/{tenant}/discovery/v2.0/keys`), API keys configured as hashes, tenant
//! isolation (403), and a health answer without tenant data for an unauthenticated caller.

mod common;

use common::{Process, TempDir, credential_fixture, free_port, wait_until_up};
use serde_json::{Value, json};
use warp::Filter;

const CONTOSO: &str = "0a1b2c3d-0000-4000-8000-00000000000a";
const FABRIKAM: &str = "0a1b2c3d-0000-4000-8000-00000000000b";
const AUDIENCE: &str = "api://entra-monitor";
const FABRIKAM_KEY: &str = "fabrikam-reader-key-0123456789";

/// Key-set requests the key server answered.
static JWKS_FETCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Serves both tenants' signing keys; Graph requests get 404 (collection fails; not tested here).
async fn key_server() -> String {
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(credential_fixture("jwks.json")).unwrap()).unwrap();
    let keys = warp::path!(String / "discovery" / "v2.0" / "keys").map(move |tenant: String| {
        JWKS_FETCHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if tenant == CONTOSO || tenant == FABRIKAM {
            warp::reply::with_status(warp::reply::json(&jwks), warp::http::StatusCode::OK)
        } else {
            warp::reply::with_status(
                warp::reply::json(&json!({})),
                warp::http::StatusCode::NOT_FOUND,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(keys).incoming(listener).run());
    base
}

fn token(authority: &str, claims: Value) -> String {
    token_with_kid(authority, claims, "test-signing-key")
}

fn token_with_kid(authority: &str, claims: Value, kid: &str) -> String {
    let pem = std::fs::read(credential_fixture("app-credential.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "aud": AUDIENCE,
        "iss": format!("{authority}/{CONTOSO}/v2.0"),
        "tid": CONTOSO,
        "iat": now, "nbf": now, "exp": now + 3600,
        "appid": "11111111-2222-3333-4444-555555555555",
        "roles": ["Reports.Read"],
    });
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    jsonwebtoken::encode(&header, &c, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_are_checked_and_each_caller_reads_only_its_tenants() {
    let authority = key_server().await;
    let dir = TempDir::new("auth");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[tenants]]
id = "{CONTOSO}"
name = "contoso"
client_id = "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
client_secret = "unused"

[[tenants]]
id = "{FABRIKAM}"
name = "fabrikam"
client_id = "6f1c5a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
client_secret = "unused"

[auth]
audience = "{AUDIENCE}"

[[api_keys]]
name = "fabrikam-reader"
sha256 = "{}"
tenants = ["fabrikam"]
"#,
            shared::auth::hash_key(FABRIKAM_KEY)
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process::start(
        dir.path(),
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("ENTRA_MONITOR_LISTEN", &listen),
            ("ENTRA_MONITOR_AUTHORITY_HOST", &authority),
            ("ENTRA_MONITOR_GRAPH_HOST", &authority),
        ],
    );
    let base = format!("http://{listen}");
    wait_until_up(&format!("{base}/api/health"), &process).await;
    let client = reqwest::Client::new();
    let call = |path: &str, header: Option<(&str, String)>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let auth = r.headers().get("www-authenticate").is_some();
            let body: Value = r.json().await.unwrap();
            (status, body, auth)
        }
    };
    let bearer = |t: String| Some(("authorization", format!("Bearer {t}")));
    let contoso = "/api/signins/status?tenant=contoso";
    let fabrikam = "/api/signins/status?tenant=fabrikam";

    let (status, body, challenge) = call(contoso, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge, "a 401 carries WWW-Authenticate");
    let now = chrono::Utc::now().timestamp();
    // Change one character inside the signature (every bit of it counts there).
    let bad_signature = {
        let t = token(&authority, json!({}));
        let at = t.len() - 20;
        let c = if &t[at..at + 1] == "A" { "B" } else { "A" };
        format!("{}{c}{}", &t[..at], &t[at + 1..])
    };
    for (t, why) in [
        (
            token(
                &authority,
                json!({ "exp": now - 3600, "nbf": now - 7200, "iat": now - 7200 }),
            ),
            "expired",
        ),
        (
            token(&authority, json!({ "aud": "api://someone-else" })),
            "another audience",
        ),
        (
            token(&authority, json!({ "nbf": now + 3600, "exp": now + 7200 })),
            "not valid yet",
        ),
        (
            token(&authority, json!({ "iss": "https://evil.example/v2.0" })),
            "unexpected issuer",
        ),
        (bad_signature, "signature"),
        (
            token(&authority, json!({ "roles": ["Something.Else"] })),
            "lacks the Reports.Read role",
        ),
        (
            token(
                &authority,
                json!({ "tid": "0a1b2c3d-0000-4000-8000-00000000000c" }),
            ),
            "not configured",
        ),
        ("not-a-jwt".to_string(), "not a JWT"),
    ] {
        let (status, body, _) = call(contoso, bearer(t.clone())).await;
        assert_eq!(status, 401, "{why}: {body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{why}: {msg}");
        assert!(!msg.contains(&t), "the token is echoed");
    }
    // A valid Contoso token reads Contoso, not Fabrikam.
    let good = token(&authority, json!({}));
    let (status, body, _) = call(contoso, bearer(good.clone())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = call(fabrikam, bearer(good.clone())).await;
    assert_eq!(status, 403, "{body}");
    // A delegated token with the scope works too.
    let delegated = token(
        &authority,
        json!({ "roles": [], "scp": "User.Read Reports.Read" }),
    );
    assert_eq!(call(contoso, bearer(delegated)).await.0, 200);
    // The Fabrikam key reads Fabrikam only; a wrong key is refused.
    let key = |k: &str| Some(("x-api-key", k.to_string()));
    assert_eq!(call(fabrikam, key(FABRIKAM_KEY)).await.0, 200);
    assert_eq!(call(contoso, key(FABRIKAM_KEY)).await.0, 403);
    // A restricted key learns nothing of other tenants: the same 403 for one that exists and
    // one that does not, naming no other tenant.
    let (status, unknown, _) = call(
        "/api/signins/status?tenant=0a1b2c3d-0000-4000-8000-0000000000ff",
        key(FABRIKAM_KEY),
    )
    .await;
    assert_eq!(status, 403, "{unknown}");
    let (_, existing, _) = call(contoso, key(FABRIKAM_KEY)).await;
    assert_eq!(unknown["error"]["code"], existing["error"]["code"]);
    let (status, default, _) = call("/api/signins/status", key(FABRIKAM_KEY)).await;
    assert_eq!(status, 200, "its one tenant is its default: {default}");
    assert!(!default.to_string().contains(CONTOSO));

    // Tokens naming key ids the tenant does not have: one fetch of the keys, not one per
    // request (they used to be fetched again under one lock for each, and a valid token waited).
    let before = JWKS_FETCHES.load(std::sync::atomic::Ordering::SeqCst);
    let made_up: Vec<String> = (0..40)
        .map(|i| token_with_kid(&authority, json!({}), &format!("made-up-{}", i % 4)))
        .collect();
    let answers =
        futures_util::future::join_all(made_up.iter().map(|t| call(contoso, bearer(t.clone()))))
            .await;
    assert!(answers.iter().all(|(s, b, _)| {
        *s == 401
            && b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not one of the tenant's keys")
    }));
    assert_eq!(call(contoso, bearer(good.clone())).await.0, 200);
    let fetches = JWKS_FETCHES.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(fetches <= 1, "{fetches} key fetches for 40 unknown key ids");
    let (status, body, _) = call(fabrikam, key("guessed-key")).await;
    assert_eq!(status, 401);
    assert!(!body.to_string().contains("guessed-key"));

    // Only RS256: a token with the good one's claims signed HS256 (keyed with the public key's
    // text, the classic confusion) or not signed at all (`none`) is refused.
    let claims = good.split('.').nth(1).unwrap().to_string();
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("test-signing-key".into());
        let pem = std::fs::read(credential_fixture("public-key.pem")).unwrap();
        let payload: Value = serde_json::from_slice(
            &base64::engine::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &claims,
            )
            .unwrap(),
        )
        .unwrap();
        jsonwebtoken::encode(
            &header,
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(&pem),
        )
        .unwrap()
    };
    let none = format!(
        "{}.{claims}.",
        base64::engine::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT","kid":"test-signing-key"}"#
        )
    );
    for forged in [hs256, none] {
        let (status, body, _) = call(contoso, bearer(forged.clone())).await;
        assert_eq!(status, 401, "{forged}: {body}");
    }

    // The risk lifecycle is authorised per tenant too: Fabrikam's key cannot act on Contoso.
    let act = client
        .post(format!("{base}/api/risk/users/dismiss"))
        .header("x-api-key", FABRIKAM_KEY)
        .json(&json!({ "tenant": "contoso", "user": "someone@contoso.com", "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(act.status().as_u16(), 403);
    let act = client
        .post(format!("{base}/api/risk/users/dismiss"))
        .json(&json!({ "tenant": "contoso", "user": "someone@contoso.com", "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(act.status().as_u16(), 401);

    // Health: nothing about tenants without a credential; only Fabrikam with its key.
    // (Graph answers 404 here, so collection fails and health may already say degraded.)
    let (status, anonymous, _) = call("/api/health", None).await;
    assert!(status == 200 || status == 503, "{status}");
    assert_eq!(anonymous["status"] == "ok", status == 200, "{anonymous}");
    assert!(
        anonymous.get("collection").is_none()
            && anonymous.get("inventory").is_none()
            && anonymous.get("destinations").is_none(),
        "{anonymous}"
    );
    assert!(
        anonymous["functions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["last_run"].get("detail").is_none())
    );
    assert!(!anonymous.to_string().contains(CONTOSO));
    let (_, with_key, _) = call("/api/health", key(FABRIKAM_KEY)).await;
    let tenants: Vec<&str> = with_key["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tenant"].as_str().unwrap())
        .collect();
    assert!(
        !tenants.is_empty() && tenants.iter().all(|t| *t == FABRIKAM),
        "{tenants:?}"
    );
    assert!(
        with_key["inventory"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["tenant"] == FABRIKAM),
        "{with_key}"
    );
    let logs = process.logs();
    assert!(
        !logs.contains(&good) && !logs.contains(FABRIKAM_KEY),
        "a credential reached the logs"
    );
}
