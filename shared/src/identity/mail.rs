//! The identity mail (docs/mail.md): a password reset's link and the notice that an account's email
//! changed. A request only writes a `MAIL#` outbox item in its own transaction, the same whether or not the
//! email has an account, so the answer takes the same time either way; `mail-send` (the table's stream in
//! AWS, the local server's in process) turns each into a message. A reset token is made there, when its mail
//! is sent: it is stored only as its hash and exists in plain text nowhere but in the mail.

use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::records::{Identity, Marker, OneTimeToken};
use super::requests::{AccountRequest, PASSWORD_RESET};
use super::{Identities, MAX_RETRIES, secrets};
use crate::error::Error;
use crate::mail::{Message, Transport};
use crate::optimistic;
use crate::store::{Condition, Key, Record, Write, versioned};
use crate::time::{now_rfc3339, unix_now, unix_to_rfc3339};
use crate::webhooks::{Event, EventName};

/// Key prefix of mail items: the stream filter of `mail-send` matches it.
pub const KEY_PREFIX: &str = "MAIL#";
/// Unsent mail is dropped after a day (a reset link would be stale by then).
const MAIL_TTL_SECONDS: i64 = 24 * 3600;
const MAIL_BUSY: &str = "The mail is being sent by another worker; try again";

/// What a mail item says, rendered when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Letter {
    /// A reset link for the account of `to`, if there is one (request `request_id`).
    #[serde(rename_all = "camelCase")]
    PasswordReset { request_id: String },
    /// `to` was the email of `username` until it changed to `new_email` (shown masked).
    #[serde(rename_all = "camelCase")]
    EmailChanged { username: String, new_email: String },
}

/// One mail in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub id: String,
    pub organization_id: String,
    pub to: String,
    pub letter: Letter,
    pub created_at: String,
    /// Handed to the transport (or found to need no message); later stream retries do nothing.
    #[serde(default)]
    pub sent: bool,
    #[serde(skip)]
    pub version: u64,
}

impl Mail {
    pub fn new(organization_id: &str, to: &str, letter: Letter) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: organization_id.to_owned(),
            to: to.to_owned(),
            letter,
            created_at: now_rfc3339(),
            sent: false,
            version: 0,
        }
    }

    pub fn key_of(id: &str) -> Key {
        Key::new(format!("{KEY_PREFIX}{id}"), "MAIL")
    }

    /// The write that puts the mail in its change's transaction.
    pub fn write(&self) -> Result<Write, Error> {
        Ok(Write::Put(self.to_item()?, Condition::Absent))
    }
}

impl Record for Mail {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn expires_at(&self) -> Option<i64> {
        Some(unix_now() + MAIL_TTL_SECONDS)
    }
    versioned!();
}

/// What became of a mail item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Nothing to send: no account has the address, it is locked, or the request was revoked.
    NotNeeded,
    /// Already sent, or gone (expired): a repeated stream record.
    AlreadyDone,
}

impl Identities {
    /// Sends mail `id` through `transport`, once: a stream retry of a sent mail does nothing, and a failed
    /// send leaves it unsent (with no usable token) for the retry.
    pub async fn send_mail(&self, id: &str, transport: &Transport) -> Result<Outcome, Error> {
        let claimed = optimistic!(MAX_RETRIES, MAIL_BUSY, {
            let Some(mail) = self.store.load::<Mail>(&Mail::key_of(id)).await? else {
                return Ok(None);
            };
            if mail.sent {
                return Ok(None);
            }
            let sent = Mail {
                sent: true,
                ..mail.clone()
            };
            let mut writes = vec![Write::Put(
                sent.to_item()?,
                Condition::Version(mail.version),
            )];
            let message = match &mail.letter {
                Letter::PasswordReset { request_id } => {
                    self.reset_letter(&mail, request_id, &mut writes).await?
                }
                Letter::EmailChanged {
                    username,
                    new_email,
                } => Some(email_changed(&mail.to, username, new_email)),
            };
            self.store.transact(writes.clone()).await?;
            Ok(Some((mail.version + 1, message, writes)))
        })?;
        let Some((version, message, writes)) = claimed else {
            return Ok(Outcome::AlreadyDone);
        };
        let Some(message) = message else {
            return Ok(Outcome::NotNeeded);
        };
        if let Err(e) = transport.send(&message).await {
            self.unsend(id, version, &writes).await;
            return Err(e);
        }
        Ok(Outcome::Sent)
    }

