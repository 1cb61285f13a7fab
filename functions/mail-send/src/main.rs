use std::sync::Arc;

use switchboard::mail::{MAIL_FROM, Transport};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard_api::lambda::start().await?;
    let from = config
        .mail
        .from
        .clone()
        .ok_or_else(|| format!("{MAIL_FROM} is not set"))?;
    let client = aws_sdk_sesv2::Client::new(switchboard_api::lambda::aws_config().await);
    let transport = Transport::Ses { client, from };
    let state = Arc::new(mail_send::state(&config, store, transport));
    switchboard_api::lambda::serve_trigger(state, mail_send::handle).await
}
