use std::sync::Arc;

use switchboard::avatar::Avatars;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard_api::lambda::aws_config().await);
    let avatars = Arc::new(Avatars::new(store, objects));
    switchboard_api::lambda::serve_trigger(avatars, avatar_processor::handle).await
}
