//! `POST /apiKeyLogin` and `POST /unAuthorize`: both manage the one CRM connection of an identity (create or
//! join it, end it), share the same reads, writes and IAM, and are called once per login, so they are one
//! Lambda rather than two cold starts. `GET|POST /user/settings` live here too: the extension calls them
//! around login and log-out, and they are per-user state of the same kind (kept with the identity).

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::config::Config;
use switchboard::crm::Crm;
use switchboard::crm::return_message;
use switchboard::crm::settings::{settings_key, user_settings};
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::store::Store;
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The CRM connection and the identities its API keys belong to.
pub struct State {
    pub crm: Crm,
    pub identities: Identities,
}

pub fn state(config: &Config, store: Arc<dyn Store>) -> State {
    State {
        crm: Crm::new(store.clone(), config),
        identities: Identities::new(store, config),
    }
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Crm,
    routes: &[
        route!("POST /apiKeyLogin", api_key_login),
        route!("POST /unAuthorize", unauthorize),
        route!("GET /user/settings", settings),
        route!("POST /user/settings", save_settings),
    ],
};

async fn api_key_login(auth: &State, request: &Request) -> Result<Response<Body>> {
    let body = request::json_body(request)
        .map_err(|_| Error::bad_request("Invalid JSON body"))?
        .unwrap_or(Value::Null);
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let platform = text("platform").ok_or_else(|| Error::bad_request("Missing platform name"))?;
    let api_key = text("apiKey").ok_or_else(|| Error::bad_request("Missing API key"))?;
    let answer = auth
        .crm
        .api_key_login(&auth.identities, platform, api_key)
        .await?;
    Ok(http::json(200, &answer))
}

async fn unauthorize(auth: &State, request: &Request) -> Result<Response<Body>> {
    let user = caller::crm_user(&auth.crm, request).await?;
    auth.crm.unauthorize(&user).await?;
    Ok(http::json(
        200,
        &json!({
            "successful": true,
            "returnMessage": return_message("Logged out of Switchboard.", "success", 1000),
        }),
    ))
}

/// `GET /user/settings`: the settings object itself. `{}` when none were saved, and also when the token is
/// no longer good: the extension reads them before `/unAuthorize`, and log-out must not fail on it.
async fn settings(auth: &State, request: &Request) -> Result<Response<Body>> {
    let (user, read) =
        match caller::crm_user_with(&auth.crm, request, |id| vec![settings_key(id)]).await {
            Ok(found) => found,
            Err(Error::BadRequest { .. }) => return Ok(http::json(200, &json!({}))),
            Err(e) => return Err(e),
        };
    let settings = user_settings(&read, &user.identity.id)?;
    Ok(caller::crm_answer(
        &user.refreshed,
        &Value::Object(settings),
    ))
}

/// `POST /user/settings` with `{userSettings: {name: {value, …}}}`: each named setting is replaced, the others
/// kept; answers `{userSettings}` with all of them.
async fn save_settings(auth: &State, request: &Request) -> Result<Response<Body>> {
    let (user, read) =
        caller::crm_user_with(&auth.crm, request, |id| vec![settings_key(id)]).await?;
    let body = request::json_body(request)
        .map_err(|_| Error::bad_request("Invalid JSON body"))?
        .unwrap_or(Value::Null);
    let changes = body
        .get("userSettings")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Missing userSettings"))?;
    if let Some((name, _)) = changes.iter().find(|(_, setting)| !setting.is_object()) {
        return Err(Error::bad_request(format!(
            "userSettings.{name} must be an object"
        )));
    }
    let settings = auth
        .crm
        .update_user_settings(&user.identity.id, changes, &read)
        .await?;
    Ok(caller::crm_answer(
        &user.refreshed,
        &json!({ "userSettings": settings }),
    ))
}
