//! Where the functions read and write: Graph sources per tenant (configured, or the simulated
//! tenant), tokens for the destinations, the router, the Log Analytics query client.

use super::*;

impl App {
    /// Where tokens for `resource` (Graph, Log Analytics, Event Hubs, Storage) come from when
    /// authenticating as `tenant` with `credential`.
    fn token_source(
        &self,
        name: &str,
        tenant: &str,
        credential: &Credential,
        resource: &str,
    ) -> Result<TokenSource, FunctionError> {
        let scope = format!("{resource}/.default");
        Ok(match credential {
            Credential::ClientSecret { client_id, secret } => TokenSource::ClientSecret {
                authority_host: self.config.authority_host.clone(),
                tenant: tenant.to_string(),
                client_id: client_id.clone(),
                secret: secret.clone(),
                scope,
            },
            Credential::ManagedIdentity { client_id } => {
                let (Ok(endpoint), Ok(header)) = (
                    std::env::var("IDENTITY_ENDPOINT"),
                    std::env::var("IDENTITY_HEADER"),
                ) else {
                    return Err(FunctionError::Failed(format!(
                        "{name}: managed identity is configured but this host offers none (IDENTITY_ENDPOINT and IDENTITY_HEADER are not set); enable the app's identity or use a client secret"
                    )));
                };
                TokenSource::ManagedIdentity {
                    endpoint,
                    header: shared::config::Secret::new(header),
                    resource: resource.to_string(),
                    client_id: client_id.clone(),
                }
            }
            Credential::Certificate { client_id, path } => TokenSource::Certificate {
                authority_host: self.config.authority_host.clone(),
                tenant: tenant.to_string(),
                client_id: client_id.clone(),
                pem_path: path.clone(),
                scope,
            },
            Credential::Simulated => {
                return Err(FunctionError::Failed(format!(
                    "{name}: a simulated tenant is used when no tenant is configured; remove the tenant settings"
                )));
            }
        })
    }

    /// Tokens for a destination's `resource`, as the configured destination credential.
    pub fn destination_tokens(&self, resource: &str) -> Result<Arc<TokenCache>, FunctionError> {
        let source = match &self.config.destinations.credential {
            DestinationCredential::ManagedIdentity => self.token_source(
                "destinations",
                "",
                &Credential::ManagedIdentity { client_id: None },
                resource,
            )?,
            DestinationCredential::Tenant(which) => {
                let t = self
                    .config
                    .tenants
                    .iter()
                    .find(|t| t.id.as_str() == which.to_ascii_lowercase() || &t.name == which)
                    .ok_or_else(|| {
                        FunctionError::Failed(format!("destination credential: no tenant {which}"))
                    })?;
                self.token_source(&t.name, t.id.as_str(), &t.credential, resource)?
            }
        };
        Ok(Arc::new(TokenCache::new(source)))
    }

    /// The Log Analytics query backend, when a workspace is configured.
    pub async fn log_analytics_query(&self) -> Result<&LogAnalyticsQuery, FunctionError> {
        self.log_analytics_query
            .get_or_try_init(|| async {
                let q = &self.config.query;
                let workspace = q.workspace_id.as_deref().ok_or_else(|| {
                    FunctionError::Failed(
                        "backend: log-analytics is not configured; set ENTRA_MONITOR_LOG_ANALYTICS_WORKSPACE_ID".into(),
                    )
                })?;
                let tokens = self.destination_tokens("https://api.loganalytics.io")?;
                Ok(LogAnalyticsQuery::new(&q.endpoint, workspace, tokens))
            })
            .await
    }

    /// The router of collected records, built on first use from the destination settings.
    pub async fn router(&self) -> Result<&Router, FunctionError> {
        self.router
            .get_or_try_init(|| async { crate::routing::build(self) })
            .await
    }

