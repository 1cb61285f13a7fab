//! `GET /is-alive` → `200 OK`, as the CRM server spec defines it.
//!
//! Every function crate has this shape: a library exporting `handle(app, request) -> response`, a plain
//! async function that Lambda (`main.rs`), the local server and the tests all call, and a binary that builds
//! the state once per cold start.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use switchboard::App;
use switchboard::http;

pub async fn handle(_app: Arc<App>, _request: Request) -> Response<Body> {
    http::text(200, "OK")
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard::config::Config;

    #[tokio::test]
    async fn answers_ok() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new(Config::for_local(|_| None, Some(dir.path().into())).unwrap())
            .await
            .unwrap();
        let response = handle(app, Request::default()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.body().as_ref(), b"OK");
    }
}
