//! The server API of the ContactsManager SDKs, so the official SDKs work unchanged against Switchboard:
//! `POST|DELETE /api/v1/server/users/{uid}` authenticated by the token the SDK signs with its organization's
//! apiSecret, and `POST /api/v1/client/validate-key`. Errors are `{"detail": …}`. The end-user token returned
//! is a Switchboard access token (a stored session), accepted by the user-facing routes.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use switchboard::Result;
use switchboard::app::Profiles;
use switchboard::avatar::objects::AvatarObjects;
use switchboard::config::Config;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::identity::{Identity, NewIdentity, SessionContext};
use switchboard::store::Store;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{request, route};

/// The SDKs' default token lifetime.
const DEFAULT_EXPIRY_SECONDS: i64 = 86_400;
const MAX_EXPIRY_SECONDS: i64 = 30 * 86_400;

/// The identities and organizations the SDK tokens are checked against, and the avatars a deleted user's
/// profile leaves behind.
pub type State = Profiles;

pub fn state(config: &Config, store: Arc<dyn Store>, objects: AvatarObjects) -> State {
    Profiles::new(config, store, objects)
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Server,
    routes: &[
        route!("POST /api/v1/server/users/{uid}", upsert_user(uid)),
        route!("DELETE /api/v1/server/users/{uid}", delete_user(uid)),
        route!("POST /api/v1/client/validate-key", validate_key),
    ],
};

/// The organization of the SDK token, which must be for user `uid`.
async fn organization(
    identities: &Identities,
    request: &Request,
    uid: &str,
) -> Result<(String, Option<Value>)> {
    let token = request::bearer(request)
        .ok_or_else(|| Error::Unauthorized("Missing bearer token".into()))?;
    let (org, claims) = identities.verify_server_token(token).await?;
    if claims.user_id != uid {
        return Err(Error::Forbidden(
            "Token user_id does not match the user in the path".into(),
        ));
    }
    Ok((org.organization_id, claims.device()))
}

