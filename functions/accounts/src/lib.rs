//! Accounts and sessions (hoodie's account server API over HTTP, with what hoodie left undone): sign-up,
//! sign-in with a password or a one-time token, stored sessions (list, refresh, revoke, revoke all),
//! accounts (find, update, remove) and one-time account tokens. Errors use the user-service envelope.

mod accounts;
mod profile;
mod providers;
mod requests;
mod roles;
mod sessions;
mod tokens;

use std::sync::Arc;

use lambda_http::Request;
use serde_json::Value;
use switchboard::Result;
use switchboard::app::Profiles;
use switchboard::avatar::Avatars;
use switchboard::avatar::objects::AvatarObjects;
use switchboard::config::Config;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::identity::{Identity, NOT_AUTHORIZED, Principal, Profile, SessionContext};
use switchboard::store::Store;
use switchboard_api::http::Family;
use switchboard_api::route::Routes;
use switchboard_api::{request, route};

const ACCOUNT_NOT_FOUND: &str = "Account not found";
const SESSION_INVALID: &str = "Session invalid";

/// The identities, and the avatars profiles show.
pub type State = Profiles;

pub fn state(config: &Config, store: Arc<dyn Store>, objects: AvatarObjects) -> State {
    Profiles::new(config, store, objects)
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Users,
    routes: &[
        route!("POST /accounts", accounts::sign_up),
        route!("GET /accounts", accounts::find_accounts),
        route!(
            "GET /accounts/{accountId}",
            accounts::find_account(accountId)
        ),
        route!(
            "PATCH /accounts/{accountId}",
            accounts::update_account(accountId)
        ),
        route!(
            "DELETE /accounts/{accountId}",
            accounts::remove_account(accountId)
        ),
        route!(
            "DELETE /accounts/{accountId}/sessions",
            sessions::remove_account_sessions(accountId)
        ),
        route!(
            "POST /accounts/{accountId}/tokens",
            tokens::add_token(accountId)
        ),
        route!(
            "GET /accounts/{accountId}/tokens",
            tokens::find_tokens(accountId)
        ),
        route!(
            "GET /accounts/{accountId}/tokens/{tokenId}",
            tokens::find_token(accountId, tokenId)
        ),
        route!(
            "DELETE /accounts/{accountId}/tokens/{tokenId}",
            tokens::remove_token(accountId, tokenId)
        ),
        route!(
            "GET /accounts/{accountId}/roles",
            roles::find_roles(accountId)
        ),
        route!(
            "PUT /accounts/{accountId}/roles/{role}",
            roles::add_role(accountId, role)
        ),
        route!(
            "DELETE /accounts/{accountId}/roles/{role}",
            roles::remove_role(accountId, role)
        ),
        route!(
            "GET /accounts/{accountId}/profile",
            profile::find_profile(accountId)
        ),
        route!(
            "PATCH /accounts/{accountId}/profile",
            profile::update_profile(accountId)
        ),
        route!("POST /requests", requests::add_request),
        route!("GET /requests", requests::find_requests),
        route!(
            "GET /requests/{requestId}",
            requests::find_request(requestId)
        ),
        route!(
            "DELETE /requests/{requestId}",
            requests::remove_request(requestId)
        ),
        route!("POST /identity-providers", providers::add_provider),
        route!("GET /identity-providers", providers::find_providers),
        route!(
            "GET /identity-providers/{providerId}",
            providers::find_provider(providerId)
        ),
        route!(
            "PATCH /identity-providers/{providerId}",
            providers::update_provider(providerId)
        ),
        route!(
            "DELETE /identity-providers/{providerId}",
            providers::remove_provider(providerId)
        ),
        route!("POST /sessions", sessions::sign_in),
        route!("POST /sessions/refresh", sessions::refresh),
        route!("GET /sessions", sessions::list_sessions),
        route!("DELETE /sessions", sessions::remove_all_sessions),
        route!(
            "GET /sessions/{sessionId}",
            sessions::find_session(sessionId)
        ),
        route!(
            "DELETE /sessions/{sessionId}",
            sessions::remove_session(sessionId)
        ),
    ],
};

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
        return Err(Error::validation(vec![
            "request body/password must NOT have fewer than 8 characters".into(),
        ]));
    }
    Ok(())
}

fn check_type(identities: &Identities, kind: &str) -> Result<()> {
    let types = &identities.types;
    if [&types.admin, &types.regular, &types.guest].contains(&&kind.to_owned()) {
        Ok(())
    } else {
        Err(Error::validation(vec![
            "request body/type must be a known identity type".into(),
        ]))
    }
}

fn context(request: &Request, device: Option<Value>) -> SessionContext {
    SessionContext {
        fingerprint: request::header(request, request::FINGERPRINT_HEADER).map(str::to_owned),
        user_agent: request::header(request, "user-agent").map(str::to_owned),
        device,
        ..SessionContext::default()
    }
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
