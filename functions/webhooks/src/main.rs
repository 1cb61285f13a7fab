use std::sync::Arc;

use switchboard::identity::Identities;
use switchboard::webhooks::subscriptions::Webhooks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let state = Arc::new(webhooks::State {
        identities: Identities::new(store.clone(), &config),
        webhooks: Arc::new(Webhooks::new(store, &config)),
    });
    switchboard::lambda::serve(state, webhooks::handle).await
}
