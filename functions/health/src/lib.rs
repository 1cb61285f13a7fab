//! `GET /is-alive` → `200 OK`, as the CRM server spec defines it, and the App Connect extension's own spelling
//! `GET /isAlive` (its support page). `GET /crmManifest` lives here too: like the probes it reads nothing but
//! configuration, so it shares this function's empty IAM policy instead of widening a store-using one.
//!
//! Every function crate has this shape: a library exporting its `State`, the one `state(..)` that builds it
//! (its `main` once per cold start, the local server and the tests alike) and its `ROUTES`, each route key
//! with its handler; and a binary that serves the routes in Lambda. This one's state is a setting: no store,
//! no AWS SDK, nothing to link.

use lambda_http::{Body, Request, Response};
use switchboard::config::{self, Config};
use switchboard::crm::{PLATFORM, manifest};
use switchboard::error::Error;
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{request, route};

/// What the probes and the manifest read: configuration only.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// `SWITCHBOARD_PUBLIC_URL`: the base URL the manifest names, else the request's origin.
    pub public_url: Option<String>,
}

pub fn state(config: &Config) -> State {
    State {
        public_url: config.public_url.clone(),
    }
}

/// `SWITCHBOARD_PUBLIC_URL` alone, without the rest of the configuration this function never reads.
pub fn state_from_env() -> State {
    State {
        public_url: config::public_url(&|name| std::env::var(name).ok()),
    }
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Crm,
    routes: &[
        route!("GET /is-alive", alive),
        route!("GET /isAlive", alive),
        route!("GET /crmManifest", crm_manifest),
    ],
};

async fn alive(_: &State, _: &Request) -> Result<Response<Body>, Error> {
    Ok(http::text(200, "OK"))
}

/// The base URL clients reach this API at: `SWITCHBOARD_PUBLIC_URL`, else the request's own origin.
fn server_url(health: &State, request: &Request) -> Result<String, Error> {
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

async fn crm_manifest(health: &State, request: &Request) -> Result<Response<Body>, Error> {
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
