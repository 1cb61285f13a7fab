use std::sync::Arc;

use switchboard::crm::Crm;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let crm = Arc::new(Crm::new(store, &config));
    switchboard::lambda::serve(crm, contact::handle).await
}
