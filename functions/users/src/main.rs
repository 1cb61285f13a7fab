use std::convert::Infallible;

use lambda_http::{Error, service_fn};
use switchboard::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    switchboard::telemetry::init();
    // Configuration and clients are built once per cold start and shared by every invocation.
    let app = App::lambda().await?;
    lambda_http::run(service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(users::handle(app, request).await) }
    }))
    .await
}
