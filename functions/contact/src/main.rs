#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::lambda::run(contact::handle).await
}
