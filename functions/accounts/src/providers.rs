//! `/identity-providers` (admin): the OpenID Connect issuers an organization trusts, whose tokens are its
//! users (docs/external-tokens.md).

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::providers::IdentityProvider;
use switchboard::validate::{Kind, Schema};
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::State;

const PROVIDER_NOT_FOUND: &str = "Identity provider not found";
const MAX_AUDIENCES: usize = 20;
const MAX_TEXT: usize = 200;

const FIELDS: &[(&str, Kind, bool)] = &[
    ("issuer", Kind::String, false),
    ("audiences", Kind::Any, false),
    ("jwksUri", Kind::Any, false),
    ("userIdClaim", Kind::String, false),
    ("nameClaim", Kind::Any, false),
    ("emailClaim", Kind::Any, false),
];

/// Applies `body` to `provider`, listing every problem.
fn apply(provider: &mut IdentityProvider, body: &Map<String, Value>) -> Result<()> {
    let mut problems = Vec::new();
    let url = |name: &str, value: &str, problems: &mut Vec<String>| {
        // ASCII as RFC 3986 writes it: an international host comes in its punycode form.
        let ok = value.is_ascii()
            && url::Url::parse(value)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok || value.len() > MAX_TEXT {
            problems.push(format!(
                "request body/{name} must be an absolute http(s) URL"
            ));
        }
    };
    if let Some(issuer) = body.get("issuer").and_then(Value::as_str) {
        url("issuer", issuer, &mut problems);
        provider.issuer = issuer.trim_end_matches('/').to_owned();
    }
    if let Some(audiences) = body.get("audiences") {
        match audiences.as_array().map(|a| {
            a.iter()
                .map(|v| v.as_str().filter(|s| !s.is_empty() && s.len() <= MAX_TEXT))
                .collect::<Option<Vec<&str>>>()
        }) {
            Some(Some(list)) if !list.is_empty() && list.len() <= MAX_AUDIENCES => {
                provider.audiences = list.into_iter().map(str::to_owned).collect();
            }
            _ => problems.push(format!(
                "request body/audiences must be 1 to {MAX_AUDIENCES} non-empty strings"
            )),
        }
    }
    match body.get("jwksUri") {
        None => {}
        Some(Value::Null) => provider.jwks_uri = None,
        Some(Value::String(uri)) => {
            url("jwksUri", uri, &mut problems);
            provider.jwks_uri = Some(uri.clone());
        }
        Some(_) => problems.push("request body/jwksUri must be a URL or null".into()),
    }
    if let Some(claim) = body.get("userIdClaim").and_then(Value::as_str) {
        if claim.is_empty() || claim.len() > MAX_TEXT {
            problems.push("request body/userIdClaim must be a claim name".into());
        }
        provider.user_id_claim = claim.to_owned();
    }
    for (name, slot) in [
        ("nameClaim", &mut provider.name_claim),
        ("emailClaim", &mut provider.email_claim),
    ] {
        match body.get(name) {
            None => {}
            Some(Value::Null) => *slot = None,
            Some(Value::String(claim)) if !claim.is_empty() && claim.len() <= MAX_TEXT => {
                *slot = Some(claim.clone());
            }
            Some(_) => problems.push(format!("request body/{name} must be a claim name or null")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(problems))
    }
}

pub(crate) async fn add_provider(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let schema = Schema {
        fields: FIELDS,
        open: false,
    };
    let body = schema.check(request::json_body(request)?)?;
    let mut missing = Vec::new();
    for required in ["issuer", "audiences"] {
        if !body.contains_key(required) {
            missing.push(format!(
                "request body must have required property '{required}'"
            ));
        }
    }
    if !missing.is_empty() {
        return Err(Error::validation(missing));
    }
    let mut provider = IdentityProvider {
        id: String::new(),
        organization_id: caller.identity.organization_id.clone(),
        issuer: String::new(),
        audiences: Vec::new(),
        jwks_uri: None,
        user_id_claim: "sub".into(),
        name_claim: None,
        email_claim: None,
        created_at: String::new(),
        updated_at: String::new(),
        version: 0,
    };
    apply(&mut provider, &body)?;
    let added = identities.add_provider(provider).await?;
    Ok(http::json(201, &added.view()))
}

pub(crate) async fn find_providers(accounts: &State, request: &Request) -> Result<Response<Body>> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    let providers = identities
        .providers(&caller.identity.organization_id)
        .await?;
    let views: Vec<Value> = providers.iter().map(IdentityProvider::view).collect();
    Ok(http::json(200, &views))
}

async fn found(accounts: &State, request: &Request, id: &str) -> Result<IdentityProvider> {
    let identities = &accounts.identities;
    let caller = caller::admin(identities, request).await?;
    identities
        .provider(&caller.identity.organization_id, id)
        .await?
        .ok_or_else(|| Error::NotFound(PROVIDER_NOT_FOUND.into()))
}

pub(crate) async fn find_provider(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    Ok(http::json(200, &found(accounts, request, id).await?.view()))
}

pub(crate) async fn update_provider(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let before = found(accounts, request, id).await?;
    let schema = Schema {
        fields: FIELDS,
        open: false,
    };
    let body = match request::json_body(request)? {
        Some(Value::Object(map)) if map.is_empty() => None,
        body => body,
    }
    .ok_or_else(|| Error::bad_request("Request body is required"))?;
    let body = schema.check(Some(body))?;
    let mut after = before.clone();
    apply(&mut after, &body)?;
    let updated = accounts.identities.update_provider(&before, after).await?;
    Ok(http::json(200, &updated.view()))
}

pub(crate) async fn remove_provider(
    accounts: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let provider = found(accounts, request, id).await?;
    if !accounts.identities.remove_provider(&provider).await? {
        return Err(Error::NotFound(PROVIDER_NOT_FOUND.into()));
    }
    Ok(http::empty(204))
}
