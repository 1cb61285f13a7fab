use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let queue = switchboard_api::lambda::delivery_queue().await?;
    let state = Arc::new(event_dispatch::state(&config, store, queue));
    switchboard_api::lambda::serve_trigger(state, event_dispatch::handle).await
}
