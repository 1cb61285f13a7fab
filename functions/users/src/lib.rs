//! The user service of seed 003 (Nodeblocks), word for word: `/users` CRUD and list, identity lock and
//! unlock; plus the caller's personal API keys (`/users/me/api-keys`), used by the CRM extension's login.

mod members;

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::avatar::objects::AvatarObjects;
use switchboard::avatar::{self, Avatars};
use switchboard::config::Config;
use switchboard::crm::Crm;
use switchboard::error::Error;
use switchboard::identity::{Actor, Identities};
use switchboard::identity::{NOT_AUTHORIZED, Principal, Profile, ProfileFilter};
use switchboard::outbound::Outbound;
use switchboard::store::Store;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The identities, the CRM connections a revoked API key ends, and the avatars profiles show.
pub struct State {
    pub identities: Identities,
    pub crm: Crm,
    pub avatars: Avatars,
    /// Fetches `{url}` avatars through the outbound guard.
    pub outbound: Arc<Outbound>,
    pub avatar_max_size: usize,
}

pub fn state(config: &Config, store: Arc<dyn Store>, objects: AvatarObjects) -> State {
    State {
        identities: Identities::new(store.clone(), config),
        crm: Crm::new(store.clone(), config),
        avatars: Avatars::new(store, objects),
        outbound: Arc::new(Outbound::new(config.outbound.clone())),
        avatar_max_size: config.avatar_max_size,
    }
}

/// A profile as the user service shows it: its avatar with a fresh download URL.
async fn user_view(users: &State, profile: &Profile) -> Result<Value> {
    let mut view = profile.user_view();
    users.avatars.show(&mut view).await?;
    Ok(view)
}

const PROFILE_NOT_FOUND: &str = "User profile not found";
const USER_NOT_FOUND: &str = "User not found";

pub static ROUTES: Routes<State> = Routes {
    family: Family::Users,
    routes: &[
        route!("POST /users", create_user).failure("Failed to create user"),
        route!("GET /users", list_users).failure("Failed to find users"),
        route!("GET /users/me", get_me).failure("Failed to get user"),
        route!("GET /users/{profileId}", get_user(profileId)).failure("Failed to get user"),
        route!("PATCH /users/{profileId}", update_user(profileId)).failure("Failed to update user"),
        route!("DELETE /users/{profileId}", delete_user(profileId))
            .failure("Failed to delete user"),
        route!("POST /identities/{identityId}/lock", lock(identityId))
            .failure("Failed to lock user"),
        route!("POST /identities/{identityId}/unlock", unlock(identityId))
            .failure("Failed to unlock user"),
        route!("POST /users/me/api-keys", create_api_key).failure("Failed to create API key"),
        route!("GET /users/me/api-keys", list_api_keys).failure("Failed to find API keys"),
        route!("DELETE /users/me/api-keys/{keyId}", revoke_api_key(keyId))
            .failure("Failed to revoke API key"),
        route!("POST /users/me/avatar/sync", sync_avatar).failure("Failed to sync avatar"),
        route!("PUT /users/me/avatar", upload_avatar).failure("Failed to upload avatar"),
        route!("GET /members", members::find_members).failure("Failed to find members"),
        route!("GET /members/{memberId}", members::find_member(memberId))
            .failure("Failed to find member"),
        route!(
            "GET /members/{memberId}/last-seen",
            members::last_seen(memberId)
        )
        .failure("Failed to find member"),
    ],
};

fn forbidden() -> Error {
    Error::Forbidden(NOT_AUTHORIZED.into())
}

async fn create_user(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("identityId", Kind::String, true),
            ("name", Kind::String, true),
        ],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let identity_id = body["identityId"].as_str().unwrap_or_default();
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    if !users
        .identities
        .may_act(&caller, identity_id, &caller.identity.organization_id, true)
    {
        return Err(forbidden());
    }
    let profile = users
        .identities
        .create_profile(&caller.identity.organization_id, identity_id, name)
        .await?
        .ok_or_else(|| Error::NotFound(USER_NOT_FOUND.into()))?;
    Ok(http::json(200, &user_view(users, &profile).await?))
}

