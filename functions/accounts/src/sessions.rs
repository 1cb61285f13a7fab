//! `/sessions`: sign-in, refresh, list and revoke.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::identity::Principal;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::{SESSION_INVALID, State, context};

/// `POST /sessions` with `{username, password}` or `{token}` → 201 `{id, accessToken, refreshToken,
/// expiresAt, account}`; `timeout` (seconds) shortens the session's idle timeout. An admin's `{username}`
/// alone opens a session for that account (hoodie's `sessions.add({username})`).
pub(crate) async fn sign_in(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("username", Kind::String, false),
            ("password", Kind::String, false),
            ("token", Kind::String, false),
            ("device", Kind::Object, false),
            ("organizationId", Kind::String, false),
            ("timeout", Kind::Integer, false),
        ],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let mut context = context(request, body.get("device").cloned());
    if let Some(timeout) = body.get("timeout").and_then(Value::as_i64) {
        let most = identities.session_limits.idle_seconds;
        if !(1..=most).contains(&timeout) {
            return Err(Error::validation(vec![format!(
                "request body/timeout must be between 1 and {most}"
            )]));
        }
        context.timeout = Some(timeout);
    }
    let signed_in = match (text("username"), text("password"), text("token")) {
        (Some(username), Some(password), None) => {
            let org = text("organizationId").unwrap_or(&identities.default_organization);
            identities
                .sign_in_with_password(org, username, password, context)
                .await?
        }
        // No password: an admin's impersonation, so without a bearer token it is an unauthenticated one.
        (Some(username), None, None) => {
            let admin = caller::principal(identities, request).await?;
            identities.impersonate(&admin, username, context).await?
        }
        (None, None, Some(token)) => identities.sign_in_with_token(token, context).await?,
        (None, _, None) => return Err(Error::bad_request("username must be set")),
        _ => {
            return Err(Error::validation(vec![
                "request body must have either username and password, or token".into(),
            ]));
        }
    };
    Ok(http::json(201, &signed_in.view()))
}

pub(crate) async fn refresh(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[("refreshToken", Kind::String, true)],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let token = body["refreshToken"].as_str().unwrap_or_default();
    let fingerprint = request::header(request, request::FINGERPRINT_HEADER);
    let signed_in = identities.refresh(token, fingerprint).await?;
    Ok(http::json(200, &signed_in.view()))
}

/// Own sessions; an admin's `?all=true` pages through the organization's (`limit`, `cursor`, and
/// `accountId` for one account's).
pub(crate) async fn list_sessions(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let mut problems = Vec::new();
    let all = match request::query_param(request, "all").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            problems.push("request query/all must be one of true, false".into());
            false
        }
    };
    let limit = request::bounded(request, "limit", 50, 1, 100, &mut problems);
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let cursor = request::cursor(request)?;
    let org = &caller.identity.organization_id;
    if !all {
        let sessions = identities.sessions(org, Some(&caller.identity.id)).await?;
        let views: Vec<Value> = sessions
            .iter()
            .map(|s| {
                let mut view = s.view(&caller.identity.username);
                view["current"] = json!(caller.session_id() == Some(s.id.as_str()));
                view
            })
            .collect();
        return Ok(http::json(200, &views));
    }
    identities.require_admin(&caller)?;
    let account = request::query_param(request, "accountId");
    let (sessions, next) = identities
        .sessions_page(org, account.as_deref(), limit as u32, cursor)
        .await?;
    let ids: Vec<&str> = sessions.iter().map(|s| s.identity_id.as_str()).collect();
    let usernames = identities.usernames(&ids).await?;
    let views: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let name = usernames.get(&s.identity_id).map_or("", String::as_str);
            let mut view = s.view(name);
            view["current"] = json!(caller.session_id() == Some(s.id.as_str()));
            view
        })
        .collect();
    Ok(http::page(&views, next))
}

/// The view of a session the caller may see, with its account's username.
async fn session_view(
    identities: &Identities,
    caller: &Principal,
    session: &switchboard::identity::Session,
) -> Result<Value> {
    if session.identity_id == caller.identity.id {
        return Ok(session.view(&caller.identity.username));
    }
    let owner = identities.identity(&session.identity_id).await?;
    Ok(session.view(owner.as_ref().map_or("", |o| o.username.as_str())))
}

pub(crate) async fn visible_session(
    identities: &Identities,
    caller: &Principal,
    id: &str,
) -> Result<switchboard::identity::Session> {
    let session = identities.session(id).await?;
    match session {
        Some(s)
            if s.identity_id == caller.identity.id
                || (identities.is_admin(caller)
                    && s.organization_id == caller.identity.organization_id) =>
        {
            Ok(s)
        }
        _ => Err(Error::NotFound(SESSION_INVALID.into())),
    }
}

pub(crate) async fn find_session(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let session = visible_session(identities, &caller, id).await?;
    Ok(http::json(
        200,
        &session_view(identities, &caller, &session).await?,
    ))
}

pub(crate) async fn remove_session(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let session = visible_session(identities, &caller, id).await?;
    if !identities.revoke_session(&session.id).await? {
        return Err(Error::NotFound(SESSION_INVALID.into()));
    }
    Ok(http::json(
        200,
        &session_view(identities, &caller, &session).await?,
    ))
}

/// Logout everywhere: every session of the caller, this one included.
pub(crate) async fn remove_all_sessions(
    accounts: &State,
    request: &Request,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let ended = identities.sign_out_everywhere(&caller.identity).await?;
    let name = &caller.identity.username;
    Ok(http::json(
        200,
        &ended.iter().map(|s| s.view(name)).collect::<Vec<_>>(),
    ))
}

/// An admin ends every session of an account of the organization (its access tokens fail at once).
pub(crate) async fn remove_account_sessions(
    accounts: &State,
    request: &Request,
    account: &str,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let identity = identities
        .identity(account)
        .await?
        .filter(|i| i.organization_id == caller.identity.organization_id)
        .ok_or_else(|| Error::NotFound(crate::ACCOUNT_NOT_FOUND.into()))?;
    let ended = identities.sign_out_everywhere(&identity).await?;
    let name = &identity.username;
    Ok(http::json(
        200,
        &ended.iter().map(|s| s.view(name)).collect::<Vec<_>>(),
    ))
}
