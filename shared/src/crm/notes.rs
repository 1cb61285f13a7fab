//! `POST /callLog/cacheNote`: a note typed while a call was going on, kept for a day so that a log written
//! without a note (auto-logging, a log from another device) still carries it. The note is read with the
//! token check ([`Crm::authenticate_with`]) by both routes, so neither pays an extra round trip for it.

use super::records::{CachedNote, CallLog};
use super::{Crm, LoggedCall, Refreshed};
use crate::error::Error;
use crate::store::{Condition, Item, Key, Write};
use crate::store::{Record, Store};
use crate::time::unix_now;

/// How long a cached note waits for its call to be logged.
pub const NOTE_TTL_SECONDS: i64 = 24 * 3600;

/// The key of the note cached for a call session.
pub fn cached_note_key(owner: &str, session_id: &str) -> Key {
    CachedNote::key_of(owner, session_id)
}

fn find(items: &[Item]) -> Option<&Item> {
    items.iter().find(|i| i.key.sk.starts_with("NOTE#"))
}

/// The note among `items` read by [`cached_note_key`], if one is cached.
pub fn cached_note(items: &[Item]) -> Result<Option<String>, Error> {
    Ok(find(items)
        .map(|i| CachedNote::from_item(i).map(|n| n.note))
        .transpose()?)
}

impl Crm {
    /// `POST /callLog` as the token's owner, the token check inside the write. A log without a note takes
    /// the one cached for its session: the write is guarded by "no note is cached", so the usual case is one
    /// round trip; when one is, it is read and the log written with it.
    pub async fn log_call(
        &self,
        token: &str,
        mut log: CallLog,
    ) -> Result<(Refreshed, LoggedCall), Error> {
        let session = log.session_id.clone();
        let no_note = |owner: &str| match log.note.is_empty() {
            true => vec![Write::Check(
                cached_note_key(owner, &session),
                Condition::Absent,
            )],
            false => Vec::new(),
        };
        let first = log.clone();
        let logged = self
            .write_as(token, no_note, |owner| async move {
                self.connector.create_call_log(&owner, first).await
            })
            .await;
        let Err(Error::Refused(0)) = logged else {
            return logged;
        };
        let owner = self.verify(token)?.id;
        let store: &dyn Store = self.store.as_ref();
        if let Some(note) = store
            .load::<CachedNote>(&cached_note_key(&owner, &session))
            .await?
        {
            log.note = note.note;
        }
        self.write_as(
            token,
            |_| Vec::new(),
            |owner| async move { self.connector.create_call_log(&owner, log).await },
        )
        .await
    }

    /// Keeps `note` for `session_id` for [`NOTE_TTL_SECONDS`], replacing the one among `read` (the items read
    /// by [`cached_note_key`]).
    pub async fn cache_note(
        &self,
        owner: &str,
        session_id: &str,
        note: &str,
        read: &[Item],
    ) -> Result<(), Error> {
        super::upsert(
            self.store.as_ref(),
            owner,
            find(read),
            |_: Option<CachedNote>| {
                Ok(CachedNote {
                    session_id: session_id.to_owned(),
                    note: note.to_owned(),
                    expires_at: unix_now() + NOTE_TTL_SECONDS,
                    owner: owner.to_owned(),
                    version: 0,
                })
            },
        )
        .await
        .map(drop)
    }
}
