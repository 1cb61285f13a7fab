//! The CRM extension API (RingCentral App Connect compatible): the connection and its `jwtToken`, and the
//! connector boundary behind which a CRM lives. Switchboard's own CRM ([`builtin::BuiltinCrm`], platform
//! `switchboard`) is the one connector today; another CRM plugs in by implementing [`Connector`].

pub mod builtin;
pub mod events;
pub mod manifest;
pub mod notes;
pub mod phone;
pub mod records;
pub mod settings;
pub mod token;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::error::Error;
use crate::identity::members::{LastSeen, SeenMarks};
use crate::identity::{Identities, Identity};
use crate::optimistic;
use crate::optimistic::Retry;
use crate::secrets;
use crate::store::{Condition, Item, Key, MAX_PAGE_SIZE, Query, Record, Store, StoreError, Write};
use crate::time::{now_rfc3339, unix_now};

/// The 409 of a record other requests keep changing.
const RECORD_BUSY: &str = "The record is being changed by other requests";

pub use records::{CallLog, Contact};
pub use token::{CrmClaims, CrmTokens};

/// The built-in CRM's platform name.
pub const PLATFORM: &str = "switchboard";
/// App Connect's answer to a missing or bad `jwtToken`.
pub const AUTHORIZE_MESSAGE: &str = "Please go to Settings and authorize CRM platform";
pub const REFRESH_HEADER: &str = "x-refreshed-jwt-token";

/// A number to match: the parsed number and its `overridingFormat` variants.
#[derive(Debug, Clone)]
pub struct PhoneSearch {
    pub searched: phone::Searched,
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedCall {
    Created(String),
    Exists,
}

#[derive(Debug, Clone, Default)]
pub struct CallLogPatch {
    pub session_id: String,
    pub subject: Option<String>,
    pub note: Option<String>,
    pub recording_link: Option<String>,
    pub start_time: Option<Value>,
    pub duration: Option<Value>,
    pub result: Option<String>,
    /// Replace the log's dispositions (`PUT /callDisposition`).
    pub dispositions: Option<Map<String, Value>>,
    pub additional_submission: Option<Map<String, Value>>,
}

/// The conversation-day a message belongs to.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub conversation_id: Option<String>,
    pub conversation_log_id: String,
    pub contact_id: Option<String>,
    pub contact_name: Option<String>,
    pub contact_type: Option<String>,
}

/// What a CRM must do for the extension. Handlers talk only to this. Writes name their [`Owner`], whose
/// organization their events go to and whose guards they carry.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn find_contacts(&self, owner: &str, search: &PhoneSearch)
    -> Result<Vec<Contact>, Error>;
    async fn create_contact(
        &self,
        owner: &Owner,
        phone: &str,
        name: &str,
        kind: &str,
    ) -> Result<Contact, Error>;
    /// Creates the log of a call session unless one exists; never two for one session id.
    async fn create_call_log(&self, owner: &Owner, log: CallLog) -> Result<LoggedCall, Error>;
    async fn call_logs(&self, owner: &str, session_ids: &[String]) -> Result<Vec<CallLog>, Error>;
    async fn update_call_log(
        &self,
        owner: &Owner,
        patch: &CallLogPatch,
    ) -> Result<Option<CallLog>, Error>;
    /// Logs `messages` (oldest first) into their conversation-day, each at most once however many requests
    /// race; answers the ids of those this call logged.
    async fn log_messages(
        &self,
        owner: &Owner,
        conversation: &Conversation,
        messages: &[Value],
    ) -> Result<Vec<String>, Error>;
    /// Hands back whatever credentials the CRM holds for `owner`.
    async fn revoke(&self, owner: &str) -> Result<(), Error>;
}

/// A fresh `jwtToken` for the `x-refreshed-jwt-token` header, when the one presented has seven days or
/// fewer left.
pub type Refreshed = Option<String>;

/// Whom a CRM write is for, as the signed `jwtToken` says, and the guards that carry the rest of the token
/// check inside the write: the connection and the identity exist, and the identity is not locked. The
/// built-in CRM puts `guards` first in its transaction, so a revoked token, a deleted or a locked identity
/// makes the whole write fail ([`Error::Refused`] naming the guard) and nothing is written.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub organization_id: String,
    pub guards: Vec<Write>,
}

