//! `workbooks` (GET `/api/workbooks`): the workbooks page — Sign-ins, Conditional Access,
//! legacy authentication, authentication prompts, MFA gaps, sensitive operations, app sign-in
//! health, provisioning, risk, usage & insights, recommendations, health and the pipeline — and
//! `workbook-asset` (GET `/api/workbooks/{asset}`), its script and style sheet.
//!
//! The page holds no data: its script is a client of the public API (each tile names the
//! endpoint it reads, and shows its KQL), sending the credential the user enters (kept in the
//! tab's session storage) in `x-api-key`, or `x-functions-key` on Azure. So the page and its
//! assets are served to anyone, like a login page, and are embedded in the binary. The Content
//! Security Policy lets the page load and call nothing but this origin, run no inline script,
//! and be framed by no one.

use crate::app::App;
use crate::functions::HttpResult;
use crate::invocation::{BoxFuture, HttpRequest, HttpResponse, Invocation};
use bytes::Bytes;
use shared::registry::{AuthLevel, FunctionSpec, Method, Trigger};
use std::sync::Arc;

pub static PAGE: FunctionSpec = FunctionSpec {
    name: "workbooks",
    description: "The workbooks page: Entra's workbooks over this API, in the browser.",
    trigger: Trigger::Http {
        route: "workbooks",
        methods: &[Method::Get],
        auth: AuthLevel::Anonymous,
    },
};

pub static ASSET: FunctionSpec = FunctionSpec {
    name: "workbook-asset",
    description: "The workbooks page's script and style sheet.",
    trigger: Trigger::Http {
        route: "workbooks/{asset}",
        methods: &[Method::Get],
        auth: AuthLevel::Anonymous,
    },
};

/// The embedded files: name, content type, content.
pub const ASSETS: [(&str, &str, &str); 3] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("workbooks/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("workbooks/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("workbooks/app.css"),
    ),
];

/// What the page may do: load and call this origin only, no inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

fn file(name: &str) -> HttpResponse {
    let Some((_, kind, content)) = ASSETS.iter().find(|(n, ..)| *n == name) else {
        return HttpResponse::error(
            404,
            "NotFound",
            format!(
                "the workbooks page has no file \"{}\"; it has app.js and app.css",
                name.chars().take(64).collect::<String>()
            ),
        );
    };
    let mut r = HttpResponse {
        status: 200,
        headers: Default::default(),
        body: Bytes::from_static(content.as_bytes()),
    };
    for (k, v) in [
        ("content-type", *kind),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ] {
        r.headers.insert(k.into(), v.into());
    }
    r
}

pub fn page(_app: Arc<App>, _inv: Invocation, _req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move { Ok(file("index.html")) })
}

pub fn asset(_app: Arc<App>, _inv: Invocation, req: HttpRequest) -> BoxFuture<HttpResult> {
    Box::pin(async move {
        let name = req.params.get("asset").map(String::as_str).unwrap_or("");
        Ok(match name {
            "index.html" => file(""),
            _ => file(name),
        })
    })
}
