//! What a deleted account leaves in the built-in CRM. Deleting an account removes its identity in one
//! transaction; its CRM data (the identity's partition: contacts, call logs, messages, cached notes,
//! connections, settings) and its contacts' phone entries can be any size, so they go afterwards, from the
//! table's stream (`push-dispatch`, on the identity's removal), a page at a time. No write can add to them
//! by then: every CRM write is guarded by the identity's existence ([`super::Owner`]).

use std::time::Duration;

use super::phone;
use super::records::{Contact, PhoneEntry};
use crate::deadline;
use crate::error::Error;
use crate::identity::Identity;
use crate::store::{Condition, Item, Key, MAX_TRANSACTION_ITEMS, Query, Record, Store, Write};

/// Items of the partition read and deleted at a time: with one phone entry per contact, a page is one
/// transaction.
const PAGE: u32 = (MAX_TRANSACTION_ITEMS / 2) as u32;

/// The time a page needs (a query, a read and a transaction), so an invocation stops before its end.
pub const PAGE_TIME: Duration = Duration::from_secs(2);

/// What became of a deleted account's CRM data.
#[derive(Debug, PartialEq, Eq)]
pub enum Forgotten {
    /// All of it is gone (this many items).
    All(usize),
    /// The invocation ran out of time after deleting this many: running it again goes on from there.
    Partly(usize),
}

/// Deletes what identity `identity_id` (already deleted) left in the built-in CRM.
pub async fn forget(store: &dyn Store, identity_id: &str) -> Result<Forgotten, Error> {
    let partition = Identity::key_of(identity_id).pk;
    let mut cursor = None;
    let mut deleted = 0;
    loop {
        if !deadline::has(PAGE_TIME) {
            return Ok(Forgotten::Partly(deleted));
        }
        let page = store
            .query(&Query::new(partition.as_str()).limit(PAGE).after(cursor))
            .await?;
        let entries = phone_entries(identity_id, &page.items);
        let found = match entries.is_empty() {
            true => Vec::new(),
            false => store.batch_get(&entries).await?,
        };
        // At the versions read: a conflict fails the page, which the stream then hands back.
        let writes: Vec<Write> = page
            .items
            .iter()
            .chain(&found)
            .map(|item| Write::Delete(item.key.clone(), Condition::Version(item.version)))
            .collect();
        deleted += writes.len();
        for chunk in writes.chunks(MAX_TRANSACTION_ITEMS) {
            store.transact(chunk.to_vec()).await?;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Forgotten::All(deleted)),
        }
    }
}

/// The keys of the phone entries of the contacts among `items`.
fn phone_entries(owner: &str, items: &[Item]) -> Vec<Key> {
    items
        .iter()
        .filter(|item| item.key.sk.starts_with(Contact::SORT_PREFIX))
        .filter_map(|item| {
            let mut contact = Contact::from_item(item).ok()?;
            contact.owner = owner.to_owned();
            let phone_key = phone::key(&contact.phone)?;
            let entry = PhoneEntry {
                contact,
                phone_key,
                version: 0,
            };
            Some(entry.key())
        })
        .collect()
}