async fn get_user(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    // The profile is read with the token check: one round trip.
    let (caller, read) =
        caller::principal_with(&users.identities, request, vec![Profile::key_of(id)]).await?;
    let profile = users
        .identities
        .profile_among(&caller, &read, id, PROFILE_NOT_FOUND)?;
    Ok(http::json(200, &user_view(users, &profile).await?))
}

/// `GET /users/me` (antz's `getMe`): the caller's own user.
async fn get_me(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    let id = caller
        .identity
        .profile_id
        .clone()
        .ok_or_else(|| Error::NotFound(PROFILE_NOT_FOUND.into()))?;
    shown_user(users, &caller, &id).await
}

/// Profile `id` as `caller` may read it (owner or admin), in the user service's view.
async fn shown_user(users: &State, caller: &Principal, id: &str) -> Result<Response<Body>> {
    let profile = users
        .identities
        .profile_for(caller, id, false, PROFILE_NOT_FOUND)
        .await?;
    Ok(http::json(200, &user_view(users, &profile).await?))
}

async fn list_users(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::admin(&users.identities, request).await?;
    let mut problems = Vec::new();
    let page = request::bounded(request, "page", 1, 1, 1000, &mut problems);
    let limit = request::bounded(request, "limit", 10, 1, 50, &mut problems);
    let mut filter = ProfileFilter {
        name: None,
        identity_id: None,
        fields: Vec::new(),
        page,
        limit,
    };
    for (key, value) in request::query_params(request) {
        match key.as_str() {
            "page" | "limit" => {}
            "name" => filter.name = Some(value),
            "identityId" => filter.identity_id = Some(value),
            // Seed 003's `?status=active`, `?email=…`: exact filters on the users' stored fields.
            _ if is_field_name(&key) => filter.fields.push((key, value)),
            _ => problems.push("request query keys must be field names".into()),
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(Error::validation(problems));
    }
    let profiles = users
        .identities
        .list_profiles(&caller.identity.organization_id, &filter)
        .await?;
    let mut views = Vec::with_capacity(profiles.len());
    for profile in &profiles {
        views.push(user_view(users, profile).await?);
    }
    Ok(http::json(200, &views))
}

/// A stored field's name: a letter, then letters, digits or `_`, 64 at most.
fn is_field_name(key: &str) -> bool {
    key.len() <= 64
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn update_user(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    let profile = users
        .identities
        .profile_for(&caller, id, true, PROFILE_NOT_FOUND)
        .await?;
    let body = match request::json_body(request)? {
        Some(Value::Object(map)) if !map.is_empty() => Value::Object(map),
        None | Some(Value::Object(_)) => {
            return Err(Error::bad_request("Request body is required"));
        }
        Some(other) => other,
    };
    const SCHEMA: Schema = Schema {
        fields: &[
            ("name", Kind::String, false),
            ("avatar", Kind::NullableObject, false),
        ],
        open: false,
    };
    let changes = SCHEMA.check(Some(body))?;
    // Only Switchboard writes an avatar, from bytes it checked: a client names an upload issued for this
    // profile (its `url`, if sent, is ignored), or removes the avatar with `null`.
    let mut changed = false;
    if let Some(Value::Object(avatar)) = changes.get("avatar") {
        let object_id = requested_object(avatar)?;
        users.avatars.attach_requested(&profile, object_id).await?;
        changed = true;
    }
    let remove = changes.get("avatar").is_some_and(Value::is_null);
    let mut removed = None;
    let updated = users
        .identities
        .update_profile(id, |p| {
            let mut write = false;
            if let Some(name) = changes.get("name").and_then(Value::as_str)
                && p.name != name
            {
                p.name = name.to_owned();
                write = true;
            }
            if remove && p.avatar.is_some() {
                removed = p.remove_avatar();
                write = true;
            }
            changed |= write;
            Ok(write)
        })
        .await?
        .ok_or_else(|| Error::NotFound(PROFILE_NOT_FOUND.into()))?;
    users.avatars.delete_stored(removed.as_ref()).await?;
    // Seed 003: an update that changes nothing is refused.
    if !changed {
        return Err(Error::bad_request("Failed to update user"));
    }
    Ok(http::json(200, &user_view(users, &updated).await?))
}

/// The `objectId` of a PATCH's avatar object; `url` may come along and is ignored.
fn requested_object(avatar: &serde_json::Map<String, Value>) -> Result<&str> {
    let mut problems = Vec::new();
    if avatar.keys().any(|k| k != "objectId" && k != "url") {
        problems.push("request body/avatar must NOT have additional properties".to_owned());
    }
    let object_id = match avatar.get("objectId") {
        Some(Value::String(id)) => Some(id.as_str()),
        Some(_) => {
            problems.push("request body/avatar/objectId must be string".to_owned());
            None
        }
        None => {
            problems.push("request body/avatar must have required property 'objectId'".to_owned());
            None
        }
    };
    match object_id {
        Some(id) if problems.is_empty() => Ok(id),
        _ => Err(Error::validation(problems)),
    }
}

/// Antz's `POST /users/me/avatar/sync`: `{url}` (fetched through the outbound guard) or
/// `{base64: "data:image/…;base64,…"}` becomes the caller's avatar; the same image again is a no-op.
async fn sync_avatar(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    // Who may write which profile is settled before anything is fetched: a guest's or a profile-less
    // caller's URL is never requested.
    let profile = own_profile(users, &caller).await?;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("url", Kind::String, false),
            ("base64", Kind::String, false),
        ],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let limit = users.avatar_max_size;
    let (content_type, bytes) = match (body.get("url"), body.get("base64")) {
        (Some(Value::String(url)), None) => {
            let fetched = users.outbound.get(url, limit).await?;
            let content_type = fetched.content_type.unwrap_or_default();
            (content_type, fetched.body.to_vec())
        }
        (None, Some(Value::String(data))) => data_uri(data, limit.min(MAX_INLINE_AVATAR))?,
        _ => {
            return Err(Error::validation(vec![
                "request body must have exactly one of 'url' and 'base64'".into(),
            ]));
        }
    };
    set_avatar(users, &profile, &content_type, &bytes).await
}

/// Bytes the server received become the caller's avatar (the same image again is a no-op): `{avatarUrl}`.
async fn set_avatar(
    users: &State,
    profile: &Profile,
    content_type: &str,
    bytes: &[u8],
) -> Result<Response<Body>> {
    let url = users
        .avatars
        .replace(profile, content_type, bytes, users.avatar_max_size)
        .await?;
    Ok(http::json(200, &json!({ "avatarUrl": url })))
}

/// The largest image a sync may carry inline (base64): its JSON body (4/3 larger) must fit in a Lambda
/// invocation's 6 MB event. The URL form is fetched, not sent, so it keeps the configured limit.
pub const MAX_INLINE_AVATAR: usize = 4_194_304;

/// The largest `PUT /users/me/avatar` body. A Lambda request is at most 6 MB (6,291,456 bytes, the whole
/// event) and API Gateway base64-encodes multipart bodies (4/3 larger), so about 4.7 MB of body can reach the
/// function; 4 MiB leaves room for the rest of the event. Beyond it: 413, on the local server too.
pub const MAX_UPLOAD_BODY: usize = 4_194_304;

/// Antz's `PUT /users/me/avatar`: the one file part of a multipart/form-data body becomes the caller's
/// avatar, checked and deduplicated as sync's bytes are.
async fn upload_avatar(users: &State, request: &Request) -> Result<Response<Body>> {
    if request.body().len() > MAX_UPLOAD_BODY {
        let message = format!("The request body is larger than {MAX_UPLOAD_BODY} bytes");
        return Ok(http::json(413, &json!({ "error": { "message": message } })));
    }
    let caller = caller::principal(&users.identities, request).await?;
    let profile = own_profile(users, &caller).await?;
    let (content_type, bytes) = file_part(request).await?;
    set_avatar(users, &profile, &content_type, &bytes).await
}

/// The one file part (a part with a file name) of a multipart/form-data body: its declared content type
/// (RFC 7578's default when it has none) and its bytes. Other parts are ignored.
async fn file_part(request: &Request) -> Result<(String, Vec<u8>)> {
    let invalid = |problem: &str| Error::validation(vec![problem.to_owned()]);
    let boundary = request
        .headers()
        .get(lambda_http::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| invalid("request body must be multipart/form-data"))?;
    let body = request.body().to_vec();
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let malformed = |_| invalid("request body must be well-formed multipart/form-data");
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        if field.file_name().is_none() {
            continue;
        }
        if file.is_some() {
            return Err(invalid("request body must have exactly one file part"));
        }
        let content_type = field.content_type().map_or_else(
            || "application/octet-stream".to_owned(),
            ToString::to_string,
        );
        file = Some((
            content_type,
            field.bytes().await.map_err(malformed)?.to_vec(),
        ));
    }
    file.ok_or_else(|| invalid("request body must have exactly one file part"))
}

