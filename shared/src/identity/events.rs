//! The events identity changes emit (docs/events.md), computed from the records before and after a change
//! so that each write carries exactly the events of what it changed.

use serde_json::json;

use super::records::{Identity, Profile};
use crate::time::now_rfc3339;
use crate::webhooks::outbox::changed_fields;
use crate::webhooks::{Event, EventName};

/// Who made a change, for the `by` of `account.password_changed`, `account.locked` and `account.unlocked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A signed-in account: the identity itself ("self") or an admin.
    Account(&'a str),
    /// Someone holding a one-time token (a password reset).
    Token,
    /// The server API, the operators' bootstrap or another internal path.
    System,
}

/// Account fields whose change is no `account.updated`: lock state has events of its own, the sign-in
/// lockout emits nothing, and the timestamps change with everything.
const NOT_UPDATES: [&str; 4] = ["locked", "lockedUntil", "createdAt", "updatedAt"];

/// `account.created`, or `user.new` for a server-API user (one with an external id).
pub fn created(identity: &Identity, profile: Option<&Profile>) -> Event {
    let org = &identity.organization_id;
    match &identity.external_id {
        Some(uid) => Event::new(
            EventName::UserNew,
            org,
            json!({"userId": uid, "user": identity.server_user_view(profile)}),
        ),
        None => Event::new(
            EventName::AccountCreated,
            org,
            json!({"account": identity.account_view()}),
        ),
    }
}

/// The events of an identity change: `account.updated` (with the fields that changed), and
/// `account.password_changed`, `account.locked` or `account.unlocked` when those happened.
pub fn updated(before: &Identity, after: &Identity, actor: Actor) -> Vec<Event> {
    let org = &after.organization_id;
    let now = now_rfc3339();
    let mut events = Vec::new();
    let view = after.account_view();
    let changed = changed_fields(&before.account_view(), &view, &NOT_UPDATES);
    if !changed.is_empty() {
        events.push(Event::new(
            EventName::AccountUpdated,
            org,
            json!({"account": view, "changed": changed}),
        ));
    }
    if before.password_hash != after.password_hash {
        let by = match actor {
            Actor::Account(id) if id == after.id => "self",
            Actor::Token => "reset",
            Actor::Account(_) | Actor::System => "admin",
        };
        events.push(Event::new(
            EventName::AccountPasswordChanged,
            org,
            json!({"accountId": after.id, "by": by, "changedAt": now}),
        ));
    }
    if before.locked != after.locked {
        let by = match actor {
            Actor::Account(id) => Some(id),
            Actor::Token | Actor::System => None,
        };
        let name = if after.locked {
            EventName::AccountLocked
        } else {
            EventName::AccountUnlocked
        };
        events.push(Event::new(
            name,
            org,
            json!({"accountId": after.id, "by": by, "at": now}),
        ));
    }
    events
}

/// `account.deleted`, or `user.deleted` for a server-API user.
pub fn deleted(identity: &Identity) -> Event {
    let org = &identity.organization_id;
    match &identity.external_id {
        Some(uid) => Event::new(
            EventName::UserDeleted,
            org,
            json!({"userId": uid, "deleted_contact_id": identity.id}),
        ),
        None => Event::new(
            EventName::AccountDeleted,
            org,
            json!({
                "accountId": identity.id,
                "username": identity.username,
                "externalId": identity.external_id,
                "deletedAt": now_rfc3339(),
            }),
        ),
    }
}

/// `profile.updated` with the fields that changed (all of them for a new profile); `None` if none did.
pub fn profile_updated(before: Option<&Profile>, after: &Profile) -> Option<Event> {
    let view = after.account_view();
    let changed = match before {
        Some(before) => changed_fields(&before.account_view(), &view, &[]),
        None => changed_fields(&json!({}), &view, &["id"]),
    };
    (!changed.is_empty()).then(|| {
        Event::new(
            EventName::ProfileUpdated,
            &after.organization_id,
            json!({
                "profileId": after.id,
                "accountId": after.identity_id,
                "profile": view,
                "changed": changed,
            }),
        )
    })
}
