#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let push = switchboard_api::lambda::push(&config, store.clone()).await?;
    switchboard_api::lambda::serve(push::state(&config, store, push), &push::ROUTES).await
}
