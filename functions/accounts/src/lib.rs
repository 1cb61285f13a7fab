//! Accounts and sessions (hoodie's account server API over HTTP, with what hoodie left undone): sign-up,
//! sign-in with a password or a one-time token, stored sessions (list, refresh, revoke, revoke all),
//! accounts (find, update, remove) and one-time account tokens. Errors use the user-service envelope.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::identity::{
    ADMIN_REQUIRED, Identity, NOT_AUTHORIZED, NewIdentity, OneTimeToken, Principal, SessionContext,
    password, tokens, usernames,
};
use switchboard::request::{self, Kind, Schema};
use switchboard::{App, Result};

const ACCOUNT_NOT_FOUND: &str = "Account not found";
const SESSION_INVALID: &str = "Session invalid";

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    let owned = request::segments(&request);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let result = match (&method, segments.as_slice()) {
        (&Method::POST, ["accounts"]) => sign_up(&app, &request).await,
        (&Method::GET, ["accounts"]) => find_accounts(&app, &request).await,
        (&Method::GET, ["accounts", id]) => find_account(&app, &request, id).await,
        (&Method::PATCH, ["accounts", id]) => update_account(&app, &request, id).await,
        (&Method::DELETE, ["accounts", id]) => remove_account(&app, &request, id).await,
        (&Method::POST, ["accounts", id, "tokens"]) => add_token(&app, &request, id).await,
        (&Method::GET, ["accounts", id, "tokens"]) => find_tokens(&app, &request, id).await,
        (&Method::GET, ["accounts", id, "tokens", token]) => {
            find_token(&app, &request, id, token).await
        }
        (&Method::DELETE, ["accounts", id, "tokens", token]) => {
            remove_token(&app, &request, id, token).await
        }
        (&Method::GET, ["accounts", id, "roles"]) => find_roles(&app, &request, id).await,
        (&Method::PUT, ["accounts", id, "roles", role]) => {
            change_role(&app, &request, id, role, true).await
        }
        (&Method::DELETE, ["accounts", id, "roles", role]) => {
            change_role(&app, &request, id, role, false).await
        }
        (&Method::GET, ["accounts", id, "profile"]) => find_profile(&app, &request, id).await,
        (&Method::PATCH, ["accounts", id, "profile"]) => update_profile(&app, &request, id).await,
        (&Method::POST, ["sessions"]) => sign_in(&app, &request).await,
        (&Method::POST, ["sessions", "refresh"]) => refresh(&app, &request).await,
        (&Method::GET, ["sessions"]) => list_sessions(&app, &request).await,
        (&Method::DELETE, ["sessions"]) => remove_all_sessions(&app, &request).await,
        (&Method::GET, ["sessions", id]) => find_session(&app, &request, id).await,
        (&Method::DELETE, ["sessions", id]) => remove_session(&app, &request, id).await,
        _ => Err(Error::NotFound("Not Found".into())),
    };
    result.unwrap_or_else(|e| http::error(Family::Users, e))
}

fn forbidden() -> Error {
    Error::Forbidden(NOT_AUTHORIZED.into())
}

