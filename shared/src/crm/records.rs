//! What the built-in CRM stores, per identity (see docs/data-model.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::store::Key;
use crate::store::Record;
use crate::store::versioned;

fn owner_key(owner: &str, sk: String) -> Key {
    Key::new(format!("IDENT#{owner}"), sk)
}

/// A CRM connection of an identity, made with one of its personal API keys: its id is in every `jwtToken`
/// issued for it, and revoking the key ends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub identity_id: String,
    pub platform: String,
    pub connection_id: String,
    /// The id (SHA-256) of the personal API key that made it.
    pub api_key_id: String,
    pub created_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Connection {
    pub fn key_of(identity: &str, platform: &str, connection: &str) -> Key {
        owner_key(identity, format!("{}{connection}", Self::prefix(platform)))
    }

    /// Sort-key prefix of an identity's connections to `platform`.
    pub fn prefix(platform: &str) -> String {
        format!("CRM#{platform}#")
    }
}

impl Record for Connection {
    fn key(&self) -> Key {
        Self::key_of(&self.identity_id, &self.platform, &self.connection_id)
    }
    versioned!();
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// As the user typed it.
    pub phone: String,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub version: u64,
}

impl Contact {
    /// The sort-key prefix of contacts, in their owner's partition and under each phone entry.
    pub const SORT_PREFIX: &str = "CONTACT#";
}

impl Record for Contact {
    fn key(&self) -> Key {
        owner_key(&self.owner, format!("{}{}", Self::SORT_PREFIX, self.id))
    }
    versioned!();
}

/// A contact under the index key of its number (a copy, so a match needs no second read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneEntry {
    #[serde(flatten)]
    pub contact: Contact,
    #[serde(skip)]
    pub phone_key: String,
    #[serde(skip)]
    pub version: u64,
}

impl PhoneEntry {
    pub fn partition(owner: &str, phone_key: &str) -> String {
        format!("PHONE#{owner}#{phone_key}")
    }
}

impl Record for PhoneEntry {
    fn key(&self) -> Key {
        Key::new(
            Self::partition(&self.contact.owner, &self.phone_key),
            format!("{}{}", Contact::SORT_PREFIX, self.contact.id),
        )
    }
    versioned!();
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLog {
    pub log_id: String,
    pub session_id: String,
    pub telephony_session_id: Option<String>,
    pub contact_id: String,
    pub contact_name: Option<String>,
    pub contact_type: Option<String>,
    pub subject: String,
    pub note: String,
    pub direction: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub start_time: Option<Value>,
    pub duration: Option<Value>,
    pub result: Option<String>,
    pub recording_link: Option<String>,
    #[serde(default)]
    pub additional_submission: Map<String, Value>,
    /// Set by `PUT /callDisposition`; the log page reads them back from `logData.dispositions`.
    #[serde(default)]
    pub dispositions: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub version: u64,
}

impl CallLog {
    pub fn key_of(owner: &str, session_id: &str) -> Key {
        owner_key(owner, format!("CALLLOG#{session_id}"))
    }
}

impl Record for CallLog {
    fn key(&self) -> Key {
        Self::key_of(&self.owner, &self.session_id)
    }
    versioned!();
}

/// A logged message: created once, so each message id is logged at most once. Listed per conversation-day
/// (`conversationLogId`) through the index, oldest first; it carries its conversation and contact, so logging
/// it is one write with no read before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedMessage {
    pub message_id: String,
    pub conversation_log_id: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_type: Option<String>,
    pub logged_at: String,
    pub message: Value,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub version: u64,
}

impl LoggedMessage {
    pub fn key_of(owner: &str, message_id: &str) -> Key {
        owner_key(owner, format!("MSG#{message_id}"))
    }

    /// The index partition of one conversation-day's messages.
    pub fn conversation(owner: &str, conversation_log_id: &str) -> String {
        format!("CONVLOG#{owner}#{conversation_log_id}")
    }
}

impl Record for LoggedMessage {
    fn key(&self) -> Key {
        Self::key_of(&self.owner, &self.message_id)
    }
    fn index(&self) -> Option<Key> {
        Some(Key::new(
            Self::conversation(&self.owner, &self.conversation_log_id),
            format!("{}#{}", self.logged_at, self.message_id),
        ))
    }
    versioned!();
}

/// A note typed during a call, kept for a day so a log written without one still gets it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedNote {
    pub session_id: String,
    pub note: String,
    pub expires_at: i64,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub version: u64,
}

impl CachedNote {
    pub fn key_of(owner: &str, session_id: &str) -> Key {
        owner_key(owner, format!("NOTE#{session_id}"))
    }
}

impl Record for CachedNote {
    fn key(&self) -> Key {
        Self::key_of(&self.owner, &self.session_id)
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}

/// The extension's per-user settings (`{name: {value, …}}`), kept with the identity, not the connection,
/// so they outlive a log-out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSettings {
    pub settings: Map<String, Value>,
    pub updated_at: String,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub version: u64,
}

impl UserSettings {
    pub fn key_of(owner: &str) -> Key {
        owner_key(owner, "CRMSETTINGS".into())
    }
}

impl Record for UserSettings {
    fn key(&self) -> Key {
        Self::key_of(&self.owner)
    }
    versioned!();
}
