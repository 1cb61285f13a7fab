use std::sync::Arc;

use crm_auth::CrmAuth;
use switchboard::crm::Crm;
use switchboard::identity::Identities;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let auth = Arc::new(CrmAuth {
        crm: Crm::new(store.clone(), &config),
        identities: Identities::new(store, &config),
    });
    switchboard::lambda::serve(auth, crm_auth::handle).await
}
