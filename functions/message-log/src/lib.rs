//! `POST /messageLog`: messages are logged oldest first into their conversation-day (`conversationLogId`),
//! each at most once even under concurrency, in one write that carries the token check (one round trip).
//! Every message is logged against a contact: without `contactId` nothing is written.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use switchboard::Result;
use switchboard::config::Config;
use switchboard::crm::Crm;
use switchboard::crm::{Conversation, return_message};
use switchboard::error::Error;
use switchboard::store::Store;
use switchboard::validate::text;
use switchboard_api::http::Family;
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The CRM service: its connections, tokens and connector.
pub type State = Crm;

pub fn state(config: &Config, store: Arc<dyn Store>) -> State {
    Crm::new(store, config)
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Crm,
    routes: &[route!("POST /messageLog", log)],
};

/// Messages arrive newest first; `creationTime` (ISO 8601 or epoch milliseconds) orders them.
fn oldest_first(messages: &mut [Value]) {
    let at = |m: &Value| match &m["creationTime"] {
        Value::String(s) => (0, s.clone(), 0.0),
        Value::Number(n) => (1, String::new(), n.as_f64().unwrap_or_default()),
        _ => (2, String::new(), 0.0),
    };
    messages.sort_by(|a, b| {
        at(a)
            .partial_cmp(&at(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// What `POST /messageLog` asks for: messages (oldest first) for a conversation-day, or an answer without
/// a write (nothing to log, or no contact to log against).
enum NewMessages {
    Log(Conversation, Vec<Value>),
    Nothing(&'static str),
    NoContact(String),
}

fn new_messages(request: &Request) -> Result<NewMessages> {
    let body = match request::json_body(request) {
        Ok(Some(value @ Value::Object(_))) => value,
        _ => return Err(Error::bad_request("Invalid JSON body")),
    };
    let info = body.get("logInfo").cloned().unwrap_or(Value::Null);
    let mut messages: Vec<Value> = info["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return Ok(NewMessages::Nothing("No message to log."));
    }
    if messages.iter().any(|m| text(m, "id").is_none()) {
        return Err(Error::bad_request("Every message needs an id"));
    }
    // As `POST /callLog`: messages logged against no contact could never be logged to the right one later.
    let Some(contact_id) = text(&body, "contactId") else {
        let number = info["correspondents"]
            .get(0)
            .and_then(|c| text(c, "phoneNumber"))
            .unwrap_or_default();
        return Ok(NewMessages::NoContact(format!(
            "Contact not found for number {number}"
        )));
    };
    let conversation = Conversation {
        conversation_id: text(&info, "conversationId"),
        conversation_log_id: text(&info, "conversationLogId")
            .or_else(|| text(&info, "conversationId"))
            .ok_or_else(|| Error::bad_request("Missing logInfo.conversationLogId"))?,
        contact_id: Some(contact_id),
        contact_name: text(&body, "contactName"),
        contact_type: text(&body, "contactType"),
    };
    oldest_first(&mut messages);
    Ok(NewMessages::Log(conversation, messages))
}

async fn log(crm: &State, request: &Request) -> Result<Response<Body>> {
    let (conversation, messages) = match caller::crm_input(crm, request, new_messages(request))
        .await?
    {
        NewMessages::Log(conversation, messages) => (conversation, messages),
        NewMessages::Nothing(message) => return caller::crm_warning(crm, request, message).await,
        NewMessages::NoContact(message) => {
            return caller::crm_warning(crm, request, &message).await;
        }
    };
    // The token check travels inside the write: one round trip.
    let (refreshed, logged) = caller::crm_write(
        crm,
        request,
        |_| Vec::new(),
        |owner| async move {
            crm.connector
                .log_messages(&owner, &conversation, &messages)
                .await
        },
    )
    .await?;
    let answer = if logged.is_empty() {
        json!({ "successful": true, "logIds": [], "returnMessage": null })
    } else {
        json!({ "successful": true, "logIds": logged, "returnMessage": return_message("Message logged", "success", 1000) })
    };
    Ok(caller::crm_answer(&refreshed, &answer))
}