/// The account `id`, if the caller is an admin or that account.
/// The account `id`, if the caller is an admin of its organization or that account (guests: read only).
async fn account_for(app: &App, caller: &Principal, id: &str, writes: bool) -> Result<Identity> {
    if caller.identity.id == id {
        if writes && caller.identity.type_id == app.identities.types.guest {
            return Err(forbidden());
        }
        return Ok(caller.identity.clone());
    }
    if !app.is_admin(caller) {
        return Err(forbidden());
    }
    app.identities
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

fn check_type(app: &App, kind: &str) -> Result<()> {
    let types = &app.identities.types;
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

/// `POST /accounts`: anyone may sign up as a regular account; an admin may choose the type.
async fn sign_up(app: &App, request: &Request) -> Result<Response<Body>> {
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
            let caller = app.principal(request).await?;
            admin_only(app, &caller)?;
            check_type(app, &kind)?;
            kind
        }
        None => app.identities.types.regular.clone(),
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
    let (identity, profile) = app
        .identities
        .create_identity(NewIdentity {
            organization_id: app.identities.default_organization.clone(),
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
fn include_profile(request: &Request, problems: &mut Vec<String>) -> bool {
    match request::query_param(request, "include").as_deref() {
        None => false,
        Some("profile") => true,
        Some(_) => {
            problems.push("request query/include must be equal to 'profile'".into());
            false
        }
    }
}

async fn find_account(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let mut problems = Vec::new();
    let include = include_profile(request, &mut problems);
    if !problems.is_empty() {
        return Err(Error::invalid("Validation Error", problems));
    }
    let account = account_for(app, &caller, id, false).await?;
    Ok(http::json(
        200,
        &with_profile(app, &account, include).await?,
    ))
}

async fn remove_account(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    account_for(app, &caller, id, true).await?;
    let removed = app
        .identities
        .delete_identity(id)
        .await?
        .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?;
    let mut view = removed.account_view();
    view["deletedAt"] = json!(switchboard::time::now_rfc3339());
    Ok(http::json(200, &view))
}

/// `POST /accounts/{id}/tokens` (admin): a one-time token; its secret is in the answer only.
async fn add_token(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    admin_only(app, &caller)?;
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
    let account = account_for(app, &caller, id, true).await?;
    let properties: Map<String, Value> = body.into_iter().filter(|(k, _)| k != "id").collect();
    let (token, secret) = app
        .identities
        .add_token(&account, &kind, timeout, properties)
        .await?;
    let mut view = token.view();
    view["token"] = json!(secret);
    Ok(http::json(201, &view))
}

/// `POST /sessions` with `{username, password}` or `{token}` → 201 `{id, accessToken, refreshToken,
/// expiresAt, account}`.
async fn sign_in(app: &App, request: &Request) -> Result<Response<Body>> {
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
            let org = text("organizationId").unwrap_or(&app.identities.default_organization);
            app.identities
                .sign_in_with_password(org, username, password, context)
                .await?
        }
        (None, None, Some(token)) => app.identities.sign_in_with_token(token, context).await?,
        (None, _, None) => return Err(Error::bad_request("username must be set")),
        _ => {
            return Err(Error::invalid(
                "Validation Error",
                vec!["request body must have either username and password, or token".into()],
            ));
        }
    };
    Ok(http::json(201, &signed_in.view()))
}

async fn refresh(app: &App, request: &Request) -> Result<Response<Body>> {
    const SCHEMA: Schema = Schema {
        fields: &[("refreshToken", Kind::String, true)],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let token = body["refreshToken"].as_str().unwrap_or_default();
    let fingerprint = request::header(request, request::FINGERPRINT_HEADER);
    let signed_in = app.identities.refresh(token, fingerprint).await?;
    Ok(http::json(200, &signed_in.view()))
}

/// Own sessions; an admin's `?all=true` lists the organization's.
async fn list_sessions(app: &App, request: &Request) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let all = match request::query_param(request, "all").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Error::invalid(
                "Validation Error",
                vec!["request query/all must be one of true, false".into()],
            ));
        }
    };
    if all {
        admin_only(app, &caller)?;
    }
    let owner = (!all).then_some(caller.identity.id.as_str());
    let sessions = app
        .identities
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

async fn visible_session(
    app: &App,
    caller: &Principal,
    id: &str,
) -> Result<switchboard::identity::Session> {
    let session = app.identities.session(id).await?;
    match session {
        Some(s)
            if s.identity_id == caller.identity.id
                || (app.is_admin(caller)
                    && s.organization_id == caller.identity.organization_id) =>
        {
            Ok(s)
        }
        _ => Err(Error::NotFound(SESSION_INVALID.into())),
    }
}

async fn find_session(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let session = visible_session(app, &caller, id).await?;
    Ok(http::json(200, &session.view()))
}

async fn remove_session(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let session = visible_session(app, &caller, id).await?;
    if !app.identities.revoke_session(&session.id).await? {
        return Err(Error::NotFound(SESSION_INVALID.into()));
    }
    Ok(http::json(200, &session.view()))
}

/// Logout everywhere: every session of the caller, this one included.
async fn remove_all_sessions(app: &App, request: &Request) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let ended = app.identities.sign_out_everywhere(&caller.identity).await?;
    Ok(http::json(
        200,
        &ended.iter().map(|s| s.view()).collect::<Vec<_>>(),
    ))
}

