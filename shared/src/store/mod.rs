//! Storage port: the few capabilities the domain needs from a key-value store with conditional writes.
//!
//! Two adapters implement it with the same semantics: [`dynamodb::DynamoStore`] (production) and
//! [`embedded::EmbeddedStore`] (local runs, backed by redb). `tests/` runs one conformance suite against both.
//! The item layout and every access pattern are described in `docs/data-model.md`.

mod cursor;
pub mod dynamodb;
pub mod embedded;
mod record;
mod retry;
pub mod stream;
pub mod table;
mod traced;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cursor::CursorCodec;
pub use record::Record;
pub(crate) use record::versioned;
pub use retry::{Backoff, RetryConflicts};
pub use traced::Traced;

/// DynamoDB caps a transaction at 100 items; both adapters enforce the same cap so code that works locally
/// works in AWS.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// The largest body an item may hold, as JSON text: DynamoDB's item limit is 400 KB, keys included.
pub const MAX_BODY_BYTES: usize = 350_000;
/// DynamoDB refuses a transaction whose items add up to more than 4 MB; both adapters refuse it the same
/// way (counting bodies and keys plus a margin per item for the other attributes).
pub const MAX_TRANSACTION_BYTES: usize = 4_000_000;
const ITEM_OVERHEAD_BYTES: usize = 200;
/// DynamoDB's limits on key values (bytes): 2048 for a partition key, 1024 for a sort key.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;

/// The largest page a query returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Primary key of an item (or, for the index, its index key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One stored item: its key, optimistic-locking version, optional expiry and index key, and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    /// Set by the store: 1 on create, +1 on every update. An update must carry the version it read.
    pub version: u64,
    /// Unix seconds after which the item no longer exists for readers or conditions (the table's TTL).
    pub expires_at: Option<i64>,
    /// Key in the `gsi1` index, for access patterns the primary key cannot serve.
    pub index: Option<Key>,
    pub body: Value,
}

impl Item {
    pub fn new(key: Key, body: Value) -> Self {
        Self {
            key,
            version: 0,
            expires_at: None,
            index: None,
            body,
        }
    }

    pub fn expiring_at(mut self, unix_seconds: i64) -> Self {
        self.expires_at = Some(unix_seconds);
        self
    }

    pub fn indexed(mut self, index: Key) -> Self {
        self.index = Some(index);
        self
    }

    /// Expired items are invisible: DynamoDB deletes them up to days late, so every read checks.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }

    /// Decode the body into a domain record.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_value(self.body.clone())
            .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", self.key.pk, self.key.sk)))
    }
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// No live item has this key (an expired one counts as absent).
    Absent,
    /// A live item with exactly this version exists.
    Version(u64),
    /// A live item exists, whatever its version.
    Exists,
}

/// One part of a transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Create (`Absent`) or replace (`Version`/`Exists`) the item; the stored version becomes
    /// 1 on create and `current + 1` otherwise.
    Put(Item, Condition),
    Delete(Key, Condition),
    /// Writes nothing, but the transaction fails unless the condition holds, with
    /// [`StoreError::CheckFailed`]: a guard the caller can tell apart from the other writes' conditions.
    Check(Key, Condition),
}

impl Write {
    pub fn key(&self) -> &Key {
        match self {
            Write::Put(item, _) => &item.key,
            Write::Delete(key, _) | Write::Check(key, _) => key,
        }
    }
}

/// Which key a query walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    #[default]
    Primary,
    Gsi1,
}

/// Items of one partition whose sort key starts with `prefix`, in sort-key order.
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub prefix: String,
    pub limit: u32,
    pub descending: bool,
    /// The opaque cursor a previous page returned.
    pub cursor: Option<String>,
}

