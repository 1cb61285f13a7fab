#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::lambda::run(message_log::handle).await
}
