#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    switchboard_api::lambda::serve(contact::state(&config, store), &contact::ROUTES).await
}
