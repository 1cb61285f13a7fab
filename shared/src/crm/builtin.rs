//! The built-in CRM (platform `switchboard`): contacts, call logs and message logs in the table. Every
//! dedupe is a conditional write; a phone match is one indexed query per distinct number key.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::records::{CallLog, Contact, LoggedMessage, PhoneEntry};
use super::{CallLogPatch, Connector, Conversation, LoggedCall, Owner, PhoneSearch};
use super::{events, phone};
use crate::error::Error;
use crate::optimistic;
use crate::optimistic::Retry;
use crate::store::Record;
use crate::store::{Condition, Query, Store, StoreError, Write};
use crate::time::now_rfc3339;
use crate::webhooks::outbox::changed_fields;

/// The 409 of a record other requests keep changing.
const CALL_LOG_BUSY: &str = "The call log is being changed by other requests";
/// The 409 of a record other requests keep changing.
const CONVERSATION_BUSY: &str = "The conversation log is being changed by other requests";

/// Bounded retries when another request changes the same conversation log at the same moment.
pub(super) const MAX_RETRIES: usize = 32;
/// Messages per transaction: each is two items (the message and its event) beside the owner's guards, and
/// DynamoDB takes 100 items a transaction.
const MESSAGES_PER_WRITE: usize = 48;
/// Message bytes per transaction, under DynamoDB's 4 MB a transaction.
const MESSAGE_BYTES_PER_WRITE: usize = 3_000_000;
/// `GET /contact` answers at most this many matches for one number (the extension lists them for the agent
/// to pick from): the first ones created; later ones are left out.
pub const MAX_CONTACT_MATCHES: usize = 100;

pub struct BuiltinCrm {
    store: Arc<dyn Store>,
}

impl BuiltinCrm {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

/// A failed guard of the owner's is [`Error::Refused`]; anything else is the store's error.
fn refused(e: StoreError) -> Error {
    match e {
        StoreError::CheckFailed(at) => Error::Refused(at),
        e => e.into(),
    }
}

fn owned<T: Record>(
    item: &crate::store::Item,
    owner: &str,
    set: impl FnOnce(&mut T, String),
) -> Result<T, Error> {
    let mut record = T::from_item(item)?;
    set(&mut record, owner.to_owned());
    Ok(record)
}

#[async_trait]
impl Connector for BuiltinCrm {
    async fn find_contacts(
        &self,
        owner: &str,
        search: &PhoneSearch,
    ) -> Result<Vec<Contact>, Error> {
        // One query per distinct number key, all at once: the route waits for the store once.
        let keys = phone::search_keys(&search.searched, &search.variants);
        let queries: Vec<Query> = keys
            .iter()
            .map(|key| {
                Query::new(PhoneEntry::partition(owner, key)).limit(MAX_CONTACT_MATCHES as u32)
            })
            .collect();
        let pages =
            futures::future::try_join_all(queries.iter().map(|q| self.store.query(q))).await?;
        let mut found: Vec<Contact> = Vec::new();
        for item in pages.iter().flat_map(|page| &page.items) {
            let entry: PhoneEntry =
                owned(item, owner, |e: &mut PhoneEntry, o| e.contact.owner = o)?;
            if !found.iter().any(|c| c.id == entry.contact.id) {
                found.push(entry.contact);
            }
        }
        found.truncate(MAX_CONTACT_MATCHES);
        Ok(found)
    }

    async fn create_contact(
        &self,
        user: &Owner,
        number: &str,
        name: &str,
        kind: &str,
    ) -> Result<Contact, Error> {
        let owner = &user.id;
        let key = phone::key(number).ok_or_else(|| Error::bad_request("Invalid phone number"))?;
        let contact = Contact {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            phone: phone::restore_plus(number),
            owner: owner.to_owned(),
            version: 0,
        };
        let entry = PhoneEntry {
            contact: contact.clone(),
            phone_key: key,
            version: 0,
        };
        let event = events::contact_created(&user.organization_id, owner, &contact);
        // The contact and its phone entry together: matchable the moment it exists.
        self.store
            .transact(user.guarded(vec![
                Write::Put(contact.to_item()?, Condition::Absent),
                Write::Put(entry.to_item()?, Condition::Absent),
                event.write()?,
            ]))
            .await
            .map_err(refused)?;
        Ok(contact)
    }

    async fn create_call_log(&self, user: &Owner, mut log: CallLog) -> Result<LoggedCall, Error> {
        log.owner = user.id.clone();
        log.log_id = uuid::Uuid::now_v7().to_string();
        log.created_at = now_rfc3339();
        log.updated_at = log.created_at.clone();
        let event = events::call_logged(&user.organization_id, &user.id, &log);
        // The log is its own reservation: the first write for a session id wins, atomically.
        let writes = vec![
            Write::Put(log.to_item()?, Condition::Absent),
            event.write()?,
        ];
        match self.store.transact(user.guarded(writes)).await {
            Ok(()) => Ok(LoggedCall::Created(log.log_id)),
            // The guards held (a failed one is named first): the session's log exists.
            Err(StoreError::ConditionFailed) => Ok(LoggedCall::Exists),
            // A conflict wrote nothing: not a sign the log exists.
            Err(e) => Err(refused(e)),
        }
    }

