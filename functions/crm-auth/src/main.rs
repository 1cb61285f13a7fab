#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::lambda::run(crm_auth::handle).await
}