/// The caller's own profile, if they may change it.
async fn own_profile(users: &State, caller: &Principal) -> Result<Profile> {
    let id = caller
        .identity
        .profile_id
        .as_deref()
        .ok_or_else(|| Error::NotFound(PROFILE_NOT_FOUND.into()))?;
    users
        .identities
        .profile_for(caller, id, true, PROFILE_NOT_FOUND)
        .await
}

/// `data:image/png;base64,…`: the declared type and the decoded bytes (refused unread past `limit`).
fn data_uri(data: &str, limit: usize) -> Result<(String, Vec<u8>)> {
    use base64::Engine;
    let invalid = || {
        Error::validation(vec![
            "request body/base64 must be a data:image/…;base64,… URI".into(),
        ])
    };
    let (head, payload) = data
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .ok_or_else(invalid)?;
    let content_type = head.strip_suffix(";base64").ok_or_else(invalid)?;
    if payload.len() / 4 * 3 > limit + 3 {
        return Err(avatar::image::ImageError::TooLarge { limit }.into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| invalid())?;
    if bytes.len() > limit {
        return Err(avatar::image::ImageError::TooLarge { limit }.into());
    }
    Ok((content_type.to_owned(), bytes))
}

async fn delete_user(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    users
        .identities
        .profile_for(&caller, id, true, USER_NOT_FOUND)
        .await?;
    let deleted = users
        .identities
        .delete_profile(id)
        .await?
        .ok_or_else(|| Error::NotFound(USER_NOT_FOUND.into()))?;
    users.avatars.delete_stored(deleted.avatar.as_ref()).await?;
    Ok(http::empty(204))
}

async fn lock(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    set_locked(users, request, id, true).await
}

async fn unlock(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    set_locked(users, request, id, false).await
}

async fn set_locked(
    users: &State,
    request: &Request,
    id: &str,
    locked: bool,
) -> Result<Response<Body>> {
    let caller = caller::admin(&users.identities, request).await?;
    users
        .identities
        .update_identity_as(id, Actor::Account(&caller.identity.id), |identity| {
            if identity.organization_id != caller.identity.organization_id {
                return Err(Error::NotFound(USER_NOT_FOUND.into()));
            }
            identity.locked = locked;
            if !locked {
                // Unlock also ends a failed sign-in lockout and its growth.
                identity.failed_logins = 0;
                identity.locked_until = None;
                identity.lockouts = 0;
            }
            Ok(true)
        })
        .await?
        .ok_or_else(|| Error::NotFound(USER_NOT_FOUND.into()))?;
    Ok(http::empty(204))
}

async fn create_api_key(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    if caller.identity.type_id == users.identities.types.guest {
        return Err(forbidden());
    }
    const SCHEMA: Schema = Schema {
        fields: &[("name", Kind::String, false)],
        open: false,
    };
    let body = SCHEMA.check(request::json_body(request)?)?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    let (key, secret) = users
        .identities
        .create_api_key(&caller.identity, name)
        .await?;
    Ok(http::json(
        201,
        &json!({ "id": key.id, "key": secret, "name": key.name, "createdAt": key.created_at }),
    ))
}

async fn list_api_keys(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    let keys = users
        .identities
        .api_keys(&caller.identity.organization_id, &caller.identity.id)
        .await?;
    Ok(http::json(
        200,
        &keys.iter().map(|k| k.view()).collect::<Vec<_>>(),
    ))
}

async fn revoke_api_key(users: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    // The CRM connections made with the key end with it (and only those).
    let connections = users
        .crm
        .end_connections_of_key(&caller.identity.id, id)
        .await?;
    if users
        .identities
        .revoke_api_key(&caller.identity, id, connections)
        .await?
    {
        Ok(http::empty(204))
    } else {
        Err(Error::NotFound("API key not found".into()))
    }
}
