//! `/accounts/{id}/profile`.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use switchboard::Result;
use switchboard::error::Error;
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::{ACCOUNT_NOT_FOUND, State, account_for, forbidden, profile_view};

pub(crate) async fn find_profile(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let State {
        identities,
        avatars,
    } = accounts;
    let caller = caller::principal(identities, request).await?;
    let account = account_for(identities, &caller, id, false).await?;
    let profile = match &account.profile_id {
        Some(profile_id) => identities.profile(profile_id).await?,
        None => None,
    };
    let profile = profile.ok_or_else(|| Error::NotFound("Profile not found".into()))?;
    Ok(http::json(200, &profile_view(avatars, &profile).await?))
}

/// `PATCH /accounts/{id}/profile`: merges the given properties (`null` removes one); `name` is the user
/// entity's field (its `avatar` is set with `PATCH /users/{profileId}`). Creates the profile if the account has none.
pub(crate) async fn update_profile(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let State {
        identities,
        avatars,
    } = accounts;
    let caller = caller::principal(identities, request).await?;
    let account = account_for(identities, &caller, id, true).await?;
    if caller.identity.id == id && caller.identity.type_id == identities.types.guest {
        return Err(forbidden());
    }
    let changes = match request::json_body(request)? {
        Some(Value::Object(map)) if !map.is_empty() => map,
        None | Some(Value::Object(_)) => {
            return Err(Error::bad_request("Request body is required"));
        }
        Some(_) => {
            return Err(Error::validation(vec![
                "request body must be object".into(),
            ]));
        }
    };
    let mut problems = Vec::new();
    if changes.get("name").is_some_and(|n| !n.is_string()) {
        problems.push("request body/name must be string".to_owned());
    }
    // Only Switchboard writes an avatar, from an upload it checked (PATCH /users/{profileId}).
    if changes.contains_key("avatar") {
        problems.push("request body/avatar is set with PATCH /users/{profileId}".to_owned());
    }
    if changes.contains_key("id") {
        problems.push("request body/id must NOT be changed".to_owned());
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let profile_id = match &account.profile_id {
        Some(profile_id) => profile_id.clone(),
        None => {
            let name = changes
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match identities
                .create_profile(&account.organization_id, id, name)
                .await
            {
                Ok(Some(profile)) => profile.id,
                Ok(None) => return Err(Error::NotFound(ACCOUNT_NOT_FOUND.into())),
                // Created by a concurrent request: update that one.
                Err(Error::Conflict(_)) => identities
                    .identity(id)
                    .await?
                    .and_then(|i| i.profile_id)
                    .ok_or_else(|| Error::NotFound(ACCOUNT_NOT_FOUND.into()))?,
                Err(e) => return Err(e),
            }
        }
    };
    let updated = identities
        .update_profile(&profile_id, |profile| {
            for (key, value) in &changes {
                match key.as_str() {
                    "name" => profile.name = value.as_str().unwrap_or_default().to_owned(),
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
    Ok(http::json(200, &profile_view(avatars, &updated).await?))
}