/// Admin-only routes refuse with the seed's admin message; admin-or-owner ones with [`forbidden`].
fn admin_only(app: &App, caller: &Principal) -> Result<()> {
    if app.is_admin(caller) {
        Ok(())
    } else {
        Err(Error::Forbidden(ADMIN_REQUIRED.into()))
    }
}

async fn with_profile(app: &App, identity: &Identity, include: bool) -> Result<Value> {
    let mut view = identity.account_view();
    if include {
        let profile = match &identity.profile_id {
            Some(id) => app.identities.profile(id).await?,
            None => None,
        };
        view["profile"] = profile.map_or(Value::Null, |p| p.account_view());
    }
    Ok(view)
}

/// `GET /accounts` (admin): all accounts, or the one with `?username=` or `?token=` (a one-time token,
/// not consumed). `include=profile`, `sort=createdAt|-createdAt`, `limit` 1..100 and `cursor`; the next
/// page's cursor comes back in the `x-next-cursor` header.
async fn find_accounts(app: &App, request: &Request) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    admin_only(app, &caller)?;
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
        return Err(Error::invalid("Validation Error", problems));
    }
    // Only a cursor this listing issued is one; an empty one never is, whatever else is asked.
    let cursor = request::query_param(request, "cursor");
    if cursor.as_deref() == Some("") {
        return Err(Error::bad_request("Invalid pagination cursor"));
    }
    let org = caller.identity.organization_id.clone();
    let single = if let Some(username) = request::query_param(request, "username") {
        Some(app.identities.identity_by_username(&org, &username).await?)
    } else if let Some(token) = request::query_param(request, "token") {
        let token = app.identities.find_token(&token).await?;
        Some(app.identities.identity(&token.identity_id).await?)
    } else {
        None
    };
    let (identities, cursor) = match single {
        Some(found) => (
            found
                .into_iter()
                .filter(|i| i.organization_id == org)
                .collect(),
            None,
        ),
        None => {
            app.identities
                .list_identities(&org, limit as u32, newest_first, cursor)
                .await?
        }
    };
    let mut views = Vec::with_capacity(identities.len());
    for identity in &identities {
        views.push(with_profile(app, identity, include).await?);
    }
    let mut response = http::json(200, &views);
    if let Some(cursor) = cursor.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert("x-next-cursor", cursor);
    }
    Ok(response)
}

