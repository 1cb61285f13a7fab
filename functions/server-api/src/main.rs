use std::sync::Arc;

use switchboard::identity::Identities;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let identities = Arc::new(Identities::new(store, &config));
    switchboard::lambda::serve(identities, server_api::handle).await
}
