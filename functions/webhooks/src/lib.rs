//! `/webhooks`: an organization's admins register the URLs its events are delivered to (docs/events.md):
//! create (the secret shown once), list, read, change, remove, rotate the secret, ping, and the delivery
//! log (filtered, each delivery with its attempts) with a retry.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::config::Config;
use switchboard::error::Error;
use switchboard::identity::Identities;
use switchboard::store::Store;
use switchboard::validate::{Kind, Schema};
use switchboard::webhooks::events::catalogue;
use switchboard::webhooks::subscriptions::{
    Change, Filter, PING, STATUSES, Subscription, Webhooks,
};
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

pub struct State {
    pub identities: Identities,
    pub webhooks: Arc<Webhooks>,
}

pub fn state(config: &Config, store: Arc<dyn Store>) -> State {
    State {
        identities: Identities::new(store.clone(), config),
        webhooks: Arc::new(Webhooks::new(store, config)),
    }
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Users,
    routes: &[
        route!("POST /webhooks", create).failure(FAILURE),
        route!("GET /webhooks", list).failure(FAILURE),
        route!("GET /webhooks/{webhookId}", get(webhookId)).failure(FAILURE),
        route!("PATCH /webhooks/{webhookId}", update(webhookId)).failure(FAILURE),
        route!("DELETE /webhooks/{webhookId}", delete(webhookId)).failure(FAILURE),
        route!("POST /webhooks/{webhookId}/secret", rotate(webhookId)).failure(FAILURE),
        route!("POST /webhooks/{webhookId}/ping", ping(webhookId)).failure(FAILURE),
        route!(
            "GET /webhooks/{webhookId}/deliveries",
            deliveries(webhookId)
        )
        .failure(FAILURE),
        route!(
            "GET /webhooks/{webhookId}/deliveries/{deliveryId}",
            delivery(webhookId, deliveryId)
        )
        .failure(FAILURE),
        route!(
            "POST /webhooks/{webhookId}/deliveries/{deliveryId}/retry",
            retry(webhookId, deliveryId)
        )
        .failure(FAILURE),
    ],
};

const FAILURE: &str = "Failed to handle the webhook request";

async fn create(state: &State, request: &Request) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let created = state.webhooks.create(&org, change(request, true)?).await?;
    Ok(http::json(201, &with_secret(&created)))
}

async fn list(state: &State, request: &Request) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let list = state.webhooks.list(&org).await?;
    Ok(http::json(
        200,
        &list.iter().map(Subscription::view).collect::<Vec<_>>(),
    ))
}

async fn get(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    Ok(http::json(200, &state.webhooks.get(&org, id).await?.view()))
}

async fn update(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let changed = state
        .webhooks
        .update(&org, id, change(request, false)?)
        .await?;
    Ok(http::json(200, &changed.view()))
}

async fn delete(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    state.webhooks.delete(&org, id).await?;
    Ok(http::empty(204))
}

async fn rotate(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let rotated = state.webhooks.rotate(&org, id).await?;
    let view = rotated.view();
    Ok(http::json(
        200,
        &json!({
            "id": rotated.id,
            "secret": rotated.secret,
            "previousSecretExpiresAt": view["previousSecretExpiresAt"],
        }),
    ))
}

async fn ping(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    Ok(http::json(
        200,
        &state.webhooks.ping(&org, id).await?.view(),
    ))
}

async fn delivery(
    state: &State,
    request: &Request,
    id: &str,
    delivery: &str,
) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let log = state.webhooks.delivery(&org, id, delivery).await?;
    Ok(http::json(200, &log.detail()))
}

async fn retry(
    state: &State,
    request: &Request,
    id: &str,
    delivery: &str,
) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let retried = state.webhooks.retry(&org, id, delivery).await?;
    Ok(http::json(200, &retried.view()))
}

/// Webhooks are the organization's admins' business.
async fn organization(state: &State, request: &Request) -> Result<String> {
    let caller = caller::admin(&state.identities, request).await?;
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
            return Err(Error::validation(vec![
                "request body/description must be string,null".into(),
            ]));
        }
    };
    Ok(Change {
        url: body.get("url").and_then(Value::as_str).map(str::to_owned),
        events: body.get("events").cloned(),
        description,
        enabled: body.get("enabled").and_then(Value::as_bool),
    })
}

/// `GET /webhooks/{id}/deliveries`: newest first, `limit` 1..100 (default 20), narrowed to a `status` and
/// an `event` if given, the next page's cursor in the `x-next-cursor` header.
async fn deliveries(state: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let org = organization(state, request).await?;
    let mut problems = Vec::new();
    let limit = request::bounded(request, "limit", 20, 1, 100, &mut problems);
    let filter = Filter {
        status: request::query_param(request, "status"),
        event: request::query_param(request, "event"),
    };
    if filter
        .status
        .as_deref()
        .is_some_and(|s| !STATUSES.contains(&s))
    {
        problems.push(format!(
            "request query/status must be one of {}",
            STATUSES.join(", ")
        ));
    }
    if filter
        .event
        .as_deref()
        .is_some_and(|e| e != PING && !catalogue().any(|name| name == e))
    {
        problems.push(
            "request query/event must be an event name from the catalogue or \"ping\"".into(),
        );
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let cursor = request::cursor(request)?;
    let (logs, next) = state
        .webhooks
        .deliveries(&org, id, limit as u32, cursor, &filter)
        .await?;
    let views: Vec<_> = logs.iter().map(|log| log.view()).collect();
    Ok(http::page(&views, next))
}
