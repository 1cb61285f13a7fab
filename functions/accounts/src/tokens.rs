//! `/accounts/{id}/tokens`: one-time account tokens (admin).

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::identity::OneTimeToken;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::{State, account_for};

/// `POST /accounts/{id}/tokens` (admin): a one-time token; its secret is in the answer only.
pub(crate) async fn add_token(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("type", Kind::String, true),
            ("timeout", Kind::Integer, false),
        ],
        open: true,
    };
    let mut body = SCHEMA.check(request::json_body(request)?)?;
    let kind = body
        .remove("type")
        .and_then(|t| t.as_str().map(str::to_owned))
        .unwrap_or_default();
    let timeout = body.remove("timeout").and_then(|t| t.as_i64());
    let account = account_for(identities, &caller, id, true).await?;
    let properties: Map<String, Value> = body.into_iter().filter(|(k, _)| k != "id").collect();
    let (token, secret) = identities
        .add_token(&account, &kind, timeout, properties)
        .await?;
    let mut view = token.view();
    view["token"] = json!(secret);
    Ok(http::json(201, &view))
}

pub(crate) async fn find_tokens(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let account = account_for(identities, &caller, id, false).await?;
    let tokens = identities
        .tokens(&account.organization_id, &account.id)
        .await?;
    Ok(http::json(
        200,
        &tokens.iter().map(OneTimeToken::view).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn token_of(
    identities: &Identities,
    request: &Request,
    id: &str,
    token: &str,
) -> Result<OneTimeToken> {
    let caller = caller::admin(identities, request).await?;
    account_for(identities, &caller, id, false).await?;
    identities
        .token_by_id(token)
        .await?
        .filter(|t| t.identity_id == id)
        .ok_or_else(|| Error::NotFound("Token not found".into()))
}

pub(crate) async fn find_token(
    accounts: &State,
    request: &Request,
    id: &str,
    token: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let token = token_of(identities, request, id, token).await?;
    Ok(http::json(200, &token.view()))
}

pub(crate) async fn remove_token(
    accounts: &State,
    request: &Request,
    id: &str,
    token: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let token = token_of(identities, request, id, token).await?;
    let removed = identities
        .remove_token(&token.id)
        .await?
        .ok_or_else(|| Error::NotFound("Token not found".into()))?;
    Ok(http::json(200, &removed.view()))
}
