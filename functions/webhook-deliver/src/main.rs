use std::sync::Arc;

use switchboard::webhooks::subscriptions::Webhooks;
use webhook_deliver::State;

/// The queue this function consumes (its visibility is changed for retries).
const QUEUE_URL: &str = "SWITCHBOARD_WEBHOOK_QUEUE_URL";

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let queue_url = std::env::var(QUEUE_URL).map_err(|_| format!("{QUEUE_URL} is not set"))?;
    let state = Arc::new(State {
        webhooks: Arc::new(Webhooks::new(store, &config)),
        sqs: aws_sdk_sqs::Client::new(&switchboard::app::aws_config().await),
        queue_url,
    });
    switchboard::lambda::serve_trigger(state, webhook_deliver::handle).await
}
