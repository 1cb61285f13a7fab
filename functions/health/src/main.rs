use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let health = Arc::new(health::Health::from_env());
    switchboard::lambda::serve(health, health::handle).await
}
