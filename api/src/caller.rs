//! Who is calling: the credentials a request carries, handed to the domain's checks as plain values.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use switchboard::Error;
use switchboard::crm::{AUTHORIZE_MESSAGE, Crm, CrmUser, REFRESH_HEADER};
use switchboard::identity::providers::Hints;
use switchboard::identity::{Identities, Principal};
use switchboard::store::{Item, Key};

use crate::http;
use crate::request::{self, FINGERPRINT_HEADER};

/// The signed-in caller of a user-service route: its bearer token and fingerprint header.
pub async fn principal(identities: &Identities, request: &Request) -> Result<Principal, Error> {
    let fingerprint = request::header(request, FINGERPRINT_HEADER);
    identities
        .authenticate(
            request::bearer(request),
            fingerprint,
            Hints {
                tenant: request::header(request, "x-tenant-id"),
                user: request::header(request, "x-user-id"),
            },
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
fn crm_token(request: &Request) -> Result<String, Error> {
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

/// A CRM route's JSON answer for `user`, with the refreshed `jwtToken` header when one was issued.
pub fn crm_answer(user: &CrmUser, value: &Value) -> Response<Body> {
    let mut response = http::json(200, value);
    if let Some(token) = user.refreshed.as_ref().and_then(|t| t.parse().ok()) {
        response.headers_mut().insert(REFRESH_HEADER, token);
    }
    response
}
