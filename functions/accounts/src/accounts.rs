//! `/accounts`: sign-up, find, update and remove.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::Actor;
use switchboard::identity::{NewIdentity, password, usernames};
use switchboard::validate::{Kind, Schema};
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::{
    ACCOUNT_NOT_FOUND, State, account_for, check_password, check_type, forbidden, with_profile,
};

/// The answer to a wrong `currentPassword`: 403, so a client keeps its (valid) token.
const CURRENT_PASSWORD_WRONG: &str = "The current password is not correct";

/// `POST /accounts`: anyone may sign up as a regular account; an admin may choose the type.
pub(crate) async fn sign_up(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("username", Kind::String, true),
            ("password", Kind::String, true),
            ("email", Kind::String, false),
            ("phone", Kind::String, false),
            ("type", Kind::String, false),
            ("profile", Kind::Object, false),
        ],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let type_id = match text("type") {
        Some(kind) => {
            caller::admin(identities, request).await?;
            check_type(identities, &kind)?;
            kind
        }
        None => identities.types.regular.clone(),
    };
    let password = text("password").unwrap_or_default();
    check_password(&password)?;
    let profile = body.get("profile").and_then(Value::as_object).map(|p| {
        let mut properties = p.clone();
        let name = properties
            .remove("name")
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_default();
        (name, properties)
    });
    let (identity, profile) = identities
        .create_identity(NewIdentity {
            organization_id: identities.default_organization.clone(),
            username: text("username").unwrap_or_default(),
            password: Some(password),
            email: text("email"),
            phone: text("phone"),
            type_id,
            external_id: None,
            profile,
        })
        .await?;
    let mut view = identity.account_view();
    if let Some(profile) = profile {
        view["profile"] = profile.account_view();
    }
    Ok(http::json(201, &view))
}

/// `include=profile`, the only value of `include`.
pub(crate) fn include_profile(request: &Request, problems: &mut Vec<String>) -> bool {
    match request::query_param(request, "include").as_deref() {
        None => false,
        Some("profile") => true,
        Some(_) => {
            problems.push("request query/include must be equal to 'profile'".into());
            false
        }
    }
}

pub(crate) async fn find_account(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let State {
        identities,
        avatars,
    } = accounts;
    let caller = caller::principal(identities, request).await?;
    let mut problems = Vec::new();
    let include = include_profile(request, &mut problems);
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let account = account_for(identities, &caller, id, false).await?;
    Ok(http::json(
        200,
        &with_profile(identities, avatars, &account, include).await?,
    ))
}

pub(crate) async fn remove_account(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    account_for(identities, &caller, id, true).await?;
    let (removed, profile) = identities
        .delete_identity(id)
        .await?
        .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?;
    let avatar = profile.and_then(|p| p.avatar);
    accounts.avatars.delete_stored(avatar.as_ref()).await?;
    let mut view = removed.account_view();
    view["deletedAt"] = json!(switchboard::time::now_rfc3339());
    Ok(http::json(200, &view))
}

/// `GET /accounts` (admin): all accounts, or the one with `?username=` or `?token=` (a one-time token,
/// not consumed). `include=profile`, `sort=createdAt|-createdAt`, `limit` 1..100 and `cursor`; the next
/// page's cursor comes back in the `x-next-cursor` header.
pub(crate) async fn find_accounts(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let State {
        identities,
        avatars,
    } = accounts;
    let caller = caller::admin(identities, request).await?;
    let mut problems = Vec::new();
    let limit = request::bounded(request, "limit", 50, 1, 100, &mut problems);
    let include = include_profile(request, &mut problems);
    let newest_first = match request::query_param(request, "sort").as_deref() {
        None | Some("createdAt") => false,
        Some("-createdAt") => true,
        Some(_) => {
            problems.push("request query/sort must be one of createdAt, -createdAt".into());
            false
        }
    };
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let cursor = request::cursor(request)?;
    let org = caller.identity.organization_id.clone();
    let single = if let Some(username) = request::query_param(request, "username") {
        Some(identities.identity_by_username(&org, &username).await?)
    } else if let Some(token) = request::query_param(request, "token") {
        let token = identities.find_token(&token).await?;
        Some(identities.identity(&token.identity_id).await?)
    } else {
        None
    };
    let (accounts, cursor) = match single {
        Some(found) => (
            found
                .into_iter()
                .filter(|i| i.organization_id == org)
                .collect(),
            None,
        ),
        None => {
            identities
                .list_identities(&org, limit as u32, newest_first, cursor)
                .await?
        }
    };
    let mut views = Vec::with_capacity(accounts.len());
    for identity in &accounts {
        views.push(with_profile(identities, avatars, identity, include).await?);
    }
    Ok(http::page(&views, cursor))
}