impl Owner {
    /// How many of [`Owner::guards`] check the token; a route's own guards follow them.
    pub const TOKEN_GUARDS: usize = 3;

    fn new(claims: &CrmClaims, organization_id: String) -> Self {
        let guards = vec![
            Write::Check(
                records::Connection::key_of(&claims.id, &claims.platform, &claims.cid),
                Condition::Exists,
            ),
            Write::Check(Identity::key_of(&claims.id), Condition::Exists),
            Write::Check(Identity::lock_key(&claims.id), Condition::Absent),
        ];
        Self {
            id: claims.id.clone(),
            organization_id,
            guards,
        }
    }

    /// The owner of a caller already checked: no guard left to carry.
    pub fn checked(user: &CrmUser) -> Self {
        Self {
            id: user.identity.id.clone(),
            organization_id: user.identity.organization_id.clone(),
            guards: Vec::new(),
        }
    }

    /// `writes` behind the guards, in one transaction's order; a failed guard becomes
    /// [`Error::Refused`] with its index.
    pub fn guarded(&self, writes: Vec<Write>) -> Vec<Write> {
        self.guards.iter().cloned().chain(writes).collect()
    }
}

/// The caller of a CRM route.
#[derive(Debug, Clone)]
pub struct CrmUser {
    pub identity: Identity,
    pub claims: CrmClaims,
    /// A fresh token when the one presented has seven days or fewer left.
    pub refreshed: Option<String>,
}

#[derive(Clone)]
pub struct Crm {
    store: Arc<dyn Store>,
    tokens: CrmTokens,
    pub connector: Arc<dyn Connector>,
    seen_marks: Arc<SeenMarks>,
}

/// `returnMessage` of App Connect's envelope.
pub fn return_message(message: &str, kind: &str, ttl: u32) -> Value {
    json!({ "message": message, "messageType": kind, "ttl": ttl })
}

