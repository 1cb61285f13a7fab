//! The Lambda entry points of the functions' `main`s: `start` (logging, configuration, the store with its
//! client) once per cold start, then `serve` (API Gateway routes) or `serve_trigger` (S3, DynamoDB Streams,
//! SQS, schedules) with the state the function built from them and its handler.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, LambdaEvent, Request, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Config, Storage};
use crate::store::Store;

/// Logging, then the configuration and the store; a function builds its services over them.
pub async fn start() -> Result<(Config, Arc<dyn Store>), lambda_http::Error> {
    crate::telemetry::init();
    let config = Config::lambda()?;
    // Lambda's configuration always names a table; opening only DynamoDB keeps the embedded store (redb) out of
    // every function's binary.
    let Storage::DynamoDb { table } = &config.storage else {
        return Err("a Lambda function stores in DynamoDB".into());
    };
    let store = crate::app::open_dynamodb(&config, table, aws_config().await);
    Ok((config, store))
}

static AWS: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();

/// The SDK configuration every client of this function shares (DynamoDB, S3, SNS, SQS), loaded once per
/// cold start: its credentials chain and HTTPS client are the costly part of init (bench/README.md).
pub async fn aws_config() -> &'static aws_config::SdkConfig {
    AWS.get_or_init(crate::app::aws_config).await
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

/// Serves an event-triggered function: `handler` gets each event's payload (an `aws_lambda_events` type) and
/// answers what the trigger expects back (for Streams and SQS, the batch item failures). An `Err` fails the
/// whole invocation, so the trigger retries it: keep that for failures that are not one record's fault.
pub async fn serve_trigger<S, E, R, F, Fut>(
    state: Arc<S>,
    handler: F,
) -> Result<(), lambda_http::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(Arc<S>, E) -> Fut,
    Fut: Future<Output = Result<R, lambda_http::Error>> + Send,
{
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        handler(state.clone(), event.payload)
    }))
    .await
}
