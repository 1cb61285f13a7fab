//! The Lambda entry points of the functions' `main`s: `start` (logging, configuration, the store with its
//! client) once per cold start, then `serve` with the state the function built from them and its handler.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::config::Config;
use crate::store::Store;

/// Logging, then the configuration and the store; a function builds its services over them.
pub async fn start() -> Result<(Config, Arc<dyn Store>), lambda_http::Error> {
    crate::telemetry::init();
    let config = Config::lambda()?;
    let store = crate::app::open_store(&config).await?;
    Ok((config, store))
}

/// Serves `handler` with the state the function's `main` built once. A function that needs no store (no
/// SDK client) calls this without `start`, after `telemetry::init`, and links none of it.
pub async fn serve<S, F, Fut>(state: Arc<S>, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<S>, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_http::run(service_fn(move |request| {
        let response = handler(state.clone(), request);
        async move { Ok::<_, Infallible>(response.await) }
    }))
    .await
}
