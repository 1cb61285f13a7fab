//! The event catalogue (docs/events.md), subscription name lists, and the delivery body.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// Declares the event catalogue once: each variant with its wire name.
macro_rules! catalogue {
    ($($variant:ident = $name:literal,)*) => {
        /// Every event a subscription may name. docs/events.md gives each one's payload.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EventName {
            $($variant,)*
        }

        impl EventName {
            /// The catalogue, in its documented order.
            pub const ALL: &[EventName] = &[$(EventName::$variant,)*];

            /// The name subscriptions list and deliveries carry (`account.created`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventName::$variant => $name,)*
                }
            }
        }
    };
}

catalogue! {
    AccountCreated = "account.created",
    AccountUpdated = "account.updated",
    AccountDeleted = "account.deleted",
    AccountPasswordChanged = "account.password_changed",
    AccountPasswordResetRequested = "account.password_reset_requested",
    AccountLocked = "account.locked",
    AccountUnlocked = "account.unlocked",
    SessionImpersonated = "session.impersonated",
    ProfileUpdated = "profile.updated",
    UserNew = "user.new",
    UserDeleted = "user.deleted",
    ContactCreated = "contact.created",
    CallLogged = "call.logged",
    CallUpdated = "call.updated",
    MessageLogged = "message.logged",
    AvatarUpdated = "avatar.updated",
    NotificationSent = "notification.sent",
}

impl EventName {
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.as_str() == name)
    }
}

/// The catalogue's names, as subscriptions list them.
pub fn catalogue() -> impl Iterator<Item = &'static str> {
    EventName::ALL.iter().map(|e| e.as_str())
}

/// A subscription to every event.
pub const ALL: &str = "*";

/// Event items expire after 7 days.
pub const EVENT_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// Checks a subscription's `events` list: names from the catalogue or `*`, at least one. Returns it
/// without repeats, in the order given; `*` alone when it is there.
pub fn subscription_events(value: &Value) -> Result<Vec<String>, Error> {
    let invalid = |detail: String| Error::validation(vec![detail]);
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        return Err(invalid(
            "request body/events must be a non-empty array of event names or \"*\"".into(),
        ));
    };
    let mut names: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(name) if name == ALL || EventName::parse(name).is_some() => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            _ => problems.push(format!(
                "request body/events/{i} must be an event name from the catalogue or \"*\""
            )),
        }
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    if names.iter().any(|n| n == ALL) {
        names = vec![ALL.to_owned()];
    }
    Ok(names)
}

/// Whether a subscription listing `subscribed` receives `event`.
pub fn matches(subscribed: &[String], event: &str) -> bool {
    subscribed.iter().any(|name| name == ALL || name == event)
}

/// The JSON body of a delivery. `id` is the event's id, the same on every attempt, so receivers dedupe
/// on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery<'a> {
    pub id: &'a str,
    pub event: &'a str,
    /// RFC 3339, as every API timestamp.
    pub created_at: &'a str,
    pub payload: &'a Value,
}

impl Delivery<'_> {
    /// The exact bytes to send and sign.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names kept, or the problems reported.
    type Expected = Result<Vec<&'static str>, Vec<&'static str>>;
    use serde_json::json;

    #[test]
    fn subscription_lists() {
        let rows: Vec<(Value, Expected)> = vec![
            (json!(["*"]), Ok(vec!["*"])),
            (json!(["user.new", "*"]), Ok(vec!["*"])),
            (
                json!(["user.new", "call.logged", "user.new"]),
                Ok(vec!["user.new", "call.logged"]),
            ),
            (
                json!(["account.password_reset_requested"]),
                Ok(vec!["account.password_reset_requested"]),
            ),
            (
                json!([]),
                Err(vec![
                    "request body/events must be a non-empty array of event names or \"*\"",
                ]),
            ),
            (
                json!("*"),
                Err(vec![
                    "request body/events must be a non-empty array of event names or \"*\"",
                ]),
            ),
            (
                json!(["user.new", "user.*", 3]),
                Err(vec![
                    "request body/events/1 must be an event name from the catalogue or \"*\"",
                    "request body/events/2 must be an event name from the catalogue or \"*\"",
                ]),
            ),
            (
                json!(["User.New"]),
                Err(vec![
                    "request body/events/0 must be an event name from the catalogue or \"*\"",
                ]),
            ),
        ];
        for (value, expected) in rows {
            let got = subscription_events(&value);
            match expected {
                Ok(names) => assert_eq!(got.unwrap(), names, "{value}"),
                Err(details) => assert_eq!(
                    got.unwrap_err(),
                    Error::validation(details.into_iter().map(String::from).collect()),
                    "{value}"
                ),
            }
        }
    }

    #[test]
    fn matching() {
        let all = vec!["*".to_owned()];
        let some = vec!["user.new".to_owned(), "call.logged".to_owned()];
        for (subscribed, event, expected) in [
            (&all, "account.created", true),
            (&all, "account.password_reset_requested", true),
            (&some, "user.new", true),
            (&some, "call.logged", true),
            (&some, "call.updated", false),
            (&some, "user.newer", false),
            (&vec![], "user.new", false),
        ] {
            assert_eq!(
                matches(subscribed, event),
                expected,
                "{subscribed:?} {event}"
            );
        }
    }

    #[test]
    fn delivery_body_is_the_documented_envelope() {
        let payload = json!({"userId": "test-user"});
        let body = Delivery {
            id: "123",
            event: "user.new",
            created_at: "2021-01-01T00:00:00.000Z",
            payload: &payload,
        }
        .body();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"id":"123","event":"user.new","created_at":"2021-01-01T00:00:00.000Z","payload":{"userId":"test-user"}}"#
        );
    }
}
