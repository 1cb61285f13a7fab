//! hoodie's requests, the last part of its account API (`requests.add({type: 'passwordreset', email})`,
//! `find`, `findAll`, `remove`): anyone may ask for a password reset by email and always hears the same,
//! so no one learns which emails have accounts, not even from the time the answer takes: the request writes
//! the same items either way, among them a mail in the outbox (`identity::mail`). Sending it makes the
//! one-time `passwordreset` token, for an existing account, and mails the link to that address only: no event,
//! log or stored item carries the token. Requests per email are limited per hour; removing a request revokes
//! its token.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::mail::{Letter, Mail};
use super::records::OneTimeToken;
use super::{Identities, MAX_RETRIES};
use crate::error::Error;
use crate::optimistic;
use crate::store::{Condition, Index, Key, Query, Record, Write, versioned};
use crate::time::{now_rfc3339, unix_now};
use crate::webhooks::events::EVENT_TTL_SECONDS;

/// The 409 of a record other requests keep changing.
const REQUESTS_BUSY: &str = "Too many requests at once for this email; try again";

/// The one request type hoodie defines.
pub const PASSWORD_RESET: &str = "passwordreset";
/// Requests one email may make an hour; more are accepted and do nothing.
pub const MAX_REQUESTS_PER_HOUR: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRequest {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub email: String,
    pub organization_id: String,
    /// The account the email belongs to, if any, known once its mail is sent (admins see it; the requester
    /// never does).
    pub account_id: Option<String>,
    /// The hash (id) of the reset token its mail carried, which removing the request revokes.
    #[serde(default)]
    pub token_id: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl AccountRequest {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("REQUEST#{id}"), "REQUEST")
    }

    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "email": self.email,
            "accountId": self.account_id,
            "createdAt": self.created_at,
        })
    }
}

impl Record for AccountRequest {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(Key::new(
            format!("ORG#{}#REQUESTS", self.organization_id),
            format!("{}#{}", self.created_at, self.id),
        ))
    }
    /// Kept as long as events are.
    fn expires_at(&self) -> Option<i64> {
        Some(unix_now() + EVENT_TTL_SECONDS)
    }
    versioned!();
}

/// Requests of one email in one hour.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RequestCount {
    #[serde(skip)]
    pk: String,
    count: u32,
    #[serde(skip)]
    version: u64,
}

impl Record for RequestCount {
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), "REQLIMIT")
    }
    fn expires_at(&self) -> Option<i64> {
        Some(unix_now() + 3600)
    }
    versioned!();
}

impl Identities {
    /// `POST /requests {type: "passwordreset", email}`. The answer is the same whatever happened; the
    /// request is stored unless the email is over its hourly limit.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), Error> {
        let email = email.trim().to_lowercase();
        let org = self.default_organization.clone();
        let hour = unix_now() / 3600;
        let pk = format!("REQLIMIT#{org}#{email}#{hour}");
        let counter = Key::new(pk.clone(), "REQLIMIT");
        optimistic!(MAX_RETRIES, REQUESTS_BUSY, {
            let count = match self.store.get(&counter).await? {
                Some(item) => RequestCount {
                    pk: pk.clone(),
                    ..RequestCount::from_item(&item)?
                },
                None => RequestCount {
                    pk: pk.clone(),
                    count: 0,
                    version: 0,
                },
            };
            if count.count >= MAX_REQUESTS_PER_HOUR {
                tracing::info!("password reset requests over the hourly limit for one email");
                return Ok(());
            }
            let request = AccountRequest {
                id: uuid::Uuid::now_v7().to_string(),
                kind: PASSWORD_RESET.into(),
                email: email.clone(),
                organization_id: org.clone(),
                account_id: None,
                token_id: None,
                created_at: now_rfc3339(),
                version: 0,
            };
            // Keyed by the request's id: whoever holds a request finds its mail.
            let mail = Mail {
                id: request.id.clone(),
                ..Mail::new(
                    &org,
                    &email,
                    Letter::PasswordReset {
                        request_id: request.id.clone(),
                    },
                )
            };
            let next = RequestCount {
                count: count.count + 1,
                ..count.clone()
            };
            let condition = match count.version {
                0 => Condition::Absent,
                v => Condition::Version(v),
            };
            let writes = vec![
                Write::Put(next.to_item()?, condition),
                Write::Put(request.to_item()?, Condition::Absent),
                mail.write()?,
            ];
            self.store.transact(writes).await?;
            Ok(())
        })
    }

    /// The organization's requests, newest first.
    pub async fn requests(
        &self,
        org: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<(Vec<AccountRequest>, Option<String>), Error> {
        let query = Query::new(format!("ORG#{org}#REQUESTS"))
            .on(Index::Gsi1)
            .descending()
            .limit(limit)
            .after(cursor);
        let page = self.store.query(&query).await?;
        let requests = page
            .items
            .iter()
            .map(AccountRequest::from_item)
            .collect::<Result<_, _>>()?;
        Ok((requests, page.cursor))
    }

    /// One request of the organization.
    pub async fn account_request(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Option<AccountRequest>, Error> {
        Ok(self
            .store
            .load::<AccountRequest>(&AccountRequest::key_of(id))
            .await?
            .filter(|r| r.organization_id == org))
    }

    /// Removes a request and revokes the reset token its mail carried, at once. `false` if there was none.
    pub async fn remove_account_request(&self, org: &str, id: &str) -> Result<bool, Error> {
        optimistic!(MAX_RETRIES, REQUESTS_BUSY, {
            let Some(request) = self.account_request(org, id).await? else {
                return Ok(false);
            };
            let mut writes = vec![Write::Delete(
                request.key(),
                Condition::Version(request.version),
            )];
            if let Some(token) = &request.token_id
                && self.token_by_id(token).await?.is_some()
            {
                writes.push(Write::Delete(
                    OneTimeToken::key_of(token),
                    Condition::Exists,
                ));
            }
            self.store.transact(writes).await?;
            Ok(true)
        })
    }
}
