#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::lambda::run(server_api::handle).await
}
