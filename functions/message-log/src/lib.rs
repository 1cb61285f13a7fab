//! `POST /messageLog`: messages are logged oldest first, each at most once even under concurrency; the first
//! new message of a conversation-day (`conversationLogId`) creates its record, later ones append to it.
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

async fn log(crm: &State, request: &Request) -> Result<Response<Body>> {
    let user = caller::crm_user(crm, request).await?;
    let body = match request::json_body(request) {
        Ok(Some(value @ Value::Object(_))) => value,
        _ => return Err(Error::bad_request("Invalid JSON body")),
    };
    let info = body.get("logInfo").cloned().unwrap_or(Value::Null);
    let mut messages: Vec<Value> = info["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return Ok(caller::crm_answer(
            &user,
            &json!({ "successful": false, "returnMessage": return_message("No message to log.", "warning", 3000) }),
        ));
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
        let message = format!("Contact not found for number {number}");
        return Ok(caller::crm_answer(
            &user,
            &json!({ "successful": false, "returnMessage": return_message(&message, "warning", 3000) }),
        ));
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
    let mut logged = Vec::new();
    for message in &messages {
        if crm
            .connector
            .log_message(&user.identity, &conversation, message)
            .await?
        {
            logged.push(text(message, "id").unwrap_or_default());
        }
    }
    let answer = if logged.is_empty() {
        json!({ "successful": true, "logIds": [], "returnMessage": null })
    } else {
        json!({ "successful": true, "logIds": logged, "returnMessage": return_message("Message logged", "success", 1000) })
    };
    Ok(caller::crm_answer(&user, &answer))
}
