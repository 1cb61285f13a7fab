//! `/requests`: hoodie's account requests. Anyone may `POST /requests {type: "passwordreset", email}` and
//! always gets 202, whether or not the email has an account; admins list, read and remove them.

use crate::State;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::requests::PASSWORD_RESET;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http;
use switchboard_api::{caller, request};

const REQUEST_NOT_FOUND: &str = "Request not found";
/// RFC 5321's longest address.
const MAX_EMAIL_BYTES: usize = 254;

pub(crate) async fn add_request(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[("type", Kind::String, true), ("email", Kind::String, true)],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let mut problems = Vec::new();
    if text("type") != PASSWORD_RESET {
        problems.push(format!(
            "request body/type must be equal to '{PASSWORD_RESET}'"
        ));
    }
    let email = text("email").trim();
    if email.is_empty() || email.len() > MAX_EMAIL_BYTES || !email.contains('@') {
        problems.push(format!(
            "request body/email must be an email address of at most {MAX_EMAIL_BYTES} bytes"
        ));
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    identities.request_password_reset(email).await?;
    Ok(http::json(
        202,
        &json!({"type": PASSWORD_RESET, "email": email}),
    ))
}

pub(crate) async fn find_requests(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let mut problems = Vec::new();
    let limit = request::bounded(request, "limit", 50, 1, 100, &mut problems);
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let cursor = request::cursor(request)?;
    let (found, next) = identities
        .requests(&caller.identity.organization_id, limit as u32, cursor)
        .await?;
    let views: Vec<_> = found.iter().map(|r| r.view()).collect();
    Ok(http::page(&views, next))
}

pub(crate) async fn find_request(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let found = identities
        .account_request(&caller.identity.organization_id, id)
        .await?
        .ok_or_else(|| Error::NotFound(REQUEST_NOT_FOUND.into()))?;
    Ok(http::json(200, &found.view()))
}

pub(crate) async fn remove_request(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    if identities
        .remove_account_request(&caller.identity.organization_id, id)
        .await?
    {
        Ok(http::empty(204))
    } else {
        Err(Error::NotFound(REQUEST_NOT_FOUND.into()))
    }
}
