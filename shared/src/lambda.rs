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
    let app = App::lambda().await?;
    lambda_http::run(service_fn(move |request| {
        let response = handler(app.clone(), request);
        async move { Ok::<_, Infallible>(response.await) }
    }))
    .await
}
