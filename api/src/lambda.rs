//! The Lambda entry points of the functions' `main`s: `start` (logging, configuration, the store with its
//! client) once per cold start, then `serve` (the function's route table) or `serve_trigger` (S3, DynamoDB
//! Streams, SQS, schedules) with the state the function built from them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_types::sdk_config::SharedTimeSource;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use switchboard::config::{Config, ConfigError, Storage};
use switchboard::deadline;
use switchboard::outbound::Outbound;
use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;
use switchboard::push::expo::Expo;
use switchboard::push::web_push::WebPush;
use switchboard::store::Store;
use switchboard::webhooks::queue::{DeliveryQueue, QUEUE_URL};

use crate::route::Routes;

/// Logging, then the configuration and the store; a function builds its services over them.
pub async fn start() -> Result<(Config, Arc<dyn Store>), lambda_http::Error> {
    switchboard::telemetry::init();
    let config = Config::lambda()?;
    // Lambda's configuration always names a table; opening only DynamoDB keeps the embedded store (redb) out of
    // every function's binary.
    let Storage::DynamoDb { table } = &config.storage else {
        return Err("a Lambda function stores in DynamoDB".into());
    };
    let store = switchboard::app::open_dynamodb(&config, table, aws_config().await);
    Ok((config, store))
}

static AWS: std::sync::OnceLock<aws_config::SdkConfig> = std::sync::OnceLock::new();

/// The SDK configuration every client of this function shares (DynamoDB, S3, SNS, SQS), built once per
/// cold start from what Lambda puts in the environment: the region, the execution role's credentials and
/// any `AWS_ENDPOINT_URL[_<SERVICE>]`, with the timeouts and bounded retry of `app::aws_config`. Not
/// aws-config's default chain: its profile files, SSO, web identity (an STS client with its own HTTPS
/// connector) and IMDS have nothing to find in Lambda, and cost init time and binary size (bench/README.md).
pub async fn aws_config() -> &'static aws_config::SdkConfig {
    AWS.get_or_init(|| {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
        let mut sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ))
            .timeout_config(switchboard::app::timeouts())
            .retry_config(switchboard::app::retries())
            .service_config(EndpointsFromEnv(|name| std::env::var(name).ok()))
            .time_source(SharedTimeSource::default());
        // The timeouts need a timer: tokio's, as aws-config's loader would give.
        sdk.set_sleep_impl(default_async_sleep());
        sdk.set_region(region.map(aws_config::Region::new));
        sdk.set_endpoint_url(env("AWS_ENDPOINT_URL"));
        sdk.build()
    })
}

/// A service's setting from the environment as aws-config's environment source reads it: the service's own
/// variable first (`AWS_ENDPOINT_URL_DYNAMODB`, from the service id), then the global one (`AWS_ENDPOINT_URL`).
/// What tests and benchmarks use to point a function at an emulator.
#[derive(Debug)]
struct EndpointsFromEnv(fn(&str) -> Option<String>);

impl LoadServiceConfig for EndpointsFromEnv {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        [format!("{}_{service}", key.env()), key.env().to_owned()]
            .into_iter()
            .find_map(|name| (self.0)(&name).filter(|v| !v.is_empty()))
    }
}

/// Serves the function's `routes` with the state its `main` built once. A function that needs no store (no
/// SDK client) calls this without `start`, after `telemetry::init`, and links none of it.
pub async fn serve<S: Send + Sync + 'static>(
    state: S,
    routes: &'static Routes<S>,
) -> Result<(), lambda_http::Error> {
    let state = Arc::new(state);
    lambda_http::run(service_fn(move |request: Request| {
        let state = state.clone();
        let deadline = request
            .lambda_context_ref()
            .and_then(|context| invocation_deadline(context.deadline));
        let answer = async move { routes.dispatch(&state, request).await };
        async move { Ok::<Response<Body>, Infallible>(deadline::within(deadline, answer).await) }
    }))
    .await
}

/// The webhook delivery queue of `event-dispatch` and `webhook-deliver`: its URL from
/// `SWITCHBOARD_WEBHOOK_QUEUE_URL`, its SQS client over the function's one SDK configuration.
pub async fn delivery_queue() -> Result<DeliveryQueue, lambda_http::Error> {
    let url = std::env::var(QUEUE_URL).map_err(|_| format!("{QUEUE_URL} is not set"))?;
    Ok(DeliveryQueue::new(
        aws_sdk_sqs::Client::new(aws_config().await),
        url,
    ))
}

/// The push service as a Lambda function builds it at init (`push` and `push-dispatch` alike): the SNS
/// client over the function's one SDK configuration, Web Push and Expo from the environment.
pub async fn push(config: &Config, store: Arc<dyn Store>) -> Result<Push, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let outbound = Arc::new(Outbound::new(config.outbound.clone()));
    let web_push = WebPush::from_env(env, None, outbound.clone())?.map(Arc::new);
    let expo = Arc::new(Expo::from_env(env, outbound));
    let endpoints = Endpoints::built(env, aws_config().await);
    Ok(Push::new(store, Arc::new(endpoints)).with_senders(web_push, Some(expo)))
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
        let deadline = invocation_deadline(event.context.deadline);
        deadline::within(deadline, handler(state.clone(), event.payload))
    }))
    .await
}

/// The invocation's deadline (Lambda gives it in Unix milliseconds) on the monotonic clock.
fn invocation_deadline(unix_ms: u64) -> Option<Instant> {
    let now_ms = u64::try_from(switchboard::time::unix_now_ms()).ok()?;
    let left = Duration::from_millis(unix_ms.saturating_sub(now_ms));
    (unix_ms > 0).then(|| Instant::now() + left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(env: fn(&str) -> Option<String>, service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap();
        EndpointsFromEnv(env).load_config(key)
    }

    #[test]
    fn a_service_endpoint_comes_from_its_own_variable_then_the_global_one() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL_DYNAMODB" => Some("http://127.0.0.1:8000".to_owned()),
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS" => Some(String::new()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:4566".to_owned()),
            _ => None,
        };
        assert_eq!(
            endpoint(env, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        // Blank counts as unset.
        assert_eq!(
            endpoint(env, "DynamoDB Streams").as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(
            endpoint(env, "SNS").as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(endpoint(|_| None, "S3"), None);
    }
}
