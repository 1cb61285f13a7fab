//! `GET /is-alive` → `200 OK`, as the CRM server spec defines it, and the App Connect extension's own spelling
//! `GET /isAlive` (its support page). `GET /crmManifest` lives here too: like the probes it reads nothing but
//! configuration, so it shares this function's empty IAM policy instead of widening a store-using one.
//!
//! Every function crate has this shape: a library exporting `handle(state, request) -> response`, a plain
//! async function that Lambda (`main.rs`), the local server and the tests all call, and a binary that builds
//! the state once per cold start. This one's state is a setting: no store, no AWS SDK, nothing to link.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use switchboard::crm::{PLATFORM, manifest};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::{config, request};

/// What the probes and the manifest read: configuration only.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// `SWITCHBOARD_PUBLIC_URL`: the base URL the manifest names, else the request's origin.
    pub public_url: Option<String>,
}

impl Health {
    pub fn from_env() -> Self {
        Self {
            public_url: config::public_url(&|name| std::env::var(name).ok()),
        }
    }
}

pub async fn handle(health: Arc<Health>, request: Request) -> Response<Body> {
    match (request.method(), request.uri().path().trim_end_matches('/')) {
        (&Method::GET, "/crmManifest") => {
            crm_manifest(&health, &request).unwrap_or_else(|e| http::error(Family::Crm, e))
        }
        _ => http::text(200, "OK"),
    }
}

/// The base URL clients reach this API at: `SWITCHBOARD_PUBLIC_URL`, else the request's own origin.
fn server_url(health: &Health, request: &Request) -> Result<String, Error> {
    if let Some(url) = &health.public_url {
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

fn crm_manifest(health: &Health, request: &Request) -> Result<Response<Body>, Error> {
    if let Some(platform) = request::query_param(request, "platformName")
        && platform != PLATFORM
    {
        return Err(Error::bad_request(format!("Unknown platform {platform}")));
    }
    Ok(http::json(
        200,
        &manifest::manifest(&server_url(health, request)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_ok() {
        let response = handle(Arc::default(), Request::default()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.body().as_ref(), b"OK");
    }
}
