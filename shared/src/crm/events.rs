//! The events the built-in CRM's changes emit (docs/events.md), each written in its change's transaction.

use serde_json::json;

use super::records::{CallLog, Contact, LoggedMessage};
use crate::webhooks::{Event, EventName};

/// `contact.created`: a contact made by `owner` (the identity the CRM user is).
pub fn contact_created(org: &str, owner: &str, contact: &Contact) -> Event {
    Event::new(
        EventName::ContactCreated,
        org,
        json!({"crmUserId": owner, "contact": contact}),
    )
}

/// `call.logged`: the first log of a call session.
pub fn call_logged(org: &str, owner: &str, log: &CallLog) -> Event {
    Event::new(
        EventName::CallLogged,
        org,
        json!({"crmUserId": owner, "call": log}),
    )
}

/// `call.updated`, with the names of the fields that `changed`.
pub fn call_updated(org: &str, owner: &str, log: &CallLog, changed: &[String]) -> Event {
    Event::new(
        EventName::CallUpdated,
        org,
        json!({"crmUserId": owner, "call": log, "changed": changed}),
    )
}

/// `message.logged`: one message added to a conversation log.
pub fn message_logged(org: &str, owner: &str, logged: &LoggedMessage) -> Event {
    Event::new(
        EventName::MessageLogged,
        org,
        json!({
            "crmUserId": owner,
            "messageId": logged.message_id,
            "conversationLogId": logged.conversation_log_id,
            "loggedAt": logged.logged_at,
            "message": logged.message,
        }),
    )
}
