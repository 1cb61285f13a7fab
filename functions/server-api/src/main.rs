#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard_api::lambda::aws_config().await);
    let state = server_api::state(&config, store, objects);
    switchboard_api::lambda::serve(state, &server_api::ROUTES).await
}
