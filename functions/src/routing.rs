//! The router built from the destination settings: the configured destinations' sinks (each
//! built by its own `config.rs`, with the destination credential's tokens when it needs them)
//! and the spool.

use crate::app::App;
use crate::invocation::FunctionError;
use shared::config::SpoolSetting;
use shared::destinations::router::Router;
use shared::destinations::spool::Spool;
use shared::destinations::storage::StorageTarget;
use shared::destinations::storage::service::BlobService;

fn failed(what: &str, e: impl std::fmt::Display) -> FunctionError {
    FunctionError::Failed(format!("{what}: {e}"))
}

pub fn build(app: &App) -> Result<Router, FunctionError> {
    let settings = &app.config().destinations;
    let tokens = |audience: &str| {
        app.destination_tokens(audience)
            .map_err(|e| format!("the destination credential: {e}"))
    };
    let sinks = settings
        .sinks(&tokens)
        .map_err(|e| failed("destinations", e))?;
    let spool = match &settings.spool {
        SpoolSetting::Folder(dir) => Spool::Folder(dir.clone()),
        SpoolSetting::Container { account, container } => {
            let StorageTarget::Account {
                endpoint,
                account,
                key,
            } = account
            else {
                return Err(failed("spool", "the connection string names no account"));
            };
            Spool::Blob {
                service: BlobService::new(endpoint, account, key)
                    .map_err(|e| failed("spool", e))?,
                container: container.clone(),
            }
        }
    };
    Ok(Router::new(app.config().routes.clone(), sinks, spool))
}

/// Routes entra-monitor's own rows of one kind not routed yet — `queue` stores and queues them
/// and says how many batches it queued — and delivers them. A destination failing is logged
/// (`what`: the rows, for the line); the batches stay queued for the next delivery.
pub async fn route_own(
    app: &App,
    tenant: &str,
    what: &str,
    queue: impl FnOnce(
        &shared::state::SqliteState,
        &Router,
        chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, shared::state::StateError>,
) -> Result<(), FunctionError> {
    let store = app.state()?;
    let router = app.router().await?;
    let now = app.now();
    if queue(&store, router, now)? > 0 {
        match router.deliver(&store, now).await {
            Ok(_) => {}
            Err(shared::destinations::router::RouteError::State(e)) => return Err(e.into()),
            Err(e) => tracing::error!(tenant, "{what}: {e}"),
        }
    }
    Ok(())
}
