//! `GET /is-alive` → `200 OK`, as the CRM server spec defines it, and the App Connect extension's own spelling
//! `GET /isAlive` (its support page). `GET /crmManifest` lives here too: like the probes it reads nothing but
//! configuration, so it shares this function's empty IAM policy instead of widening a store-using one.
//!
//! Every function crate has this shape: a library exporting `handle(app, request) -> response`, a plain
//! async function that Lambda (`main.rs`), the local server and the tests all call, and a binary that builds
//! the state once per cold start.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use switchboard::crm::{PLATFORM, manifest};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::{App, request};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    match (request.method(), request.uri().path().trim_end_matches('/')) {
        (&Method::GET, "/crmManifest") => {
            crm_manifest(&app, &request).unwrap_or_else(|e| http::error(Family::Crm, e))
        }
        _ => http::text(200, "OK"),
    }
}

/// The base URL clients reach this API at: `SWITCHBOARD_PUBLIC_URL`, else the request's own origin.
fn server_url(app: &App, request: &Request) -> Result<String, Error> {
    if let Some(url) = &app.config.public_url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let host = request::header(request, "host")
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .ok_or_else(|| Error::bad_request("No usable Host header: set SWITCHBOARD_PUBLIC_URL"))?;
    let scheme = match request::header(request, "x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}

fn crm_manifest(app: &App, request: &Request) -> Result<Response<Body>, Error> {
    if let Some(platform) = request::query_param(request, "platformName")
        && platform != PLATFORM
    {
        return Err(Error::bad_request(format!("Unknown platform {platform}")));
    }
    Ok(http::json(
        200,
        &manifest::manifest(&server_url(app, request)?),
    ))
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
