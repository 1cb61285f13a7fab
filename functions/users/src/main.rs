use std::sync::Arc;

use switchboard::crm::Crm;
use switchboard::identity::Identities;
use users::Users;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let users = Arc::new(Users {
        identities: Identities::new(store.clone(), &config),
        crm: Crm::new(store, &config),
    });
    switchboard::lambda::serve(users, users::handle).await
}
