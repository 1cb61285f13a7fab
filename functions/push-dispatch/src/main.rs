use std::sync::Arc;

use switchboard::push::Push;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let push = Arc::new(Push::for_lambda(&config, store).await?);
    switchboard::lambda::serve_trigger(push, push_dispatch::handle).await
}