impl Crm {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        Self {
            connector: Arc::new(builtin::BuiltinCrm::new(store.clone())),
            tokens: CrmTokens::new(&config.crm_secret),
            store,
            seen_marks: Arc::default(),
        }
    }

    /// `POST /apiKeyLogin`: a personal API key of the identity connects it; answers `{jwtToken, name,
    /// returnMessage}`. Every token of one connection shares its id, so unAuthorize ends them all.
    pub async fn api_key_login(
        &self,
        identities: &Identities,
        platform: &str,
        api_key: &str,
    ) -> Result<Value, Error> {
        if platform != PLATFORM {
            return Err(Error::bad_request(format!("Unknown platform {platform}")));
        }
        let identity = identities
            .identity_for_api_key(api_key)
            .await?
            .ok_or_else(|| Error::bad_request("Invalid API key"))?;
        let api_key_id = secrets::digest(api_key);
        // Already connected with this key (another device): join that connection.
        let joined = self
            .connections(&identity.id, platform)
            .await?
            .into_iter()
            .find(|c| c.api_key_id == api_key_id);
        let connection_id = match joined {
            Some(connection) => connection.connection_id,
            None => {
                let connection = records::Connection {
                    identity_id: identity.id.clone(),
                    platform: platform.to_owned(),
                    connection_id: uuid::Uuid::new_v4().to_string(),
                    api_key_id,
                    created_at: now_rfc3339(),
                    version: 0,
                };
                self.store.create(connection.to_item()?).await?;
                connection.connection_id
            }
        };
        let token = self
            .tokens
            .issue(
                &identity.id,
                &identity.organization_id,
                platform,
                &connection_id,
                unix_now(),
            )
            .ok_or_else(|| Error::Internal("signing a jwtToken".into()))?;
        let name = match &identity.profile_id {
            Some(id) => identities.profile(id).await?.map(|p| p.name),
            None => None,
        }
        .unwrap_or_else(|| identity.username.clone());
        Ok(json!({
            "jwtToken": token,
            "name": name,
            "returnMessage": return_message("Successfully connected to Switchboard.", "success", 3000),
        }))
    }

    /// The token check of every CRM route: a valid `jwtToken` whose connection still exists, of an
    /// identity that exists and is not locked. Connection, identity and last-seen mark are read in one round
    /// trip (the mark moves at most once a minute).
    pub async fn authenticate(&self, token: &str) -> Result<CrmUser, Error> {
        let (user, _) = self.authenticate_with(token, |_| Vec::new()).await?;
        Ok(user)
    }

    /// As [`Crm::authenticate`], also reading in the same round trip the caller's items `extra` names (given
    /// the caller's id); returns those that exist.
    pub async fn authenticate_with(
        &self,
        token: &str,
        extra: impl FnOnce(&str) -> Vec<Key>,
    ) -> Result<(CrmUser, Vec<Item>), Error> {
        let claims = self.verify(token)?;
        let keys = extra(&claims.id);
        self.check(claims, keys).await
    }

    /// As [`Crm::authenticate`], running `read` (given the caller's id as the signed token says it) at the
    /// same time as the check, so the route waits for the store once. `read`'s result is dropped when the
    /// check refuses the token; it must not write.
    pub async fn authenticate_while<T, F>(
        &self,
        token: &str,
        read: impl FnOnce(String) -> F,
    ) -> Result<(CrmUser, T), Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let claims = self.verify(token)?;
        let reading = read(claims.id.clone());
        let (checked, read) = tokio::join!(self.check(claims, Vec::new()), reading);
        let (user, _) = checked?;
        Ok((user, read?))
    }

    /// Runs `write` as the token's owner with the token check inside it: the owner's [`Owner::guards`]
    /// (connection, identity, not locked) go first in the write's transaction, then `guards` (given the
    /// caller's id). The caller's last-seen mark is read at the same time, so the route waits for the store
    /// once (not read at all when this process saw it move within the minute). A refused token writes
    /// nothing and answers App Connect's refusal; a failed guard of `guards` answers [`Error::Refused`]
    /// with its index among them.
    pub async fn write_as<T, F>(
        &self,
        token: &str,
        guards: impl FnOnce(&str) -> Vec<Write>,
        write: impl FnOnce(Owner) -> F,
    ) -> Result<(Refreshed, T), Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let claims = self.verify(token)?;
        // A token from before `org` is checked first, then written as (two round trips, for two weeks).
        let org = match claims.org.as_str() {
            "" => self.authenticate(token).await?.identity.organization_id,
            org => org.to_owned(),
        };
        let mut owner = Owner::new(&claims, org.clone());
        owner.guards.extend(guards(&claims.id));
        let seen = async {
            if self.seen_marks.fresh(&claims.id) {
                return None;
            }
            self.store.get(&LastSeen::key_of(&claims.id)).await.ok()
        };
        let (written, seen) = tokio::join!(write(owner), seen);
        let value = written.map_err(|e| match e {
            Error::Refused(at) if at < Owner::TOKEN_GUARDS => self.refusal(),
            Error::Refused(at) => Error::Refused(at - Owner::TOKEN_GUARDS),
            e => e,
        })?;
        if let Some(seen) = seen {
            self.seen_marks
                .mark(self.store.as_ref(), &claims.id, seen.as_ref())
                .await;
        }
        Ok((self.refreshed(&claims, &org), value))
    }

    fn refusal(&self) -> Error {
        Error::bad_request(AUTHORIZE_MESSAGE)
    }

    /// The claims of a `jwtToken` this deployment signed that has not expired: the first half of the check,
    /// without I/O.
    pub(super) fn verify(&self, token: &str) -> Result<CrmClaims, Error> {
        self.tokens.verify(token).ok_or_else(|| self.refusal())
    }

    /// A fresh token (of organization `org`) when `claims` has seven days or fewer left.
    fn refreshed(&self, claims: &CrmClaims, org: &str) -> Refreshed {
        let now = unix_now();
        (claims.exp - now <= token::REFRESH_WITHIN_SECONDS)
            .then(|| {
                self.tokens
                    .issue(&claims.id, org, &claims.platform, &claims.cid, now)
            })
            .flatten()
    }

    /// The second half of the check: connection, identity and last-seen mark, with the items `extra` names,
    /// in one round trip.
    async fn check(
        &self,
        claims: CrmClaims,
        extra: Vec<Key>,
    ) -> Result<(CrmUser, Vec<Item>), Error> {
        let mut keys = vec![
            records::Connection::key_of(&claims.id, &claims.platform, &claims.cid),
            Identity::key_of(&claims.id),
            LastSeen::key_of(&claims.id),
        ];
        keys.extend(extra);
        let mut items = self.store.batch_get(&keys).await?;
        let find = |key: &Key| items.iter().find(|i| i.key == *key);
        find(&keys[0])
            .map(records::Connection::from_item)
            .transpose()?
            .filter(|c| c.connection_id == claims.cid)
            .ok_or_else(|| self.refusal())?;
        let identity = find(&keys[1])
            .map(Identity::from_item)
            .transpose()?
            .filter(|i| !i.locked)
            .ok_or_else(|| self.refusal())?;
        self.seen_marks
            .mark(self.store.as_ref(), &identity.id, find(&keys[2]))
            .await;
        items.retain(|i| !keys[..3].contains(&i.key));
        let refreshed = self.refreshed(&claims, &identity.organization_id);
        let user = CrmUser {
            identity,
            claims,
            refreshed,
        };
        Ok((user, items))
    }

    /// `POST /unAuthorize`: the CRM hands back its credentials and the connection ends, with every
    /// `jwtToken` issued for it.
    pub async fn unauthorize(&self, user: &CrmUser) -> Result<(), Error> {
        self.connector.revoke(&user.identity.id).await?;
        let key =
            records::Connection::key_of(&user.identity.id, &user.claims.platform, &user.claims.cid);
        match self.store.delete(&key, Condition::Exists).await {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An identity's connections to `platform` (a strongly consistent read of its own partition).
    async fn connections(
        &self,
        identity: &str,
        platform: &str,
    ) -> Result<Vec<records::Connection>, Error> {
        let query = Query::new(Identity::key_of(identity).pk)
            .prefix(records::Connection::prefix(platform))
            .limit(MAX_PAGE_SIZE);
        let page = self.store.query(&query).await?;
        Ok(page
            .items
            .iter()
            .map(records::Connection::from_item)
            .collect::<Result<_, _>>()?)
    }

    /// The writes that end the connections made with personal API key `api_key_id`, and only those: they
    /// go in the key's revocation transaction.
    pub async fn end_connections_of_key(
        &self,
        identity: &str,
        api_key_id: &str,
    ) -> Result<Vec<Write>, Error> {
        Ok(self
            .connections(identity, PLATFORM)
            .await?
            .iter()
            .filter(|c| c.api_key_id == api_key_id)
            .map(|c| Write::Delete(c.key(), Condition::Exists))
            .collect())
    }
}

/// Writes `owner`'s record `change` makes of the stored one (or of none): created if absent, else replaced
/// at the version read, and tried again (reading afresh) when another request wrote in between. `read` is
/// the item as the caller just read it (with the token check), so the usual case is one write and no extra
/// read. The write is guarded by the owner's identity, so none outlives a deleted account's clean-up
/// ([`crate::remains`]).
async fn upsert<T: Record>(
    store: &dyn Store,
    owner: &str,
    read: Option<&Item>,
    mut change: impl FnMut(Option<T>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut current = read.map(T::from_item).transpose()?;
    optimistic!(builtin::MAX_RETRIES, RECORD_BUSY, {
        let condition = current
            .as_ref()
            .map_or(Condition::Absent, |c| Condition::Version(c.version()));
        let record = change(current.take())?;
        let key = record.key();
        let writes = vec![
            Write::Check(Identity::key_of(owner), Condition::Exists),
            Write::Put(record.to_item()?, condition),
        ];
        match store.transact(writes).await {
            Ok(()) => Ok(record),
            Err(StoreError::CheckFailed(_)) => {
                Err(Retry::Fail(Error::bad_request(AUTHORIZE_MESSAGE)))
            }
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                current = store.load::<T>(&key).await?;
                Err(Retry::Again)
            }
            Err(e) => Err(e.into()),
        }
    })
}
