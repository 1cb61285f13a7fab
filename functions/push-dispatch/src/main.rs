use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let push = Arc::new(switchboard_api::lambda::push(&config, store).await?);
    switchboard_api::lambda::serve_trigger(push, push_dispatch::handle).await
}
