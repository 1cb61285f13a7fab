//! `/accounts/{id}/roles` (admin).

use lambda_http::{Body, Request, Response};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::http;
use switchboard::identity::tokens;
use switchboard::identity::{Actor, Identities};

use crate::{ACCOUNT_NOT_FOUND, account_for, admin};

pub(crate) async fn find_roles(
    identities: &Identities,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let caller = identities.principal(request).await?;
    let account = account_for(identities, &caller, id, false).await?;
    Ok(http::json(200, &account.roles))
}

/// `PUT|DELETE /accounts/{id}/roles/{role}` (admin): idempotent; answers with the role name, as hoodie.
pub(crate) async fn change_role(
    identities: &Identities,
    request: &Request,
    id: &str,
    role: &str,
    add: bool,
) -> Result<Response<Body>> {
    let caller = admin(identities, request).await?;
    if !tokens::valid_token_type(role) || role.len() > 64 {
        return Err(Error::invalid(
            "Validation Error",
            vec!["role must match ^[a-z][a-z0-9_-]*$ (64 characters at most)".into()],
        ));
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