    /// The collection leases and durable bookkeeping, when the instances share state
    /// (`ENTRA_MONITOR_STATE_*`).
    pub async fn shared_state(
        &self,
    ) -> Result<Option<&shared::state::settings::Shared>, FunctionError> {
        let shared = self
            .shared_state
            .get_or_try_init(|| async {
                self.config
                    .state
                    .shared(|audience| {
                        self.destination_tokens(audience)
                            .map_err(|e| format!("the destination credential: {e}"))
                    })
                    .map_err(|e| FunctionError::Failed(format!("shared state: {e}")))
            })
            .await?;
        Ok(shared.as_ref())
    }

    /// Sources for the configured tenants: Microsoft Graph with each tenant's credential, one
    /// budget per tenant and one for the app across them.
    fn graph_sources(&self) -> Result<Vec<TenantSource>, FunctionError> {
        let app_budget = Arc::new(Budget::reports_per_app());
        let mut out = Vec::new();
        for t in &self.config.tenants {
            let token = self.token_source(
                &t.name,
                t.id.as_str(),
                &t.credential,
                &self.config.graph_host,
            )?;
            let tokens = Arc::new(TokenCache::new(token));
            let source = |budget: Budget| Source {
                tenant: t.id.to_string(),
                graph_base: self.config.graph_host.clone(),
                client: GraphClient::new(
                    Arc::new(budget),
                    app_budget.clone(),
                    RetryPolicy::default(),
                )
                .with_tokens(tokens.clone()),
            };
            out.push(TenantSource {
                name: t.name.clone(),
                categories: t.categories.clone(),
                reports: source(Budget::reports_per_tenant()),
                identity_protection: source(Budget::identity_protection_per_tenant()),
            });
        }
        Ok(out)
    }

    /// The Graph sources of every tenant. With no tenant configured this starts the simulated
    /// tenant's Graph server on a loopback port, once, and reads it over real HTTP.
    pub async fn sources(&self) -> Result<&[TenantSource], FunctionError> {
        self.sources
            .get_or_try_init(|| async {
                if !self.config.uses_simulated_tenant() {
                    return self.graph_sources();
                }
                let tenant = SimulatedTenant::new(self.config.simulated_seed, self.config.simulated_users);
                let tenant_id = tenant.directory.tenant_id.clone();
                let base = match &self.config.simulated_graph_url {
                    Some(url) => url.clone(),
                    None => SimServer::new(tenant, self.clock.clone(), Faults::default())
                        .start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                        .await
                        .map_err(|e| FunctionError::Failed(format!("cannot start the simulated tenant: {e}")))?,
                };
                tracing::info!(tenant = %tenant_id, users = self.config.simulated_users, "simulated tenant serving Graph at {base}");
                let app_budget = Arc::new(Budget::reports_per_app());
                let source = |budget: Budget| Source {
                    tenant: tenant_id.clone(),
                    graph_base: base.clone(),
                    client: GraphClient::new(Arc::new(budget), app_budget.clone(), RetryPolicy::default()),
                };
                Ok(vec![TenantSource {
                    name: "simulated".into(),
                    categories: self.config.categories.clone(),
                    reports: source(Budget::new(self.config.simulated_budget, std::time::Duration::from_secs(10))),
                    identity_protection: source(Budget::identity_protection_per_tenant()),
                }])
            })
            .await
            .map(Vec::as_slice)
    }
}

/// One tenant's Graph sources: the reports API and Identity Protection have separate budgets.
#[derive(Clone)]
pub struct TenantSource {
    pub name: String,
    /// The categories collected for this tenant.
    pub categories: Vec<Category>,
    pub reports: Source,
    pub identity_protection: Source,
}

impl TenantSource {
    pub fn for_category(&self, category: Category) -> &Source {
        match category {
            Category::UserRiskEvents
            | Category::RiskyUsers
            | Category::ServicePrincipalRiskEvents
            | Category::RiskyServicePrincipals => &self.identity_protection,
            _ => &self.reports,
        }
    }
}
