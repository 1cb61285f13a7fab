#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::lambda::run(call_log::handle).await
}
