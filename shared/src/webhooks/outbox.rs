//! The transactional outbox: a domain change hands its [`Event`] to the store as one more write of its own
//! transaction, so a change without its event, or an event without its change, cannot happen. A feature
//! emits an event in one line: `writes.push(Event::new(EventName::AvatarUpdated, org, payload).write()?)`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::events::{Delivery, EVENT_TTL_SECONDS, EventName};
use crate::error::Error;
use crate::store::{Condition, Index, Key, Query, Record, Write, versioned};
use crate::time::{now_rfc3339, unix_now};

/// Key prefix of event items: the stream filter of the dispatcher matches it (docs/events.md).
pub const KEY_PREFIX: &str = "EVENT#";
/// Index (gsi1) partition of the events not yet dispatched, oldest first: a sparse index the sweep reads
/// and dispatching leaves.
pub const PENDING: &str = "EVENTS#PENDING";

/// One event item: what happened, to which organization, when, and its payload (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Time-ordered and stable: every delivery of the event carries it, so receivers dedupe on it.
    pub id: String,
    pub event: String,
    pub organization_id: String,
    pub created_at: String,
    pub payload: Value,
    /// Unix seconds: the table's TTL removes the item then.
    pub expires_at: i64,
    /// Turned into deliveries; leaves the pending index.
    #[serde(default)]
    pub dispatched: bool,
    #[serde(skip)]
    pub version: u64,
}

impl Event {
    /// A new event `name` of `organization_id`; the payload (an object) gets the `organizationId` every
    /// payload carries.
    pub fn new(name: EventName, organization_id: &str, mut payload: Value) -> Self {
        if let Value::Object(map) = &mut payload {
            map.insert("organizationId".into(), organization_id.into());
        }
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            event: name.as_str().to_owned(),
            organization_id: organization_id.to_owned(),
            created_at: now_rfc3339(),
            payload,
            expires_at: unix_now() + EVENT_TTL_SECONDS,
            dispatched: false,
            version: 0,
        }
    }

    /// The write that stores the event in its change's transaction.
    pub fn write(&self) -> Result<Write, Error> {
        Ok(Write::Put(self.to_item()?, Condition::Absent))
    }

    pub fn key_of(id: &str) -> Key {
        Key::new(format!("{KEY_PREFIX}{id}"), "EVENT")
    }

    /// The oldest events not yet dispatched.
    pub fn pending() -> Query {
        Query::new(PENDING).on(Index::Gsi1)
    }

    /// The body every delivery of this event sends.
    pub fn delivery(&self) -> Delivery<'_> {
        Delivery {
            id: &self.id,
            event: &self.event,
            created_at: &self.created_at,
            payload: &self.payload,
        }
    }
}

/// Names of the top-level fields that differ between two JSON objects, skipping `ignore`: the `changed`
/// of the `*.updated` events.
pub fn changed_fields(before: &Value, after: &Value, ignore: &[&str]) -> Vec<String> {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| !ignore.contains(&k.as_str()) && before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Record for Event {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        (!self.dispatched).then(|| Key::new(PENDING, format!("{}#{}", self.created_at, self.id)))
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_is_one_conditional_put_under_its_prefix() {
        let event = Event::new(EventName::UserNew, "org-1", json!({"userId": "u1"}));
        assert_eq!(
            event.payload,
            json!({"userId": "u1", "organizationId": "org-1"})
        );
        let Write::Put(item, Condition::Absent) = event.write().unwrap() else {
            panic!("an event is created, never replaced");
        };
        assert!(item.key.pk.starts_with(KEY_PREFIX));
        assert_eq!(item.index.unwrap().pk, PENDING);
        let ttl = item.expires_at.unwrap() - unix_now();
        assert!((EVENT_TTL_SECONDS - 5..=EVENT_TTL_SECONDS).contains(&ttl));
        let dispatched = Event {
            dispatched: true,
            ..event
        };
        assert_eq!(dispatched.index(), None);
    }

    #[test]
    fn changed_fields_name_what_differs() {
        let before = json!({"a": 1, "b": 2, "updatedAt": "x"});
        let after = json!({"a": 1, "b": 3, "c": null, "updatedAt": "y"});
        assert_eq!(
            changed_fields(&before, &after, &["updatedAt"]),
            vec!["b".to_owned(), "c".to_owned()]
        );
        assert!(changed_fields(&before, &before, &[]).is_empty());
    }
}
