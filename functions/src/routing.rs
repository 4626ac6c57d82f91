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
