//! `POST /apiKeyLogin` and `POST /unAuthorize`: both manage the one CRM connection of an identity (create or
//! join it, end it), share the same reads, writes and IAM, and are called once per login, so they are one
//! Lambda rather than two cold starts.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::crm::return_message;
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::request;
use switchboard::{App, Result};

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    let result = match (request.method(), request.uri().path().trim_end_matches('/')) {
        (&Method::POST, "/apiKeyLogin") => api_key_login(&app, &request).await,
        (&Method::POST, "/unAuthorize") => unauthorize(&app, &request).await,
        _ => Err(Error::NotFound("Not Found".into())),
    };
    result.unwrap_or_else(|e| http::error(Family::Crm, e))
}

async fn api_key_login(app: &App, request: &Request) -> Result<Response<Body>> {
    let body = request::json_body(request)
        .map_err(|_| Error::bad_request("Invalid JSON body"))?
        .unwrap_or(Value::Null);
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let platform = text("platform").ok_or_else(|| Error::bad_request("Missing platform name"))?;
    let api_key = text("apiKey").ok_or_else(|| Error::bad_request("Missing API key"))?;
    let answer = app
        .crm
        .api_key_login(&app.identities, platform, api_key)
        .await?;
    Ok(http::json(200, &answer))
}

async fn unauthorize(app: &App, request: &Request) -> Result<Response<Body>> {
    let user = app.crm.authenticate(request).await?;
    app.crm.unauthorize(&user).await?;
    Ok(http::json(
        200,
        &json!({
            "successful": true,
            "returnMessage": return_message("Logged out of Switchboard.", "success", 1000),
        }),
    ))
}
