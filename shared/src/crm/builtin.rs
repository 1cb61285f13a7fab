//! The built-in CRM (platform `switchboard`): contacts, call logs and message logs in the table. Every
//! dedupe is a conditional write; a phone match is one indexed query per distinct number key.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::records::{CallLog, Contact, ConversationLog, LoggedMessage, PhoneEntry};
use super::{CallLogPatch, Connector, Conversation, LoggedCall, PhoneSearch};
use super::{events, phone};
use crate::error::Error;
use crate::identity::Identity;
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
        let mut found: Vec<Contact> = Vec::new();
        for key in phone::search_keys(&search.searched, &search.variants) {
            let page = self
                .store
                .query(
                    &Query::new(PhoneEntry::partition(owner, &key))
                        .limit(MAX_CONTACT_MATCHES as u32),
                )
                .await?;
            for item in &page.items {
                let entry: PhoneEntry =
                    owned(item, owner, |e: &mut PhoneEntry, o| e.contact.owner = o)?;
                if !found.iter().any(|c| c.id == entry.contact.id) {
                    found.push(entry.contact);
                }
            }
        }
        found.truncate(MAX_CONTACT_MATCHES);
        Ok(found)
    }

    async fn create_contact(
        &self,
        user: &Identity,
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
            .transact(vec![
                Write::Put(contact.to_item()?, Condition::Absent),
                Write::Put(entry.to_item()?, Condition::Absent),
                event.write()?,
            ])
            .await?;
        Ok(contact)
    }

    async fn create_call_log(
        &self,
        user: &Identity,
        mut log: CallLog,
    ) -> Result<LoggedCall, Error> {
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
        match self.store.transact(writes).await {
            Ok(()) => Ok(LoggedCall::Created(log.log_id)),
            Err(StoreError::ConditionFailed) => Ok(LoggedCall::Exists),
            // A conflict wrote nothing: not a sign the log exists.
            Err(e) => Err(e.into()),
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
        user: &Identity,
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
            self.store.transact(writes).await?;
            Ok(Some(log))
        })
    }

    async fn log_message(
        &self,
        user: &Identity,
        conversation: &Conversation,
        message: &Value,
    ) -> Result<bool, Error> {
        let owner = &user.id;
        let now = now_rfc3339();
        let logged = LoggedMessage {
            message_id: message["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| message["id"].to_string()),
            conversation_log_id: conversation.conversation_log_id.clone(),
            logged_at: now.clone(),
            message: message.clone(),
            owner: owner.to_owned(),
            version: 0,
        };
        let event = events::message_logged(&user.organization_id, owner, &logged);
        let key = ConversationLog::key_of(owner, &conversation.conversation_log_id);
        optimistic!(MAX_RETRIES, CONVERSATION_BUSY, {
            let (log, condition) = match self.store.get(&key).await? {
                Some(item) => {
                    let mut log: ConversationLog =
                        owned(&item, owner, |l: &mut ConversationLog, o| l.owner = o)?;
                    log.message_count += 1;
                    log.updated_at = now.clone();
                    (log, Condition::Version(item.version))
                }
                None => (
                    ConversationLog {
                        conversation_log_id: conversation.conversation_log_id.clone(),
                        conversation_id: conversation.conversation_id.clone(),
                        contact_id: conversation.contact_id.clone(),
                        contact_name: conversation.contact_name.clone(),
                        contact_type: conversation.contact_type.clone(),
                        message_count: 1,
                        created_at: now.clone(),
                        updated_at: now.clone(),
                        owner: owner.to_owned(),
                        version: 0,
                    },
                    Condition::Absent,
                ),
            };
            let written = self
                .store
                .transact(vec![
                    Write::Put(logged.to_item()?, Condition::Absent),
                    Write::Put(log.to_item()?, condition),
                    event.write()?,
                ])
                .await;
            match written {
                Ok(()) => Ok(true),
                // Either this message is already logged (done), or the log moved on (try again).
                Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                    match self.store.get(&logged.key()).await? {
                        Some(_) => Ok(false),
                        None => Err(Retry::Again),
                    }
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn revoke(&self, _owner: &str) -> Result<(), Error> {
        // Nothing to hand back: the built-in CRM holds no third-party credentials.
        Ok(())
    }
}