async fn upsert_user(state: &State, request: &Request, uid: &str) -> Result<Response<Body>> {
    let identities = &state.identities;
    let (org, token_device) = organization(identities, request, uid).await?;
    const SCHEMA: Schema = Schema {
        fields: &[
            ("expiry_seconds", Kind::Integer, false),
            ("user_info", Kind::Object, true),
            ("device_info", Kind::NullableObject, false),
        ],
        open: true,
    };
    let body = SCHEMA
        .check(request::json_body(request)?)
        .map_err(|_| Error::bad_request("user_info is required"))?;
    let info = body["user_info"].as_object().cloned().unwrap_or_default();
    for field in ["userId", "fullName", "email", "phone"] {
        if info.get(field).is_some_and(|v| !v.is_string()) {
            return Err(Error::bad_request(format!(
                "user_info.{field} must be a string"
            )));
        }
    }
    let text = |name: &str| info.get(name).and_then(Value::as_str).map(str::to_owned);
    if text("userId").as_deref().is_some_and(|id| id != uid) {
        return Err(Error::bad_request(
            "user_info.userId must match the user in the path",
        ));
    }
    let full_name =
        text("fullName").ok_or_else(|| Error::bad_request("user_info.fullName is required"))?;
    let expiry = body
        .get("expiry_seconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRY_SECONDS);
    if !(1..=MAX_EXPIRY_SECONDS).contains(&expiry) {
        return Err(Error::bad_request(format!(
            "expiry_seconds must be between 1 and {MAX_EXPIRY_SECONDS}"
        )));
    }
    let mut properties = Map::new();
    for (from, to) in [("avatarUrl", "avatarUrl"), ("metadata", "metadata")] {
        if let Some(value) = info.get(from) {
            properties.insert(to.into(), value.clone());
        }
    }
    // Create unless it exists; when concurrent first upserts race, one creates and the others update it.
    let (identity, created) = match identities.identity_by_external_id(&org, uid).await? {
        Some(existing) => (existing, false),
        None => match identities
            .create_identity(NewIdentity {
                organization_id: org.clone(),
                username: format!("ext:{uid}"),
                password: None,
                email: text("email"),
                phone: text("phone"),
                type_id: identities.types.regular.clone(),
                external_id: Some(uid.to_owned()),
                profile: Some((full_name.clone(), properties.clone())),
            })
            .await
        {
            Ok((identity, _)) => (identity, true),
            Err(Error::Conflict(message)) => (
                identities
                    .identity_by_external_id(&org, uid)
                    .await?
                    .ok_or(Error::Conflict(message))?,
                false,
            ),
            Err(e) => return Err(e),
        },
    };
    let identity = if created {
        identity
    } else {
        update_user(identities, &org, identity, &text, &full_name, &properties).await?
    };
    let device = body
        .get("device_info")
        .filter(|d| !d.is_null())
        .cloned()
        .or(token_device);
    let context = SessionContext {
        fingerprint: None,
        user_agent: request::header(request, "user-agent").map(str::to_owned),
        device,
        lifetime: Some(expiry),
        ..SessionContext::default()
    };
    let signed_in = identities
        .start_session(identity.clone(), context, Vec::new())
        .await?;
    let profile = match &identity.profile_id {
        Some(id) => identities.profile(id).await?,
        None => None,
    };
    Ok(http::json(
        // 200 whether created or updated: the official SDKs treat any other status as a failure.
        200,
        &json!({
            "status": "success",
            "data": {
                "token": { "token": signed_in.access_token, "expires_at": signed_in.access_expires_at },
                "user": identity.server_user_view(profile.as_ref()),
                "created": created,
            }
        }),
    ))
}

/// The SDK's upsert of an existing user: only what it sent changes, and nothing is written when nothing
/// changes (so concurrent identical upserts do not fight over the version).
async fn update_user(
    identities: &Identities,
    org: &str,
    identity: Identity,
    text: &impl Fn(&str) -> Option<String>,
    full_name: &str,
    properties: &Map<String, Value>,
) -> Result<Identity> {
    let updated = identities
        .update_identity(&identity.id, |i| {
            let email = text("email").or_else(|| i.email.clone());
            let phone = text("phone").or_else(|| i.phone.clone());
            let changed = i.email != email || i.phone != phone;
            i.email = email;
            i.phone = phone;
            Ok(changed)
        })
        .await?
        .unwrap_or(identity);
    match &updated.profile_id {
        Some(profile_id) => {
            identities
                .update_profile(profile_id, |p| {
                    let before = (p.name.clone(), p.properties.clone());
                    p.name = full_name.to_owned();
                    p.properties.extend(properties.clone());
                    Ok(before != (p.name.clone(), p.properties.clone()))
                })
                .await?;
        }
        None => {
            identities
                .create_profile(org, &updated.id, full_name.to_owned())
                .await?;
        }
    }
    Ok(identities.identity(&updated.id).await?.unwrap_or(updated))
}

async fn delete_user(state: &State, request: &Request, uid: &str) -> Result<Response<Body>> {
    let identities = &state.identities;
    let (org, _) = organization(identities, request, uid).await?;
    let identity = identities
        .identity_by_external_id(&org, uid)
        .await?
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let (_, profile) = identities
        .delete_identity(&identity.id)
        .await?
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let avatar = profile.and_then(|p| p.avatar);
    state.avatars.delete_stored(avatar.as_ref()).await?;
    Ok(http::json(
        200,
        &json!({
            "status": "success",
            "message": "User deleted successfully",
            "data": { "deleted_contact_id": identity.id }
        }),
    ))
}

async fn validate_key(state: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &state.identities;
    let invalid = || Error::Unauthorized("Invalid API key".into());
    let body = request::json_body(request).map_err(|_| invalid())?;
    let api_key = body
        .as_ref()
        .and_then(|b| b.get("api_key"))
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    identities
        .organization_key(api_key)
        .await?
        .ok_or_else(invalid)?;
    Ok(http::json(
        200,
        &json!({ "status": "success", "data": { "valid": true } }),
    ))
}
