//! Accounts and sessions (hoodie's account server API over HTTP, with what hoodie left undone): sign-up,
//! sign-in with a password or a one-time token, stored sessions (list, refresh, revoke, revoke all),
//! accounts (find, update, remove) and one-time account tokens. Errors use the user-service envelope.

mod accounts;
mod profile;
mod requests;
mod roles;
mod sessions;
mod tokens;

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use switchboard::Result;
use switchboard::avatar::Avatars;
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::identity::Identities;
use switchboard::identity::{
    ADMIN_REQUIRED, Identity, NOT_AUTHORIZED, Principal, Profile, SessionContext,
};
use switchboard::request;

const ACCOUNT_NOT_FOUND: &str = "Account not found";
const SESSION_INVALID: &str = "Session invalid";

/// The identities, and the avatars profiles show.
pub struct Accounts {
    pub identities: Identities,
    pub avatars: Avatars,
}

pub async fn handle(accounts: Arc<Accounts>, request: Request) -> Response<Body> {
    let (identities, avatars) = (&accounts.identities, &accounts.avatars);
    let owned = request::segments(&request);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let result = match (&method, segments.as_slice()) {
        (&Method::POST, ["accounts"]) => accounts::sign_up(identities, &request).await,
        (&Method::GET, ["accounts"]) => {
            accounts::find_accounts(identities, avatars, &request).await
        }
        (&Method::GET, ["accounts", id]) => {
            accounts::find_account(identities, avatars, &request, id).await
        }
        (&Method::PATCH, ["accounts", id]) => {
            accounts::update_account(identities, &request, id).await
        }
        (&Method::DELETE, ["accounts", id]) => {
            accounts::remove_account(identities, &request, id).await
        }
        (&Method::POST, ["accounts", id, "tokens"]) => {
            tokens::add_token(identities, &request, id).await
        }
        (&Method::GET, ["accounts", id, "tokens"]) => {
            tokens::find_tokens(identities, &request, id).await
        }
        (&Method::GET, ["accounts", id, "tokens", token]) => {
            tokens::find_token(identities, &request, id, token).await
        }
        (&Method::DELETE, ["accounts", id, "tokens", token]) => {
            tokens::remove_token(identities, &request, id, token).await
        }
        (&Method::GET, ["accounts", id, "roles"]) => {
            roles::find_roles(identities, &request, id).await
        }
        (&Method::PUT, ["accounts", id, "roles", role]) => {
            roles::change_role(identities, &request, id, role, true).await
        }
        (&Method::DELETE, ["accounts", id, "roles", role]) => {
            roles::change_role(identities, &request, id, role, false).await
        }
        (&Method::GET, ["accounts", id, "profile"]) => {
            profile::find_profile(identities, avatars, &request, id).await
        }
        (&Method::PATCH, ["accounts", id, "profile"]) => {
            profile::update_profile(identities, avatars, &request, id).await
        }
        (&Method::POST, ["requests"]) => requests::add_request(identities, &request).await,
        (&Method::GET, ["requests"]) => requests::find_requests(identities, &request).await,
        (&Method::GET, ["requests", id]) => requests::find_request(identities, &request, id).await,
        (&Method::DELETE, ["requests", id]) => {
            requests::remove_request(identities, &request, id).await
        }
        (&Method::POST, ["sessions"]) => sessions::sign_in(identities, &request).await,
        (&Method::POST, ["sessions", "refresh"]) => sessions::refresh(identities, &request).await,
        (&Method::GET, ["sessions"]) => sessions::list_sessions(identities, &request).await,
        (&Method::DELETE, ["sessions"]) => {
            sessions::remove_all_sessions(identities, &request).await
        }
        (&Method::GET, ["sessions", id]) => sessions::find_session(identities, &request, id).await,
        (&Method::DELETE, ["sessions", id]) => {
            sessions::remove_session(identities, &request, id).await
        }
        _ => Err(Error::NotFound("Not Found".into())),
    };
    result.unwrap_or_else(|e| http::error(Family::Users, e))
}

fn forbidden() -> Error {
    Error::Forbidden(NOT_AUTHORIZED.into())
}

/// The account `id`, if the caller is an admin of its organization or that account (guests: read only).
async fn account_for(
    identities: &Identities,
    caller: &Principal,
    id: &str,
    writes: bool,
) -> Result<Identity> {
    if caller.identity.id == id {
        if writes && caller.identity.type_id == identities.types.guest {
            return Err(forbidden());
        }
        return Ok(caller.identity.clone());
    }
    if !identities.is_admin(caller) {
        return Err(forbidden());
    }
    identities
        .identity(id)
        .await?
        .filter(|account| account.organization_id == caller.identity.organization_id)
        .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))
}

/// Passwords of at least 8 characters.
fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::invalid(
            "Validation Error",
            vec!["request body/password must NOT have fewer than 8 characters".into()],
        ));
    }
    Ok(())
}

fn check_type(identities: &Identities, kind: &str) -> Result<()> {
    let types = &identities.types;
    if [&types.admin, &types.regular, &types.guest].contains(&&kind.to_owned()) {
        Ok(())
    } else {
        Err(Error::invalid(
            "Validation Error",
            vec!["request body/type must be a known identity type".into()],
        ))
    }
}

fn context(request: &Request, device: Option<Value>) -> SessionContext {
    SessionContext {
        fingerprint: request::header(request, request::FINGERPRINT_HEADER).map(str::to_owned),
        user_agent: request::header(request, "user-agent").map(str::to_owned),
        device,
        lifetime: None,
    }
}

/// Admin-only routes refuse with the seed's admin message; admin-or-owner ones with [`forbidden`].
fn admin_only(identities: &Identities, caller: &Principal) -> Result<()> {
    if identities.is_admin(caller) {
        Ok(())
    } else {
        Err(Error::Forbidden(ADMIN_REQUIRED.into()))
    }
}

/// The caller of an admin-only route: signed in, and an admin.
async fn admin(identities: &Identities, request: &Request) -> Result<Principal> {
    let caller = identities.principal(request).await?;
    admin_only(identities, &caller)?;
    Ok(caller)
}

async fn with_profile(
    identities: &Identities,
    avatars: &Avatars,
    identity: &Identity,
    include: bool,
) -> Result<Value> {
    let mut view = identity.account_view();
    if include {
        let profile = match &identity.profile_id {
            Some(id) => identities.profile(id).await?,
            None => None,
        };
        view["profile"] = match profile {
            Some(profile) => profile_view(avatars, &profile).await?,
            None => Value::Null,
        };
    }
    Ok(view)
}

/// A profile as the accounts API shows it: its avatar with a fresh download URL.
async fn profile_view(avatars: &Avatars, profile: &Profile) -> Result<Value> {
    let mut view = profile.account_view();
    avatars.show(&mut view).await?;
    Ok(view)
}
