//! The Lambda entry point every function's `main` calls: logging, configuration and clients built once per
//! cold start, then `lambda_http::run` with the function's handler.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::App;

pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<App>, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    serve(App::lambda().await?, handler).await
}

/// Serves `handler` with a state the function's `main` built once; a function that needs no `App` (no
/// store, no SDK client) calls this directly, after `telemetry::init`, and links none of it.
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