impl Query {
    pub fn new(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: partition.into(),
            prefix: String::new(),
            limit: 100,
            descending: false,
            cursor: None,
        }
    }

    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }

    fn page_size(&self) -> u32 {
        self.limit.clamp(1, MAX_PAGE_SIZE)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back in [`Query::after`].
    pub cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write condition did not hold (for a transaction: at least one of them). Nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// The condition of the transaction's [`Write::Check`] at this index did not hold (a failed check is
    /// reported before any other failed condition). Nothing was written.
    #[error("check {0} failed")]
    CheckFailed(usize),
    /// Another writer touched the same items at the same moment; nothing was written and a retry may succeed.
    #[error("conflicting concurrent write")]
    Conflict,
    /// The cursor was not issued for this query, or was altered.
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// An item, key or transaction is larger than the store accepts; nothing was written.
    #[error("item or key too large")]
    TooLarge,
    /// A key (or index key) part is empty, which DynamoDB refuses; nothing was written.
    #[error("empty key")]
    EmptyKey,
    /// The request itself is wrong (too many items in a transaction, the same key twice).
    #[error("invalid store request: {0}")]
    Invalid(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    /// The store could not be reached, throttled the request or did not answer in time; nothing is known
    /// to have been written and the same request may succeed shortly (503). The text is for logs only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request for a reason a retry does not fix (500). The text is for logs only.
    #[error("store failed: {0}")]
    Failed(String),
}

/// The storage capabilities, each a single round trip to the backing store.
#[async_trait]
pub trait Store: Send + Sync {
    /// A strongly consistent read; an expired item is `None`.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Strongly consistent reads of many keys at once; missing and expired keys are left out, order is not kept.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// All writes happen or none does.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// Create-if-absent. Returns the stored item (version 1).
    async fn create(&self, mut item: Item) -> Result<Item, StoreError> {
        self.transact(vec![Write::Put(item.clone(), Condition::Absent)])
            .await?;
        item.version = 1;
        Ok(item)
    }

    /// Replace an item whose stored version is still `item.version`. Returns it with the new version.
    async fn update(&self, mut item: Item) -> Result<Item, StoreError> {
        self.transact(vec![Write::Put(
            item.clone(),
            Condition::Version(item.version),
        )])
        .await?;
        item.version += 1;
        Ok(item)
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.transact(vec![Write::Delete(key.clone(), condition)])
            .await
    }
}

impl dyn Store + '_ {
    /// The record at `key`, typed: one strongly consistent read.
    pub async fn load<T: Record>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get(key)
            .await?
            .map(|item| T::from_item(&item))
            .transpose()
    }
}

/// Rejects requests both backends must refuse the same way (DynamoDB rejects them; redb would not).
pub(crate) fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_ITEMS} writes, not {}",
            writes.len()
        )));
    }
    let mut total = 0;
    for write in writes {
        let index = match write {
            Write::Put(item, _) => item.index.as_ref(),
            _ => None,
        };
        let keys = || std::iter::once(write.key()).chain(index);
        if keys().any(|k| k.pk.is_empty() || k.sk.is_empty()) {
            return Err(StoreError::EmptyKey);
        }
        if !keys().all(within_limits) {
            return Err(StoreError::TooLarge);
        }
        total += keys().map(|k| k.pk.len() + k.sk.len()).sum::<usize>() + ITEM_OVERHEAD_BYTES;
        if let Write::Put(item, _) = write {
            let body = serde_json::to_vec(&item.body).map_or(usize::MAX, |b| b.len());
            if body > MAX_BODY_BYTES {
                return Err(StoreError::TooLarge);
            }
            total += body;
        }
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(StoreError::TooLarge);
    }
    let mut keys: Vec<&Key> = writes.iter().map(Write::key).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(StoreError::Invalid(
            "a transaction names the same key twice".into(),
        ));
    }
    Ok(())
}

fn within_limits(key: &Key) -> bool {
    key.pk.len() <= MAX_PARTITION_KEY_BYTES && key.sk.len() <= MAX_SORT_KEY_BYTES
}

/// Whether a key could have been written: within the limits and not empty. Reads of any other key find
/// nothing (instead of failing the way DynamoDB does).
pub(crate) fn storable(key: &Key) -> bool {
    !key.pk.is_empty() && !key.sk.is_empty() && within_limits(key)
}

/// Whether a query could find anything: a partition that could have been written, a prefix within limits.
pub(crate) fn queryable(query: &Query) -> bool {
    !query.partition.is_empty() && within_limits(&Key::new(&*query.partition, &*query.prefix))
}