/// `PATCH /accounts/{id}`: by the account itself or an admin, or without a session by presenting a
/// one-time token of that account in `token` (consumed). A new password ends the account's other sessions.
pub(crate) async fn update_account(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("username", Kind::String, false),
            ("password", Kind::String, false),
            ("email", Kind::String, false),
            ("phone", Kind::String, false),
            ("type", Kind::String, false),
            ("token", Kind::String, false),
            ("currentPassword", Kind::String, false),
        ],
        open: false,
    };
    let body = match request::json_body(request)? {
        Some(Value::Object(map)) if map.is_empty() => None,
        body => body,
    }
    .ok_or_else(|| Error::bad_request("Request body is required"))?;
    let body = SCHEMA.check(Some(body))?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    // Everything that can be refused is checked before a one-time token is used up.
    if let Some(kind) = text("type") {
        check_type(identities, &kind)?;
    }
    if let Some(password) = text("password") {
        check_password(&password)?;
    }
    if let Some(username) = text("username") {
        usernames::canonical(&username)?;
    }
    let caller = match (request::bearer(request), text("token")) {
        (None, Some(token)) => {
            if text("type").is_some() {
                return Err(forbidden());
            }
            let found = identities.find_token(&token).await?;
            if found.identity_id != id {
                return Err(Error::NotFound("Token not found".into()));
            }
            identities.consume_token(&found).await?;
            None
        }
        _ => {
            let caller = caller::principal(identities, request).await?;
            account_for(identities, &caller, id, true).await?;
            if text("type").is_some() {
                identities.require_admin(&caller)?;
            }
            // A stolen access token is not a takeover: the account's own password or email changes only
            // with its current password (or a reset token, above). An admin changing another account
            // does not need it, as in hoodie.
            if caller.identity.id == id && (text("password").is_some() || text("email").is_some()) {
                let current = text("currentPassword").ok_or_else(|| {
                    Error::validation(vec![
                        "request body must have required property 'currentPassword'".into(),
                    ])
                })?;
                if !password::verify(current, caller.identity.password_hash.clone()).await {
                    return Err(Error::Forbidden(CURRENT_PASSWORD_WRONG.into()));
                }
            }
            Some(caller)
        }
    };
    let password_hash = match text("password") {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    // A password change ends every other session; the caller's own, when it is the account's, stays.
    let keep = caller
        .as_ref()
        .filter(|c| c.identity.id == id)
        .and_then(|c| c.session_id().map(str::to_owned));
    let actor = match &caller {
        Some(caller) => Actor::Account(&caller.identity.id),
        None => Actor::Token,
    };
    let updated = identities
        .update_identity_as(id, actor, |identity| {
            if let Some(username) = text("username") {
                identity.username = username;
            }
            if let Some(email) = text("email") {
                // An empty email removes it.
                identity.email = Some(email).filter(|e| !e.trim().is_empty());
            }
            if let Some(phone) = text("phone") {
                identity.phone = Some(phone);
            }
            if let Some(kind) = text("type") {
                identity.type_id = kind;
            }
            if let Some(hash) = &password_hash {
                identity.password_hash = Some(hash.clone());
                identity.sign_out_sessions(keep.as_deref());
            }
            Ok(true)
        })
        .await?
        .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?;
    if password_hash.is_some() {
        identities
            .revoke_sessions(&updated.organization_id, id, keep.as_deref())
            .await?;
    }
    Ok(http::json(200, &updated.account_view()))
}