    /// A reset mail's message, with the token, event and request update it adds to `writes`; `None` when
    /// there is no account to reset (or it is locked, or the request was revoked).
    async fn reset_letter(
        &self,
        mail: &Mail,
        request_id: &str,
        writes: &mut Vec<Write>,
    ) -> Result<Option<Message>, Error> {
        let org = &mail.organization_id;
        let request = self
            .store
            .load::<AccountRequest>(&AccountRequest::key_of(request_id))
            .await?;
        let identity: Option<Identity> = match self
            .store
            .load::<Marker>(&Marker::email_key(org, &mail.to))
            .await?
        {
            Some(marker) => self.identity(&marker.identity_id).await?,
            None => None,
        };
        let (Some(request), Some(identity)) = (request, identity.filter(|i| !i.locked)) else {
            return Ok(None);
        };
        let secret = secrets::generate("sb_ott_");
        let expires_at = unix_now() + self.mail.password_reset_seconds;
        let mut properties = Map::new();
        properties.insert("requestId".into(), json!(request.id));
        let token = OneTimeToken {
            id: secrets::digest(&secret),
            kind: PASSWORD_RESET.into(),
            identity_id: identity.id.clone(),
            organization_id: identity.organization_id.clone(),
            created_at: now_rfc3339(),
            expires_at,
            properties,
            version: 0,
        };
        let updated = AccountRequest {
            account_id: Some(identity.id.clone()),
            token_id: Some(token.id.clone()),
            ..request.clone()
        };
        writes.push(Write::Put(token.to_item()?, Condition::Absent));
        writes.push(Write::Put(
            updated.to_item()?,
            Condition::Version(request.version),
        ));
        // Told once per request, though a failed send makes a new token on its retry.
        if request.token_id.is_none() {
            writes.push(
                Event::new(
                    EventName::AccountPasswordResetRequested,
                    org,
                    json!({
                        "accountId": identity.id,
                        "requestId": request.id,
                        "expiresAt": unix_to_rfc3339(expires_at),
                    }),
                )
                .write()?,
            );
        }
        Ok(Some(self.reset_message(mail, &identity.username, &secret)))
    }

    fn reset_message(&self, mail: &Mail, username: &str, secret: &str) -> Message {
        let minutes = (self.mail.password_reset_seconds + 59) / 60;
        let link = self.mail.reset_link(secret);
        Message {
            to: mail.to.clone(),
            subject: "Reset your password".into(),
            text: format!(
                "Someone asked to reset the password of the account {username}.\n\n\
                 To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
                 It works once. If you did not ask for it, ignore this mail: your password stays as it is.\n"
            ),
        }
    }

    /// Undoes a claim whose message did not go: the mail is unsent again, for the stream's retry. The token
    /// it made was never seen by anyone and expires unused. Best effort: the mail's TTL bounds what is left.
    async fn unsend(&self, id: &str, version: u64, claim: &[Write]) {
        let sent = claim.iter().find_map(|write| match write {
            Write::Put(item, _) if item.key == Mail::key_of(id) => Mail::from_item(item).ok(),
            _ => None,
        });
        let Some(mail) = sent else { return };
        let unsent = Mail {
            sent: false,
            ..mail
        };
        let undo = match unsent.to_item() {
            Ok(item) => Write::Put(item, Condition::Version(version)),
            Err(_) => return,
        };
        if let Err(e) = self.store.transact(vec![undo]).await {
            tracing::warn!(mail = id, error = %e, "could not mark an unsent mail as unsent");
        }
    }
}

/// The notice to an address that stopped being an account's email.
fn email_changed(to: &str, username: &str, new_email: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: "Your email address was changed".into(),
        text: format!(
            "The email address of the account {username} was changed from this address to {}.\n\n\
             If you did not make this change, reset your password and contact your administrator.\n",
            mask(new_email)
        ),
    }
}

/// `robin@example.com` as `r****@example.com`: enough for the owner to recognise it, not to read it.
pub fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}****@{domain}")
        }
        None => "****".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_new_address() {
        assert_eq!(mask("robin@example.com"), "r****@example.com");
        assert_eq!(mask("é@x.io"), "é****@x.io");
        let notice = email_changed("old@example.com", "robin", "new@example.com");
        assert!(notice.text.contains("n****@example.com"));
        assert!(!notice.text.contains("new@example.com"));
    }

    #[test]
    fn letters_round_trip() {
        let mail = Mail::new(
            "org",
            "a@b.c",
            Letter::PasswordReset {
                request_id: "r1".into(),
            },
        );
        let item = mail.to_item().unwrap();
        assert_eq!(Mail::from_item(&item).unwrap().letter, mail.letter);
    }
}
