use std::sync::Arc;

use switchboard::avatar::Avatars;
use switchboard::identity::Identities;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard::lambda::aws_config().await);
    let accounts = Arc::new(accounts::Accounts {
        identities: Identities::new(store.clone(), &config),
        avatars: Avatars::new(store, objects),
    });
    switchboard::lambda::serve(accounts, accounts::handle).await
}
