use std::sync::Arc;

use switchboard::avatar::Avatars;
use switchboard::crm::Crm;
use switchboard::identity::Identities;
use switchboard::outbound::{Outbound, Policy};
use users::Users;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let objects = switchboard::app::avatar_objects(&config, &switchboard::app::aws_config().await);
    let users = Arc::new(Users {
        identities: Identities::new(store.clone(), &config),
        crm: Crm::new(store.clone(), &config),
        avatars: Avatars::new(store, objects),
        outbound: Arc::new(Outbound::new(Policy::from_env(|n| std::env::var(n).ok()))),
        avatar_max_size: config.avatar_max_size,
    });
    switchboard::lambda::serve(users, users::handle).await
}
