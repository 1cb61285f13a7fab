use std::sync::Arc;

use switchboard::avatar::Avatars;
use switchboard::crm::Crm;
use switchboard::identity::Identities;
use switchboard::outbound::Outbound;
use users::Users;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard::lambda::aws_config().await);
    let users = Arc::new(Users {
        identities: Identities::new(store.clone(), &config),
        crm: Crm::new(store.clone(), &config),
        avatars: Avatars::new(store, objects),
        outbound: Arc::new(Outbound::new(config.outbound.clone())),
        avatar_max_size: config.avatar_max_size,
    });
    switchboard::lambda::serve(users, users::handle).await
}
