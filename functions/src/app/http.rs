//! The request layer every HTTP function is reached through: routing, the caller's
//! credential, admission (host, origin, body), tenants, the cursor key, and the answer.

use super::*;

impl App {
    /// Finds the HTTP function serving `method` on `path` (the part below `/api/`).
    pub fn route(
        &self,
        method: &str,
        path: &str,
    ) -> Result<
        (
            &'static Function,
            std::collections::BTreeMap<String, String>,
        ),
        HttpResponse,
    > {
        let mut allowed = Vec::new();
        for f in self.registry.iter() {
            let Trigger::Http { route, methods, .. } = f.spec.trigger else {
                continue;
            };
            let Some(params) = match_route(route, path) else {
                continue;
            };
            if Method::parse(method).is_some_and(|m| methods.contains(&m)) {
                return Ok((f, params));
            }
            allowed.extend(methods.iter().map(|m| m.as_str()));
        }
        if allowed.is_empty() {
            Err(HttpResponse::error(
                404,
                "NotFound",
                format!(
                    "no endpoint at /api/{}; see /api/health for the list",
                    path.trim_matches('/')
                ),
            ))
        } else {
            let mut r = HttpResponse::error(
                405,
                "MethodNotAllowed",
                format!(
                    "/api/{} accepts {}",
                    path.trim_matches('/'),
                    allowed.join(", ")
                ),
            );
            r.headers.insert("allow".into(), allowed.join(", "));
            Err(r)
        }
    }

