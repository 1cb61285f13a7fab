use std::sync::Arc;

use push::PushApi;
use switchboard::identity::Identities;
use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let endpoints = Endpoints::from_env(|name| std::env::var(name).ok());
    let state = Arc::new(PushApi {
        identities: Identities::new(store.clone(), &config),
        push: Push::new(store, Arc::new(endpoints)),
    });
    switchboard::lambda::serve(state, push::handle).await
}
