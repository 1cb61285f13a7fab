//! Push notifications over HTTP: the signed-in user's devices (antz's `devicesApi`) and preferences,
//! sending a notification (admin, or the organization's server SDK token), and reading its deliveries.
//! Delivery itself is `push-dispatch`'s, from the table's stream.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::config::Config;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::push::Push;
use switchboard::push::devices::EndpointRule;
use switchboard::push::registry::Registered;
use switchboard::push::{devices, notifications};
use switchboard::store::Store;
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// Authentication, and the push service.
pub struct State {
    pub identities: Identities,
    pub push: Push,
}

/// The push service is built by the caller: in Lambda with its SNS client (`lambda::push`), locally with
/// the in-process dispatch.
pub fn state(config: &Config, store: Arc<dyn Store>, push: Push) -> State {
    State {
        identities: Identities::new(store, config),
        push,
    }
}

const DEVICE_NOT_FOUND: &str = "Device not found";
const NOTIFICATION_NOT_FOUND: &str = "Notification not found";

pub static ROUTES: Routes<State> = Routes {
    family: Family::Users,
    routes: &[
        route!("POST /users/me/devices", register),
        route!("GET /users/me/devices", list_devices),
        route!(
            "DELETE /users/me/devices/{deviceId}",
            remove_device(deviceId)
        ),
        route!("GET /users/me/preferences", preferences),
        route!("PATCH /users/me/preferences", update_preferences),
        route!(
            "POST /users/{profileId}/notifications",
            send_as_admin(profileId)
        ),
        route!(
            "POST /api/v1/server/users/{uid}/notifications",
            send_as_server(uid)
        )
        .family(Family::Server),
        route!("GET /notifications/{id}", notification(id)),
        route!("GET /push/web-push-key", web_push_key),
    ],
};

async fn register(api: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    let web_push = api.push.web_push.as_ref();
    let registration = devices::registration_for(
        request::json_body(request)?,
        &web_push.map_or_else(EndpointRule::default, |w| w.endpoints.clone()),
    )?;
    if registration.provider() == devices::Provider::WebPush && web_push.is_none() {
        return Err(Error::validation(vec![
            "request body/provider 'web-push' is not enabled on this server".into(),
        ]));
    }
    let (device, registered) = api
        .push
        .register(
            &caller.identity.id,
            &caller.identity.organization_id,
            &registration,
        )
        .await?;
    let status = if registered == Registered::Created {
        201
    } else {
        200
    };
    Ok(http::json(status, &device.view()))
}

async fn list_devices(api: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    let devices = api.push.devices(&caller.identity.id).await?;
    let views: Vec<Value> = devices.iter().map(|d| d.view()).collect();
    Ok(http::json(200, &views))
}

async fn remove_device(api: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    // Another user's device id is simply not one of the caller's: 404, so ids cannot be probed.
    api.push
        .deactivate(&caller.identity.id, id)
        .await?
        .ok_or_else(|| Error::NotFound(DEVICE_NOT_FOUND.into()))?;
    Ok(http::empty(204))
}

async fn preferences(api: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    let preferences = api.push.preferences(&caller.identity.id).await?;
    Ok(http::json(200, &preferences))
}

async fn update_preferences(api: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    let body = request::json_body(request)?;
    let preferences = api
        .push
        .update_preferences(&caller.identity.id, body)
        .await?;
    Ok(http::json(200, &preferences))
}

/// An admin sends to a user of their organization, named by profile id.
async fn send_as_admin(api: &State, request: &Request, profile: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
    api.identities.require_admin(&caller)?;
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
async fn send_as_server(api: &State, request: &Request, uid: &str) -> Result<Response<Body>> {
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
async fn notification(api: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&api.identities, request).await?;
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
async fn web_push_key(api: &State, _: &Request) -> Result<Response<Body>> {
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
