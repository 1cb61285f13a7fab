//! What a deleted account leaves behind, and its removal. Deleting an account removes its identity in one
//! transaction, with a small [`Identity::remains_key`] item naming its organization. The rest can be any
//! size, so it goes afterwards, from the table's stream (`push-dispatch`, on the identity's removal):
//! first its personal API keys, sessions and one-time tokens (listed per organization, hence the item),
//! then its partition (the CRM's contacts, call logs, messages, cached notes, connections and settings, its
//! last-seen mark, the item itself) and its contacts' phone entries. Nothing adds to them by then: every
//! write to them is guarded by the identity's existence, or needs a signed-in identity.

use std::time::Duration;

use crate::crm::phone;
use crate::crm::records::{Contact, PhoneEntry};
use crate::deadline;
use crate::error::Error;
use crate::identity::Identity;
use crate::store::{
    Condition, Index, Item, Key, MAX_TRANSACTION_ITEMS, Query, Record, Store, StoreError, Write,
};

/// Items read and deleted at a time: with one phone entry per contact, a page is one transaction.
const PAGE: u32 = (MAX_TRANSACTION_ITEMS / 2) as u32;

/// The time a page needs (a query, a read and a transaction), so an invocation stops before its end.
pub const PAGE_TIME: Duration = Duration::from_secs(2);

/// The per-organization indexes listing an identity's items outside its partition, by owner.
const OWNED: [&str; 3] = ["APIKEYS", "SESSIONS", "TOKENS"];

/// What became of a deleted account's remains.
#[derive(Debug, PartialEq, Eq)]
pub enum Forgotten {
    /// All of it is gone (this many items).
    All(usize),
    /// The invocation ran out of time after deleting this many: running it again goes on from there.
    Partly(usize),
}

/// Deletes what identity `identity_id` (already deleted) left behind.
pub async fn forget(store: &dyn Store, identity_id: &str) -> Result<Forgotten, Error> {
    let mut deleted = 0;
    // Gone once the partition is: an earlier run got this far.
    if let Some(remains) = store.get(&Identity::remains_key(identity_id)).await? {
        let org = remains.body["organizationId"]
            .as_str()
            .ok_or_else(|| StoreError::Corrupt(format!("{}: no organizationId", remains.key.pk)))?;
        for kind in OWNED {
            let query = Query::new(format!("ORG#{org}#{kind}"))
                .on(Index::Gsi1)
                .prefix(format!("{identity_id}#"));
            if !delete_pages(store, query, &mut deleted, |_| Vec::new()).await? {
                return Ok(Forgotten::Partly(deleted));
            }
        }
    }
    let partition = Query::new(Identity::key_of(identity_id).pk);
    let entries = |items: &[Item]| phone_entries(identity_id, items);
    Ok(
        match delete_pages(store, partition, &mut deleted, entries).await? {
            true => Forgotten::All(deleted),
            false => Forgotten::Partly(deleted),
        },
    )
}

/// Deletes every item `query` finds, a page at a time, with the keys `also` names for each page (those
/// found); counts them in `deleted`. `false` when time ran out first.
async fn delete_pages(
    store: &dyn Store,
    query: Query,
    deleted: &mut usize,
    also: impl Fn(&[Item]) -> Vec<Key>,
) -> Result<bool, Error> {
    let mut cursor = None;
    loop {
        if !deadline::has(PAGE_TIME) {
            return Ok(false);
        }
        let page = store
            .query(&query.clone().limit(PAGE).after(cursor))
            .await?;
        let keys = also(&page.items);
        let found = match keys.is_empty() {
            true => Vec::new(),
            false => store.batch_get(&keys).await?,
        };
        // At the versions read: a conflict fails the page, which the stream then hands back.
        let writes: Vec<Write> = page
            .items
            .iter()
            .chain(&found)
            .map(|item| Write::Delete(item.key.clone(), Condition::Version(item.version)))
            .collect();
        *deleted += writes.len();
        for chunk in writes.chunks(MAX_TRANSACTION_ITEMS) {
            store.transact(chunk.to_vec()).await?;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(true),
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
