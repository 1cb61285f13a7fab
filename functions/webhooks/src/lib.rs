//! `/webhooks`: an organization's admins register the URLs its events are delivered to (docs/events.md):
//! create (the secret shown once), list, read, change, remove, rotate the secret, ping, and the delivery
//! log with a retry.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::identity::{ADMIN_REQUIRED, Identities};
use switchboard::request::{self, Kind, Schema};
use switchboard::webhooks::subscriptions::{Change, Subscription, Webhooks};

pub struct State {
    pub identities: Identities,
    pub webhooks: Arc<Webhooks>,
}

pub async fn handle(state: Arc<State>, request: Request) -> Response<Body> {
    let owned = request::segments(&request);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let result = match organization(&state, &request).await {
        Ok(org) => route(&state, &request, &org, &method, &segments).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| {
        http::error_as(Family::Users, e, "Failed to handle the webhook request")
    })
}

async fn route(
    state: &State,
    request: &Request,
    org: &str,
    method: &Method,
    segments: &[&str],
) -> Result<Response<Body>> {
    let hooks = &state.webhooks;
    match (method, segments) {
        (&Method::POST, ["webhooks"]) => {
            let created = hooks.create(org, change(request, true)?).await?;
            Ok(http::json(201, &with_secret(&created)))
        }
        (&Method::GET, ["webhooks"]) => {
            let list = hooks.list(org).await?;
            Ok(http::json(
                200,
                &list.iter().map(Subscription::view).collect::<Vec<_>>(),
            ))
        }
        (&Method::GET, ["webhooks", id]) => Ok(http::json(200, &hooks.get(org, id).await?.view())),
        (&Method::PATCH, ["webhooks", id]) => {
            let changed = hooks.update(org, id, change(request, false)?).await?;
            Ok(http::json(200, &changed.view()))
        }
        (&Method::DELETE, ["webhooks", id]) => {
            hooks.delete(org, id).await?;
            Ok(http::empty(204))
        }
        (&Method::POST, ["webhooks", id, "secret"]) => {
            let rotated = hooks.rotate(org, id).await?;
            Ok(http::json(
                200,
                &json!({"id": rotated.id, "secret": rotated.secret}),
            ))
        }
        (&Method::POST, ["webhooks", id, "ping"]) => {
            Ok(http::json(200, &hooks.ping(org, id).await?.view()))
        }
        (&Method::GET, ["webhooks", id, "deliveries"]) => deliveries(hooks, request, org, id).await,
        (&Method::POST, ["webhooks", id, "deliveries", delivery, "retry"]) => Ok(http::json(
            200,
            &hooks.retry(org, id, delivery).await?.view(),
        )),
        _ => Err(Error::NotFound("Not Found".into())),
    }
}

/// Webhooks are the organization's admins' business.
async fn organization(state: &State, request: &Request) -> Result<String> {
    let caller = state.identities.principal(request).await?;
    if !state.identities.is_admin(&caller) {
        return Err(Error::Forbidden(ADMIN_REQUIRED.into()));
    }
    Ok(caller.identity.organization_id)
}

fn with_secret(subscription: &Subscription) -> Value {
    let mut view = subscription.view();
    view["secret"] = json!(subscription.secret);
    view
}

/// The body of a create (`url` and `events` required) or a change (at least one field).
fn change(request: &Request, create: bool) -> Result<Change> {
    let schema = Schema {
        fields: &[
            ("url", Kind::String, create),
            ("events", Kind::Any, create),
            ("description", Kind::Any, false),
            ("enabled", Kind::Boolean, false),
        ],
        open: false,
    };
    let body = schema.check(request::json_body(request)?)?;
    if body.is_empty() {
        return Err(Error::bad_request("Request body is required"));
    }
    let description = match body.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text.clone())),
        Some(_) => {
            return Err(Error::invalid(
                "Validation Error",
                vec!["request body/description must be string,null".into()],
            ));
        }
    };
    Ok(Change {
        url: body.get("url").and_then(Value::as_str).map(str::to_owned),
        events: body.get("events").cloned(),
        description,
        enabled: body.get("enabled").and_then(Value::as_bool),
    })
}

/// `GET /webhooks/{id}/deliveries`: newest first, `limit` 1..100 (default 20), the next page's cursor in
/// the `x-next-cursor` header.
async fn deliveries(
    hooks: &Webhooks,
    request: &Request,
    org: &str,
    id: &str,
) -> Result<Response<Body>> {
    let mut problems = Vec::new();
    let limit = request::bounded(request, "limit", 20, 1, 100, &mut problems);
    if !problems.is_empty() {
        return Err(Error::invalid("Validation Error", problems));
    }
    let cursor = request::query_param(request, "cursor");
    if cursor.as_deref() == Some("") {
        return Err(Error::bad_request("Invalid pagination cursor"));
    }
    let (logs, next) = hooks.deliveries(org, id, limit as u32, cursor).await?;
    let views: Vec<_> = logs.iter().map(|log| log.view()).collect();
    Ok(http::page(&views, next))
}
