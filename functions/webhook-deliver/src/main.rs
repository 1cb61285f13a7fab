use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = Arc::new(event_dispatch::State::start().await?);
    switchboard::lambda::serve_trigger(state, webhook_deliver::handle).await
}
