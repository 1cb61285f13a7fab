//! Who is calling: the credentials a request carries, handed to the domain's checks as plain values.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use switchboard::Error;
use switchboard::crm::{AUTHORIZE_MESSAGE, Crm, CrmUser, Owner, REFRESH_HEADER, Refreshed};
use switchboard::identity::providers::Hints;
use switchboard::identity::{Identities, Principal};
use switchboard::store::{Item, Key, Write};

use crate::http;
use crate::request::{self, FINGERPRINT_HEADER};

/// The signed-in caller of a user-service route: its bearer token and fingerprint header.
pub async fn principal(identities: &Identities, request: &Request) -> Result<Principal, Error> {
    let (principal, _) = principal_with(identities, request, Vec::new()).await?;
    Ok(principal)
}

/// As [`principal`], also reading the items `extra` names with the token check (see
/// [`Identities::authenticate_with`]).
pub async fn principal_with(
    identities: &Identities,
    request: &Request,
    extra: Vec<Key>,
) -> Result<(Principal, Vec<Item>), Error> {
    let fingerprint = request::header(request, FINGERPRINT_HEADER);
    identities
        .authenticate_with(
            request::bearer(request),
            fingerprint,
            Hints {
                tenant: request::header(request, "x-tenant-id"),
                user: request::header(request, "x-user-id"),
            },
            extra,
        )
        .await
        .map_err(Error::from)
}

/// The caller of an admin-only route: signed in, and an admin of its organization.
pub async fn admin(identities: &Identities, request: &Request) -> Result<Principal, Error> {
    let caller = principal(identities, request).await?;
    identities.require_admin(&caller)?;
    Ok(caller)
}

/// The `jwtToken` of a CRM route: the query parameter App Connect sends, else a bearer token.
pub fn crm_token(request: &Request) -> Result<String, Error> {
    request::query_param(request, "jwtToken")
        .or_else(|| request::bearer(request).map(str::to_owned))
        .ok_or_else(|| Error::bad_request(AUTHORIZE_MESSAGE))
}

/// The caller of a CRM route (see [`Crm::authenticate`]).
pub async fn crm_user(crm: &Crm, request: &Request) -> Result<CrmUser, Error> {
    crm.authenticate(&crm_token(request)?).await
}

/// As [`crm_user`], also reading the caller's items `extra` names in the same round trip.
pub async fn crm_user_with(
    crm: &Crm,
    request: &Request,
    extra: impl FnOnce(&str) -> Vec<Key>,
) -> Result<(CrmUser, Vec<Item>), Error> {
    crm.authenticate_with(&crm_token(request)?, extra).await
}

/// As [`crm_user`], running `read` (given the caller's id) while the token is checked: see
/// [`Crm::authenticate_while`].
pub async fn crm_user_while<T, F>(
    crm: &Crm,
    request: &Request,
    read: impl FnOnce(String) -> F,
) -> Result<(CrmUser, T), Error>
where
    F: Future<Output = Result<T, Error>>,
{
    crm.authenticate_while(&crm_token(request)?, read).await
}

/// A CRM write as the caller, the token check inside it: see [`Crm::write_as`].
pub async fn crm_write<T, F>(
    crm: &Crm,
    request: &Request,
    guards: impl FnOnce(&str) -> Vec<Write>,
    write: impl FnOnce(Owner) -> F,
) -> Result<(Refreshed, T), Error>
where
    F: Future<Output = Result<T, Error>>,
{
    crm.write_as(&crm_token(request)?, guards, write).await
}

/// `input` as read from the request, or its error once the token has been checked: a refused token is
/// answered as refused whatever the input, as App Connect does.
pub async fn crm_input<T>(
    crm: &Crm,
    request: &Request,
    input: Result<T, Error>,
) -> Result<T, Error> {
    if input.is_err() {
        crm_user(crm, request).await?;
    }
    input
}

/// App Connect's `{successful: false}` warning for a request that reads and writes nothing, once its token
/// is checked.
pub async fn crm_warning(
    crm: &Crm,
    request: &Request,
    message: &str,
) -> Result<Response<Body>, Error> {
    let user = crm_user(crm, request).await?;
    Ok(crm_answer(
        &user.refreshed,
        &serde_json::json!({
            "successful": false,
            "returnMessage": switchboard::crm::return_message(message, "warning", 3000),
        }),
    ))
}

/// A CRM route's JSON answer, with the refreshed `jwtToken` header when one was issued.
pub fn crm_answer(refreshed: &Refreshed, value: &Value) -> Response<Body> {
    let mut response = http::json(200, value);
    if let Some(token) = refreshed.as_ref().and_then(|t| t.parse().ok()) {
        response.headers_mut().insert(REFRESH_HEADER, token);
    }
    response
}
