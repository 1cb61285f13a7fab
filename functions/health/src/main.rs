#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    switchboard_api::lambda::serve(health::state_from_env(), &health::ROUTES).await
}
