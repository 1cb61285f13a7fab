#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    switchboard_api::lambda::serve(message_log::state(&config, store), &message_log::ROUTES).await
}
