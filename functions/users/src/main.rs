#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard_api::lambda::aws_config().await);
    switchboard_api::lambda::serve(users::state(&config, store, objects), &users::ROUTES).await
}
