#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    switchboard_api::lambda::serve(webhooks::state(&config, store), &webhooks::ROUTES).await
}