/// `PATCH /accounts/{id}`: by the account itself or an admin, or without a session by presenting a
/// one-time token of that account in `token` (consumed). A new password ends the account's other sessions.
async fn update_account(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    const SCHEMA: Schema = Schema {
        fields: &[
            ("username", Kind::String, false),
            ("password", Kind::String, false),
            ("email", Kind::String, false),
            ("phone", Kind::String, false),
            ("type", Kind::String, false),
            ("token", Kind::String, false),
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
        check_type(app, &kind)?;
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
            let found = app.identities.find_token(&token).await?;
            if found.identity_id != id {
                return Err(Error::NotFound("Token not found".into()));
            }
            app.identities.consume_token(&found).await?;
            None
        }
        _ => {
            let caller = app.principal(request).await?;
            account_for(app, &caller, id, true).await?;
            if text("type").is_some() {
                admin_only(app, &caller)?;
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
        .map(|c| c.session.id.clone());
    let updated = app
        .identities
        .update_identity(id, |identity| {
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
        app.identities
            .revoke_sessions(&updated.organization_id, id, keep.as_deref())
            .await?;
    }
    Ok(http::json(200, &updated.account_view()))
}

async fn find_tokens(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    admin_only(app, &caller)?;
    let account = account_for(app, &caller, id, false).await?;
    let tokens = app
        .identities
        .tokens(&account.organization_id, &account.id)
        .await?;
    Ok(http::json(
        200,
        &tokens.iter().map(OneTimeToken::view).collect::<Vec<_>>(),
    ))
}

async fn token_of(app: &App, request: &Request, id: &str, token: &str) -> Result<OneTimeToken> {
    let caller = app.principal(request).await?;
    admin_only(app, &caller)?;
    account_for(app, &caller, id, false).await?;
    app.identities
        .token_by_id(token)
        .await?
        .filter(|t| t.identity_id == id)
        .ok_or_else(|| Error::NotFound("Token not found".into()))
}

async fn find_token(app: &App, request: &Request, id: &str, token: &str) -> Result<Response<Body>> {
    let token = token_of(app, request, id, token).await?;
    Ok(http::json(200, &token.view()))
}

async fn remove_token(
    app: &App,
    request: &Request,
    id: &str,
    token: &str,
) -> Result<Response<Body>> {
    let token = token_of(app, request, id, token).await?;
    let removed = app
        .identities
        .remove_token(&token.id)
        .await?
        .ok_or_else(|| Error::NotFound("Token not found".into()))?;
    Ok(http::json(200, &removed.view()))
}

async fn find_roles(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let account = account_for(app, &caller, id, false).await?;
    Ok(http::json(200, &account.roles))
}

/// `PUT|DELETE /accounts/{id}/roles/{role}` (admin): idempotent; answers with the role name, as hoodie.
async fn change_role(
    app: &App,
    request: &Request,
    id: &str,
    role: &str,
    add: bool,
) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    admin_only(app, &caller)?;
    if !tokens::valid_token_type(role) || role.len() > 64 {
        return Err(Error::invalid(
            "Validation Error",
            vec!["role must match ^[a-z][a-z0-9_-]*$ (64 characters at most)".into()],
        ));
    }
    account_for(app, &caller, id, true).await?;
    let mut found = true;
    app.identities
        .update_identity(id, |identity| {
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

async fn find_profile(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let account = account_for(app, &caller, id, false).await?;
    let profile = match &account.profile_id {
        Some(profile_id) => app.identities.profile(profile_id).await?,
        None => None,
    };
    let profile = profile.ok_or_else(|| Error::NotFound("Profile not found".into()))?;
    Ok(http::json(200, &profile.account_view()))
}

/// `PATCH /accounts/{id}/profile`: merges the given properties (`null` removes one); `name` and `avatar`
/// are the user entity's fields. Creates the profile if the account has none.
async fn update_profile(app: &App, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = app.principal(request).await?;
    let account = account_for(app, &caller, id, true).await?;
    if caller.identity.id == id && caller.identity.type_id == app.identities.types.guest {
        return Err(forbidden());
    }
    let changes = match request::json_body(request)? {
        Some(Value::Object(map)) if !map.is_empty() => map,
        None | Some(Value::Object(_)) => {
            return Err(Error::bad_request("Request body is required"));
        }
        Some(_) => {
            return Err(Error::invalid(
                "Validation Error",
                vec!["request body must be object".into()],
            ));
        }
    };
    let mut problems = Vec::new();
    if changes.get("name").is_some_and(|n| !n.is_string()) {
        problems.push("request body/name must be string".to_owned());
    }
    if changes
        .get("avatar")
        .is_some_and(|a| !(a.is_object() || a.is_null()))
    {
        problems.push("request body/avatar must be object,null".to_owned());
    }
    if changes.contains_key("id") {
        problems.push("request body/id must NOT be changed".to_owned());
    }
    if !problems.is_empty() {
        return Err(Error::invalid("Validation Error", problems));
    }
    let profile_id = match &account.profile_id {
        Some(profile_id) => profile_id.clone(),
        None => {
            let name = changes
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match app
                .identities
                .create_profile(&account.organization_id, id, name)
                .await
            {
                Ok(Some(profile)) => profile.id,
                Ok(None) => return Err(Error::NotFound(ACCOUNT_NOT_FOUND.into())),
                // Created by a concurrent request: update that one.
                Err(Error::Conflict(_)) => app
                    .identities
                    .identity(id)
                    .await?
                    .and_then(|i| i.profile_id)
                    .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?,
                Err(e) => return Err(e),
            }
        }
    };
    let updated = app
        .identities
        .update_profile(&profile_id, |profile| {
            for (key, value) in &changes {
                match key.as_str() {
                    "name" => profile.name = value.as_str().unwrap_or_default().to_owned(),
                    "avatar" => profile.avatar = (!value.is_null()).then(|| value.clone()),
                    _ if value.is_null() => {
                        profile.properties.remove(key);
                    }
                    _ => {
                        profile.properties.insert(key.clone(), value.clone());
                    }
                }
            }
            Ok(true)
        })
        .await?
        .ok_or_else(|| Error::NotFound("Profile not found".into()))?;
    Ok(http::json(200, &updated.account_view()))
}
