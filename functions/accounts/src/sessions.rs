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
/// expiresAt, account}`.
pub(crate) async fn sign_in(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("username", Kind::String, false),
            ("password", Kind::String, false),
            ("token", Kind::String, false),
            ("device", Kind::Object, false),
            ("organizationId", Kind::String, false),
        ],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let context = context(request, body.get("device").cloned());
    let signed_in = match (text("username"), text("password"), text("token")) {
        (Some(username), Some(password), None) => {
            let org = text("organizationId").unwrap_or(&identities.default_organization);
            identities
                .sign_in_with_password(org, username, password, context)
                .await?
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

/// Own sessions; an admin's `?all=true` lists the organization's.
pub(crate) async fn list_sessions(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let all = match request::query_param(request, "all").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Error::validation(vec![
                "request query/all must be one of true, false".into(),
            ]));
        }
    };
    if all {
        identities.require_admin(&caller)?;
    }
    let owner = (!all).then_some(caller.identity.id.as_str());
    let sessions = identities
        .sessions(&caller.identity.organization_id, owner)
        .await?;
    let views: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut view = s.view();
            view["current"] = json!(s.id == caller.session.id);
            view
        })
        .collect();
    Ok(http::json(200, &views))
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
    Ok(http::json(200, &session.view()))
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
    Ok(http::json(200, &session.view()))
}

/// Logout everywhere: every session of the caller, this one included.
pub(crate) async fn remove_all_sessions(
    accounts: &State,
    request: &Request,
) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::principal(identities, request).await?;
    let ended = identities.sign_out_everywhere(&caller.identity).await?;
    Ok(http::json(
        200,
        &ended.iter().map(|s| s.view()).collect::<Vec<_>>(),
    ))
}
