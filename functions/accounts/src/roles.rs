//! `/accounts/{id}/roles` (admin).

use lambda_http::{Body, Request, Response};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::Actor;
use switchboard::identity::tokens;
use switchboard_api::caller;
use switchboard_api::http;

use crate::{ACCOUNT_NOT_FOUND, State, account_for};

pub(crate) async fn find_roles(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let account = account_for(identities, &caller, id, false).await?;
    Ok(http::json(200, &account.roles))
}

/// `PUT|DELETE /accounts/{id}/roles/{role}` (admin): idempotent; answers with the role name, as hoodie.
pub(crate) async fn add_role(
    accounts: &State,
    request: &Request,
    id: &str,
    role: &str,
) -> Result<Response<Body>> {
    change_role(accounts, request, id, role, true).await
}

pub(crate) async fn remove_role(
    accounts: &State,
    request: &Request,
    id: &str,
    role: &str,
) -> Result<Response<Body>> {
    change_role(accounts, request, id, role, false).await
}

async fn change_role(
    accounts: &State,
    request: &Request,
    id: &str,
    role: &str,
    add: bool,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    if !tokens::valid_token_type(role) || role.len() > 64 {
        return Err(Error::validation(vec![
            "role must match ^[a-z][a-z0-9_-]*$ (64 characters at most)".into(),
        ]));
    }
    account_for(identities, &caller, id, true).await?;
    let mut found = true;
    identities
        .update_identity_as(id, Actor::Account(&caller.identity.id), |identity| {
            let has = identity.roles.iter().any(|r| r == role);
            found = has;
            match (add, has) {
                (true, false) => identity.roles.push(role.to_owned()),
                (false, true) => identity.roles.retain(|r| r != role),
                _ => return Ok(false),
            }
            Ok(true)
        })
        .await?
        .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?;
    if !add && !found {
        return Err(Error::NotFound("Role not found".into()));
    }
    Ok(http::json(200, &role))
}
