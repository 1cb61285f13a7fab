use std::sync::Arc;

use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (_config, store) = switchboard::lambda::start().await?;
    let endpoints = Endpoints::from_env(|name| std::env::var(name).ok());
    let push = Arc::new(Push::new(store, Arc::new(endpoints)));
    switchboard::lambda::serve_trigger(push, push_dispatch::handle).await
}
