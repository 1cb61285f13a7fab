//! Push notifications over HTTP: the signed-in user's devices (antz's `devicesApi`) and preferences,
//! sending a notification (admin, or the organization's server SDK token), and reading its deliveries.
//! Delivery itself is `push-dispatch`'s, from the table's stream.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::identity::{ADMIN_REQUIRED, Identities, Principal};
use switchboard::push::Push;
use switchboard::push::registry::Registered;
use switchboard::push::{devices, notifications};
use switchboard::request;

/// Authentication, and the push service.
pub struct PushApi {
    pub identities: Identities,
    pub push: Push,
}

const DEVICE_NOT_FOUND: &str = "Device not found";
const NOTIFICATION_NOT_FOUND: &str = "Notification not found";

pub async fn handle(api: Arc<PushApi>, request: Request) -> Response<Body> {
    let owned = request::segments(&request);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let (result, family) = match (&method, segments.as_slice()) {
        (&Method::POST, ["users", "me", "devices"]) => {
            (register(&api, &request).await, Family::Users)
        }
        (&Method::GET, ["users", "me", "devices"]) => {
            (list_devices(&api, &request).await, Family::Users)
        }
        (&Method::DELETE, ["users", "me", "devices", id]) => {
            (remove_device(&api, &request, id).await, Family::Users)
        }
        (&Method::GET, ["users", "me", "preferences"]) => {
            (preferences(&api, &request).await, Family::Users)
        }
        (&Method::PATCH, ["users", "me", "preferences"]) => {
            (update_preferences(&api, &request).await, Family::Users)
        }
        (&Method::POST, ["users", profile, "notifications"]) => {
            (send_as_admin(&api, &request, profile).await, Family::Users)
        }
        (&Method::POST, ["api", "v1", "server", "users", uid, "notifications"]) => {
            (send_as_server(&api, &request, uid).await, Family::Server)
        }
        (&Method::GET, ["notifications", id]) => {
            (notification(&api, &request, id).await, Family::Users)
        }
        (&Method::GET, ["push", "web-push-key"]) => (web_push_key(&api), Family::Users),
        _ => (Err(Error::NotFound("Not Found".into())), Family::Users),
    };
    result.unwrap_or_else(|e| http::error(family, e))
}

async fn caller(api: &PushApi, request: &Request) -> Result<Principal> {
    api.identities.principal(request).await
}

async fn register(api: &PushApi, request: &Request) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    let web_push = api.push.web_push.as_ref();
    let registration = devices::registration_for(
        request::json_body(request)?,
        web_push.is_some_and(|w| w.allow_http),
    )?;
    if registration.provider() == devices::Provider::WebPush && web_push.is_none() {
        return Err(Error::invalid(
            "Validation Error",
            vec!["request body/provider 'web-push' is not enabled on this server".into()],
        ));
    }
    let (device, registered) = api
        .push
        .register(&caller.identity.id, &registration)
        .await?;
    let status = if registered == Registered::Created {
        201
    } else {
        200
    };
    Ok(http::json(status, &device.view()))
}

async fn list_devices(api: &PushApi, request: &Request) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    let devices = api.push.devices(&caller.identity.id).await?;
    let views: Vec<Value> = devices.iter().map(|d| d.view()).collect();
    Ok(http::json(200, &views))
}

async fn remove_device(api: &PushApi, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    // Another user's device id is simply not one of the caller's: 404, so ids cannot be probed.
    api.push
        .deactivate(&caller.identity.id, id)
        .await?
        .ok_or_else(|| Error::NotFound(DEVICE_NOT_FOUND.into()))?;
    Ok(http::empty(204))
}

async fn preferences(api: &PushApi, request: &Request) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    let preferences = api.push.preferences(&caller.identity.id).await?;
    Ok(http::json(200, &preferences))
}

async fn update_preferences(api: &PushApi, request: &Request) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    let body = request::json_body(request)?;
    let preferences = api
        .push
        .update_preferences(&caller.identity.id, body)
        .await?;
    Ok(http::json(200, &preferences))
}

/// An admin sends to a user of their organization, named by profile id.
async fn send_as_admin(api: &PushApi, request: &Request, profile: &str) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    if !api.identities.is_admin(&caller) {
        return Err(Error::Forbidden(ADMIN_REQUIRED.into()));
    }
    let notification = notifications::notification_body(request::json_body(request)?)?;
    let org = &caller.identity.organization_id;
    let profile = api
        .identities
        .profile(profile)
        .await?
        .filter(|p| p.organization_id == *org)
        .ok_or_else(|| Error::NotFound("User profile not found".into()))?;
    let id = api
        .push
        .record(&profile.identity_id, org, notification)
        .await?;
    Ok(http::json(202, &json!({ "id": id })))
}

/// The organization's server SDK sends to one of its users, named by external id (as the other server
/// routes): the token the SDK signs for that user.
async fn send_as_server(api: &PushApi, request: &Request, uid: &str) -> Result<Response<Body>> {
    let token = request::bearer(request)
        .ok_or_else(|| Error::Unauthorized("Missing bearer token".into()))?;
    let (org, claims) = api.identities.verify_server_token(token).await?;
    if claims.user_id != uid {
        return Err(Error::Forbidden(
            "Token user_id does not match the user in the path".into(),
        ));
    }
    let notification =
        notifications::notification_body(request::json_body(request)?).map_err(|e| match e {
            Error::BadRequest { details, .. } => Error::bad_request(details.join("; ")),
            other => other,
        })?;
    let identity = api
        .identities
        .identity_by_external_id(&org.organization_id, uid)
        .await?
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let id = api
        .push
        .record(&identity.id, &org.organization_id, notification)
        .await?;
    Ok(http::json(
        202,
        &json!({ "status": "success", "data": { "id": id } }),
    ))
}

/// The recipient, or an admin of its organization; anyone else learns nothing (404).
async fn notification(api: &PushApi, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller(api, request).await?;
    let (record, deliveries) = api
        .push
        .notification(id)
        .await?
        .filter(|(n, _)| {
            n.identity_id == caller.identity.id
                || (api.identities.is_admin(&caller)
                    && n.organization_id == caller.identity.organization_id)
        })
        .ok_or_else(|| Error::NotFound(NOTIFICATION_NOT_FOUND.into()))?;
    Ok(http::json(200, &notifications::view(&record, &deliveries)))
}

/// The VAPID public key browsers subscribe with (`applicationServerKey`); public, so no token is needed.
fn web_push_key(api: &PushApi) -> Result<Response<Body>> {
    let web_push = api
        .push
        .web_push
        .as_ref()
        .ok_or_else(|| Error::NotFound("Web Push is not enabled on this server".into()))?;
    Ok(http::json(
        200,
        &json!({ "publicKey": web_push.public_key() }),
    ))
}
