//! The table's stream, as the local server has it. In AWS, DynamoDB Streams hands `push-dispatch` the
//! removals of identities (template.yaml filters them), whose devices, endpoints and preferences it then
//! deletes, and the rest the account left (`remains::forget`). Locally this store layer does the same: after
//! a transaction commits, the keys it deleted go to the same handler in process, as KEYS_ONLY `REMOVE`
//! records, and the handler keeps the ones it acts on.
//! (Inserted notifications reach it through `Push::on_recorded`.) Inserted mail items go to `mail-send`'s
//! handler the same way, as `INSERT` records, as the stream's filter hands them to it in AWS.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use switchboard::identity::mail::KEY_PREFIX as MAIL_PREFIX;
use switchboard::store::stream::keys_only;
use switchboard::store::{Condition, Item, Key, Page, Query, Store, StoreError, Write};

pub struct TableStream {
    inner: Arc<dyn Store>,
    dispatcher: OnceLock<Arc<push_dispatch::State>>,
    mailroom: OnceLock<Arc<mail_send::State>>,
}

impl TableStream {
    pub fn over(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            dispatcher: OnceLock::new(),
            mailroom: OnceLock::new(),
        })
    }

    /// Removals from now on go to `dispatcher` (built over this store, hence set afterwards).
    pub fn deliver_to(&self, dispatcher: Arc<push_dispatch::State>) {
        // Set once, by `Functions::with_push`.
        let _ = self.dispatcher.set(dispatcher);
    }

    /// Inserted mail from now on goes to `mailroom` (built over this store, hence set afterwards).
    pub fn mail_to(&self, mailroom: Arc<mail_send::State>) {
        // Set once, by `Functions::with_push`.
        let _ = self.mailroom.set(mailroom);
    }
}

#[async_trait]
impl Store for TableStream {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let removed: Vec<Key> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Delete(key, _) => Some(key.clone()),
                _ => None,
            })
            .collect();
        let mail: Vec<Key> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Put(item, Condition::Absent) if item.key.pk.starts_with(MAIL_PREFIX) => {
                    Some(item.key.clone())
                }
                _ => None,
            })
            .collect();
        self.inner.transact(writes).await?;
        if let (Some(dispatcher), false) = (self.dispatcher.get(), removed.is_empty()) {
            let event = push_dispatch::stream_event(removed.iter().map(|key| ("REMOVE", key)));
            tokio::spawn(push_dispatch::handle(dispatcher.clone(), event));
        }
        if let (Some(mailroom), false) = (self.mailroom.get(), mail.is_empty()) {
            let event = keys_only(mail.iter().map(|key| ("INSERT", key)));
            tokio::spawn(mail_send::handle(mailroom.clone(), event));
        }
        Ok(())
    }
}