    /// Runs an HTTP function on a request already routed to it.
    pub async fn invoke_http(
        self: &Arc<Self>,
        function: &'static Function,
        req: HttpRequest,
        invocation_id: String,
    ) -> Result<(HttpResponse, Vec<String>), InvokeError> {
        let Handler::Http(handler) = function.handler else {
            return Err(InvokeError::NotHttp(function.spec.name.to_string()));
        };
        let name = function.spec.name;
        let span = tracing::info_span!("invocation", function = name, invocation_id = %invocation_id, host = self.host.as_str());
        let inv = self.invocation(name, invocation_id);
        async {
            // On a task of its own, so a panic (a bug) is a 500 with its invocation id, never a
            // connection dropped without an answer.
            let answered = tokio::spawn(handler(self.clone(), inv.clone(), req).in_current_span())
                .await
                .unwrap_or_else(|e| {
                    Err(FunctionError::Failed(if e.is_panic() {
                        "the function panicked (a bug: please report it with this invocation's log)"
                            .into()
                    } else {
                        format!("the function was stopped: {e}")
                    }))
                });
            match answered {
                Ok(resp) => {
                    tracing::debug!(status = resp.status, "answered");
                    Ok((resp, inv.logs()))
                }
                Err(error) => {
                    tracing::error!(error = %error, "{name} failed");
                    inv.log(format!("failed: {error}"));
                    Err(InvokeError::Failed {
                        function: name,
                        error,
                        logs: inv.logs(),
                    })
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The tenants collected from (configured, or the simulated one), known without starting
    /// anything: answering a question never starts the simulated Graph.
    pub fn tenants(&self) -> &[KnownTenant] {
        self.tenants.get_or_init(|| {
            if self.config.uses_simulated_tenant() {
                let tenant =
                    SimulatedTenant::new(self.config.simulated_seed, self.config.simulated_users);
                vec![KnownTenant {
                    id: tenant.directory.tenant_id.clone(),
                    name: "simulated".into(),
                }]
            } else {
                self.config
                    .tenants
                    .iter()
                    .map(|t| KnownTenant {
                        id: t.id.to_string(),
                        name: t.name.clone(),
                    })
                    .collect()
            }
        })
    }

    /// The authenticator, knowing the tenants (configured, or the simulated one).
    async fn authenticator(&self) -> Result<&Authenticator, FunctionError> {
        self.authenticator
            .get_or_try_init(|| async {
                Ok(Authenticator::new(
                    self.config.auth.clone(),
                    self.tenants().to_vec(),
                    &self.config.authority_host,
                ))
            })
            .await
    }

    /// What answers' cursors are signed with: a secret kept in the data folder (so that a
    /// cursor outlives a restart and is good on every instance sharing the folder), else one of
    /// this process when the folder cannot hold it.
    pub fn cursor_key(&self) -> &shared::query::params::CursorKey {
        self.cursor_key.get_or_init(|| {
            let path = self.config.data_dir.join(CURSOR_KEY_FILE);
            let secret = crate::admission::ensure_secret(&path)
                .ok()
                .filter(|s| s.trim().len() >= 32)
                .unwrap_or_else(|| {
                    tracing::warn!(
                        "cannot keep the cursor key in {}: cursors end with this process",
                        path.display()
                    );
                    crate::admission::new_secret()
                });
            shared::query::params::CursorKey::new(secret.trim().as_bytes())
        })
    }

    /// The local admin key (local host only), created in the data folder on first use.
    pub fn local_admin_key(&self) -> Option<&LocalAdminKey> {
        if self.host != HostKind::Local {
            return None;
        }
        self.local_admin
            .get_or_init(|| match LocalAdminKey::ensure(&self.config.data_dir) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::warn!(
                        "no local admin key ({e}); state-changing requests need an API key or a token"
                    );
                    None
                }
            })
            .as_ref()
    }

    /// Who is calling. Configured API keys and Entra audience apply on every host: with them,
    /// a request must carry one of those credentials (on Azure in addition to the function key
    /// the Functions host checked). With none configured, a local host on loopback trusts its
    /// caller to read (not to change state: that takes the local admin key), and on Azure a
    /// function-level request has passed the host's key check.
    async fn caller(&self, req: &HttpRequest, level: AuthLevel) -> Result<Caller, Unauthenticated> {
        if let (Some(key), Some(admin)) = (req.headers.get("x-api-key"), self.local_admin_key())
            && admin.matches(key)
        {
            return Ok(Caller::with_credential("local admin", None));
        }
        let auth = self
            .authenticator()
            .await
            .map_err(|e| Unauthenticated(format!("authentication is unavailable: {e}")))?;
        if auth.configured() {
            return auth.authenticate(&req.headers).await;
        }
        if self.host == HostKind::Local && self.config.listen.ip().is_loopback() {
            return Ok(Caller::local());
        }
        if self.host == HostKind::Azure && level == AuthLevel::Function {
            return Ok(Caller::with_credential("function key", None));
        }
        Err(Unauthenticated(
            "no credential is accepted here: configure ENTRA_MONITOR_API_KEYS or ENTRA_MONITOR_AUTH_AUDIENCE".into(),
        ))
    }

    /// Lets a request in, or answers why not, from its method, path and headers alone — before
    /// its body is read (see [`crate::admission`]).
    pub async fn admit(&self, req: &HttpRequest) -> Result<Admitted, HttpResponse> {
        if self.host == HostKind::Local && self.config.listen.ip().is_loopback() {
            admission::check_host(&req.headers)?;
        }
        admission::check_origin(&req.headers)?;
        // HEAD is answered as GET without the body.
        let method = if req.method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            req.method.as_str()
        };
        let (function, params) = self.route(method, &req.path)?;
        let level = match function.spec.trigger {
            Trigger::Http { auth, .. } => auth,
            Trigger::Timer { .. } => AuthLevel::Anonymous,
        };
        let unauthenticated = |message: String| {
            self.refusals.note(function.spec.name, &message);
            let mut r = HttpResponse::error(401, "Unauthenticated", message);
            r.headers.insert(
                "www-authenticate".into(),
                "Bearer realm=\"entra-monitor\"".into(),
            );
            r
        };
        let caller = match self.caller(req, level).await {
            Ok(c) => Some(c),
            Err(e) if level != AuthLevel::Anonymous => return Err(unauthenticated(e.to_string())),
            Err(_) => None,
        };
        let changes_state = method != "GET";
        if changes_state && !caller.as_ref().is_some_and(|c| c.credentialed) {
            let hint = match self.local_admin_key() {
                Some(k) => format!(
                    "state-changing requests need a credential even on loopback: send the local admin key (the contents of {}) in x-api-key",
                    k.path.display()
                ),
                None => "state-changing requests need a credential: an API key in x-api-key or an Entra access token".into(),
            };
            return Err(unauthenticated(hint));
        }
        admission::check_body(&req.method, &req.headers, None)?;
        Ok(Admitted {
            function,
            params,
            caller,
        })
    }

    /// Answers a request already let in by [`App::admit`], with its body read.
    pub async fn answer(
        self: &Arc<Self>,
        admitted: Admitted,
        mut req: HttpRequest,
        invocation_id: String,
    ) -> Answered {
        if let Err(r) = admission::check_body(&req.method, &req.headers, Some(req.body.len())) {
            return Answered::refused(r);
        }
        let head = req.method.eq_ignore_ascii_case("HEAD");
        if head {
            req.method = "GET".into();
        }
        req.params = admitted.params;
        req.caller = admitted.caller;
        let function = admitted.function;
        let (mut resp, logs, failed) =
            match self.invoke_http(function, req, invocation_id.clone()).await {
                Ok((resp, logs)) => (resp, logs, false),
                Err(e) => (
                    HttpResponse::error(
                        500,
                        "FunctionFailed",
                        format!(
                            "{} failed; the reason is logged under invocation id {invocation_id}",
                            function.spec.name
                        ),
                    ),
                    e.logs(),
                    true,
                ),
            };
        if head {
            resp.headers
                .insert("content-length".into(), resp.body.len().to_string());
            resp.body = bytes::Bytes::new();
        }
        Answered { resp, logs, failed }
    }

    /// Lets in and answers a request whose body is already read (Lambda, the Azure envelope,
    /// `entra-monitor run`), with the invocation's log lines.
    pub async fn handle_http_logged(
        self: &Arc<Self>,
        req: HttpRequest,
        invocation_id: String,
    ) -> Answered {
        match self.admit(&req).await {
            Ok(admitted) => self.answer(admitted, req, invocation_id).await,
            Err(r) => Answered::refused(r),
        }
    }

    /// Routes and answers an HTTP request. A failed function becomes a 500 whose body names
    /// the invocation to look up in the logs (the reason is logged, not sent).
    pub async fn handle_http(
        self: &Arc<Self>,
        req: HttpRequest,
        invocation_id: String,
    ) -> HttpResponse {
        self.handle_http_logged(req, invocation_id).await.resp
    }
}

/// An HTTP function's answer, its invocation's log lines, and whether the function failed
/// (rather than answered, perhaps with an error status of its own).
pub struct Answered {
    pub resp: HttpResponse,
    pub logs: Vec<String>,
    pub failed: bool,
}

impl Answered {
    fn refused(resp: HttpResponse) -> Self {
        Self {
            resp,
            logs: Vec::new(),
            failed: false,
        }
    }
}

/// A request let in: the function it goes to, its route parameters, who is calling.
pub struct Admitted {
    pub function: &'static Function,
    pub params: std::collections::BTreeMap<String, String>,
    pub caller: Option<Caller>,
}

/// The file in the data folder holding the key cursors are signed with.
pub const CURSOR_KEY_FILE: &str = "cursor-key";
