#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    switchboard_api::lambda::serve(crm_auth::state(&config, store), &crm_auth::ROUTES).await
}
