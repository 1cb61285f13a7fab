use std::sync::Arc;

use event_dispatch::{QUEUE_URL, State};
use switchboard::webhooks::subscriptions::Webhooks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let queue_url = std::env::var(QUEUE_URL).map_err(|_| format!("{QUEUE_URL} is not set"))?;
    let state = Arc::new(State {
        webhooks: Arc::new(Webhooks::new(store, &config)),
        sqs: aws_sdk_sqs::Client::new(&switchboard::app::aws_config().await),
        queue_url,
    });
    switchboard::lambda::serve_trigger(state, event_dispatch::handle).await
}