    async fn call_logs(&self, owner: &str, session_ids: &[String]) -> Result<Vec<CallLog>, Error> {
        let keys: Vec<_> = session_ids
            .iter()
            .map(|id| CallLog::key_of(owner, id))
            .collect();
        let items = self.store.batch_get(&keys).await?;
        items
            .iter()
            .map(|item| owned(item, owner, |l: &mut CallLog, o| l.owner = o))
            .collect()
    }

    async fn update_call_log(
        &self,
        user: &Owner,
        patch: &CallLogPatch,
    ) -> Result<Option<CallLog>, Error> {
        let owner = &user.id;
        optimistic!(MAX_RETRIES, CALL_LOG_BUSY, {
            let Some(item) = self
                .store
                .get(&CallLog::key_of(owner, &patch.session_id))
                .await?
            else {
                return Ok(None);
            };
            let before: CallLog = owned(&item, owner, |l: &mut CallLog, o| l.owner = o)?;
            let mut log = before.clone();
            // Fields are replaced, never appended to: the same patch twice leaves the same log.
            if let Some(subject) = &patch.subject {
                log.subject = subject.clone();
            }
            if let Some(note) = &patch.note {
                log.note = note.clone();
            }
            if let Some(link) = &patch.recording_link {
                log.recording_link = Some(link.clone());
            }
            if let Some(start) = &patch.start_time {
                log.start_time = Some(start.clone());
            }
            if let Some(duration) = &patch.duration {
                log.duration = Some(duration.clone());
            }
            if let Some(result) = &patch.result {
                log.result = Some(result.clone());
            }
            if let Some(dispositions) = &patch.dispositions {
                log.dispositions = dispositions.clone();
            }
            if let Some(submission) = &patch.additional_submission {
                log.additional_submission = submission.clone();
            }
            let changed = changed_fields(&json!(before), &json!(log), &[]);
            // The same patch again changes nothing: nothing is written, no event told.
            if changed.is_empty() {
                return Ok(Some(log));
            }
            log.updated_at = now_rfc3339();
            let event = events::call_updated(&user.organization_id, owner, &log, &changed);
            let writes = vec![
                Write::Put(log.to_item()?, Condition::Version(item.version)),
                event.write()?,
            ];
            match self.store.transact(user.guarded(writes)).await {
                Ok(()) => Ok(Some(log)),
                Err(StoreError::CheckFailed(at)) => Err(Retry::Fail(Error::Refused(at))),
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn log_messages(
        &self,
        user: &Owner,
        conversation: &Conversation,
        messages: &[Value],
    ) -> Result<Vec<String>, Error> {
        let now = now_rfc3339();
        let mut logged: Vec<LoggedMessage> = Vec::with_capacity(messages.len());
        for message in messages {
            let message_id = message["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| message["id"].to_string());
            // The same message twice in one request is one message.
            if logged.iter().any(|l| l.message_id == message_id) {
                continue;
            }
            logged.push(LoggedMessage {
                message_id,
                conversation_log_id: conversation.conversation_log_id.clone(),
                conversation_id: conversation.conversation_id.clone(),
                contact_id: conversation.contact_id.clone(),
                contact_name: conversation.contact_name.clone(),
                contact_type: conversation.contact_type.clone(),
                logged_at: now.clone(),
                message: message.clone(),
                owner: user.id.clone(),
                version: 0,
            });
        }
        // Each share of the messages is a transaction of its own, all at once.
        let written =
            futures::future::try_join_all(shares(&logged).map(|share| self.log_share(user, share)))
                .await?;
        Ok(written.concat())
    }

    async fn revoke(&self, _owner: &str) -> Result<(), Error> {
        // Nothing to hand back: the built-in CRM holds no third-party credentials.
        Ok(())
    }
}

impl BuiltinCrm {
    /// Logs `share` in one transaction behind the owner's guards; the messages logged already (by an
    /// earlier request or a racing one) are left out and the rest written again.
    async fn log_share(&self, user: &Owner, share: &[LoggedMessage]) -> Result<Vec<String>, Error> {
        let mut pending: Vec<&LoggedMessage> = share.iter().collect();
        optimistic!(MAX_RETRIES, CONVERSATION_BUSY, {
            if pending.is_empty() {
                return Ok(Vec::new());
            }
            let mut writes = Vec::with_capacity(pending.len() * 2);
            for message in &pending {
                writes.push(Write::Put(message.to_item()?, Condition::Absent));
                writes.push(
                    events::message_logged(&user.organization_id, &user.id, message).write()?,
                );
            }
            match self.store.transact(user.guarded(writes)).await {
                Ok(()) => Ok(pending.iter().map(|m| m.message_id.clone()).collect()),
                Err(StoreError::CheckFailed(at)) => Err(Retry::Fail(Error::Refused(at))),
                Err(StoreError::ConditionFailed) => {
                    let keys: Vec<_> = pending.iter().map(|m| m.key()).collect();
                    let existing = self.store.batch_get(&keys).await?;
                    pending.retain(|m| !existing.iter().any(|i| i.key == m.key()));
                    Err(Retry::Again)
                }
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// `logged` in transaction-sized shares, in order.
fn shares(logged: &[LoggedMessage]) -> impl Iterator<Item = &[LoggedMessage]> {
    let mut rest = logged;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut take = 0;
        while take < rest.len().min(MESSAGES_PER_WRITE) {
            bytes += rest[take].message.to_string().len();
            if take > 0 && bytes > MESSAGE_BYTES_PER_WRITE {
                break;
            }
            take += 1;
        }
        let (share, more) = rest.split_at(take);
        rest = more;
        Some(share)
    })
}
