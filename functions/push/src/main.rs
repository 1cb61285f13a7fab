use std::sync::Arc;

use push::PushApi;
use switchboard::identity::Identities;
use switchboard::push::Push;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let state = Arc::new(PushApi {
        identities: Identities::new(store.clone(), &config),
        push: Push::for_lambda(&config, store).await?,
    });
    switchboard::lambda::serve(state, push::handle).await
}
