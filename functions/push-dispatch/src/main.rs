use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let push = switchboard_api::lambda::push(&config, store.clone()).await?;
    let state = Arc::new(push_dispatch::State { push, store });
    switchboard_api::lambda::serve_trigger(state, push_dispatch::handle).await
}
