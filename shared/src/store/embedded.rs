//! The embedded adapter: redb in the process, one file under the data directory, the same semantics as the
//! DynamoDB adapter. redb serialises write transactions, so a condition checked inside one holds at commit.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
#[cfg(feature = "test-hooks")]
use std::sync::Mutex;
#[cfg(feature = "test-hooks")]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "test-hooks")]
use std::time::{Duration, Instant};

use async_trait::async_trait;
#[cfg(feature = "test-hooks")]
use redb::ReadTransaction;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Condition, CursorCodec, Index, Item, Key, Page, Query, Store, StoreError, Write, queryable,
    storable, validate_transaction,
};
use crate::time::unix_now;

/// (pk, sk) → the stored item.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// (gsi1pk, gsi1sk, pk, sk) → nothing: the index, kept in the same transaction as the items.
const GSI1: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("gsi1");
/// Sorts after every character a key may hold; closes a prefix range.
const PREFIX_END: char = char::MAX;

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1: Option<Key>,
    body: Value,
}

impl Stored {
    fn into_item(self, key: Key) -> Item {
        Item {
            key,
            version: self.v,
            expires_at: self.ttl,
            index: self.gsi1,
            body: self.body,
        }
    }
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    cursors: CursorCodec,
    #[cfg(feature = "test-hooks")]
    conflicts: Option<Arc<ConflictEvery>>,
    #[cfg(feature = "test-hooks")]
    index_lag: Option<Arc<IndexLag>>,
}

/// Test option (feature `test-hooks`): DynamoDB's `gsi1` is eventually consistent, redb's index is not;
/// this serves index queries from a snapshot of the database up to `lag` old, so a write may be missing
/// from them for that long.
#[cfg(feature = "test-hooks")]
#[derive(Debug)]
struct IndexLag {
    lag: Duration,
    snapshot: Mutex<Option<(Instant, ReadTransaction)>>,
}

/// Test option (feature `test-hooks`): DynamoDB cancels a transaction that meets another one on the same
/// items (`TransactionConflict`); redb serialises writers and never does, so this makes every `n`-th write
/// fail with [`StoreError::Conflict`] (writing nothing) to exercise the paths that handle it.
#[cfg(feature = "test-hooks")]
#[derive(Debug)]
struct ConflictEvery {
    n: u64,
    writes: AtomicU64,
}

/// A local database error (disk, file lock) is not something a client's retry fixes: 500.
fn failed(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Failed(e.into().to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the database file `switchboard.redb` in `dir`, with the default page cache.
    pub fn open(dir: &Path, cursors: CursorCodec) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, cursors, crate::config::DEFAULT_EMBEDDED_CACHE_BYTES)
    }

    /// As [`EmbeddedStore::open`], with a page cache of `cache_bytes`.
    pub fn open_with_cache(
        dir: &Path,
        cursors: CursorCodec,
        cache_bytes: usize,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(failed)?;
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(dir.join("switchboard.redb"))
            .map_err(failed)?;
        let tx = db.begin_write().map_err(failed)?;
        tx.open_table(ITEMS).map_err(failed)?;
        tx.open_table(GSI1).map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok(Self {
            db: Arc::new(db),
            cursors,
            #[cfg(feature = "test-hooks")]
            conflicts: None,
            #[cfg(feature = "test-hooks")]
            index_lag: None,
        })
    }

    /// Index queries see the database as it was up to `lag` ago, as DynamoDB's `gsi1` may. For tests
    /// (feature `test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn with_index_lag(mut self, lag: Duration) -> Self {
        self.index_lag = Some(Arc::new(IndexLag {
            lag,
            snapshot: Mutex::new(None),
        }));
        self
    }

    /// Every `n`-th write (transaction) fails with [`StoreError::Conflict`] and writes nothing, as a
    /// DynamoDB transaction conflict would. For tests (feature `test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn with_conflicts_every(mut self, n: u64) -> Self {
        self.conflicts = Some(Arc::new(ConflictEvery {
            n: n.max(1),
            writes: AtomicU64::new(0),
        }));
        self
    }

    /// Reads run where they are awaited: a read transaction never waits for a writer (redb is MVCC) and
    /// takes microseconds, less than a round trip through the blocking pool (two thread switches).
    async fn read<T>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        work(&self.db)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Failed(e.to_string()))?
    }
}

fn read_item(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    key: &Key,
    now: i64,
) -> Result<Option<Item>, StoreError> {
    let Some(raw) = table
        .get((key.pk.as_str(), key.sk.as_str()))
        .map_err(failed)?
    else {
        return Ok(None);
    };
    let stored: Stored = serde_json::from_slice(raw.value())
        .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", key.pk, key.sk)))?;
    let item = stored.into_item(key.clone());
    Ok(item.is_live(now).then_some(item))
}

fn holds(condition: Condition, current: Option<&Item>) -> bool {
    match (condition, current) {
        (Condition::Absent, current) => current.is_none(),
        (Condition::Exists, current) => current.is_some(),
        (Condition::Version(v), Some(item)) => item.version == v,
        (Condition::Version(_), None) => false,
    }
}

type KeyRange<'a> = (Bound<(&'a str, &'a str)>, Bound<(&'a str, &'a str)>);

/// The key range of one partition and sort-key prefix, starting after `after` when paging.
fn bounds<'a>(
    partition: &'a str,
    prefix: &'a str,
    end: &'a str,
    after: Option<&'a str>,
    descending: bool,
) -> KeyRange<'a> {
    let low = Bound::Included((partition, prefix));
    let high = Bound::Excluded((partition, end));
    match (after, descending) {
        (None, _) => (low, high),
        (Some(sk), false) => (Bound::Excluded((partition, sk)), high),
        (Some(sk), true) => (low, Bound::Excluded((partition, sk))),
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if !storable(key) {
            return Ok(None);
        }
        let key = key.clone();
        self.read(move |db| {
            let tx = db.begin_read().map_err(failed)?;
            let items = tx.open_table(ITEMS).map_err(failed)?;
            read_item(&items, &key, unix_now())
        })
        .await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Key> = keys.iter().filter(|k| storable(k)).cloned().collect();
        self.read(move |db| {
            let tx = db.begin_read().map_err(failed)?;
            let items = tx.open_table(ITEMS).map_err(failed)?;
            let now = unix_now();
            let mut found = Vec::with_capacity(keys.len());
            for key in &keys {
                found.extend(read_item(&items, key, now)?);
            }
            Ok(found)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if !queryable(query) {
            return Ok(Page::default());
        }
        let position = self.cursors.decode(query)?;
        let query = query.clone();
        let cursors = self.cursors.clone();
        #[cfg(feature = "test-hooks")]
        let lag = self
            .index_lag
            .clone()
            .filter(|_| query.index == Index::Gsi1);
        self.read(move |db| {
            #[cfg(not(feature = "test-hooks"))]
            let tx = &db.begin_read().map_err(failed)?;
            #[cfg(feature = "test-hooks")]
            let (mut snapshot, fresh);
            #[cfg(feature = "test-hooks")]
            let tx: &ReadTransaction = match &lag {
                Some(lag) => {
                    snapshot = lag
                        .snapshot
                        .lock()
                        .map_err(|e| StoreError::Failed(e.to_string()))?;
                    if snapshot
                        .as_ref()
                        .is_none_or(|(at, _)| at.elapsed() >= lag.lag)
                    {
                        *snapshot = Some((Instant::now(), db.begin_read().map_err(failed)?));
                    }
                    match snapshot.as_ref() {
                        Some((_, tx)) => tx,
                        None => return Err(StoreError::Failed("no index snapshot".into())),
                    }
                }
                None => {
                    fresh = db.begin_read().map_err(failed)?;
                    &fresh
                }
            };
            let items = tx.open_table(ITEMS).map_err(failed)?;
            let want = query.page_size() as usize;
            let end = format!("{}{PREFIX_END}", query.prefix);
            let now = unix_now();
            let mut page = Vec::with_capacity(want + 1);
            match query.index {
                Index::Primary => {
                    let after = position.as_ref().map(|p| p.last.sk.as_str());
                    let range = items
                        .range(bounds(
                            &query.partition,
                            &query.prefix,
                            &end,
                            after,
                            query.descending,
                        ))
                        .map_err(failed)?;
                    let keys: Box<dyn Iterator<Item = _>> = if query.descending {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for entry in keys {
                        let (k, v) = entry.map_err(failed)?;
                        let (pk, sk) = k.value();
                        let stored: Stored = serde_json::from_slice(v.value())
                            .map_err(|e| StoreError::Corrupt(format!("{pk}/{sk}: {e}")))?;
                        let item = stored.into_item(Key::new(pk, sk));
                        if item.is_live(now) {
                            page.push(item);
                            if page.len() > want {
                                break;
                            }
                        }
                    }
                }
                Index::Gsi1 => {
                    let gsi = tx.open_table(GSI1).map_err(failed)?;
                    let p = query.partition.as_str();
                    let (low, high) = match &position {
                        Some(at) => {
                            let ix = at.index.as_ref().ok_or(StoreError::InvalidCursor)?;
                            let after =
                                (p, ix.sk.as_str(), at.last.pk.as_str(), at.last.sk.as_str());
                            if query.descending {
                                (
                                    Bound::Included((p, query.prefix.as_str(), "", "")),
                                    Bound::Excluded(after),
                                )
                            } else {
                                (
                                    Bound::Excluded(after),
                                    Bound::Excluded((p, end.as_str(), "", "")),
                                )
                            }
                        }
                        None => (
                            Bound::Included((p, query.prefix.as_str(), "", "")),
                            Bound::Excluded((p, end.as_str(), "", "")),
                        ),
                    };
                    let range = gsi.range((low, high)).map_err(failed)?;
                    let keys: Box<dyn Iterator<Item = _>> = if query.descending {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for entry in keys {
                        let (k, _) = entry.map_err(failed)?;
                        let (_, _, pk, sk) = k.value();
                        if let Some(item) = read_item(&items, &Key::new(pk, sk), now)? {
                            page.push(item);
                            if page.len() > want {
                                break;
                            }
                        }
                    }
                }
            }
            let cursor = if page.len() > want {
                page.truncate(want);
                page.last().map(|last| cursors.encode(&query, last))
            } else {
                None
            };
            Ok(Page {
                items: page,
                cursor,
            })
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        #[cfg(feature = "test-hooks")]
        if let Some(c) = &self.conflicts
            && (c.writes.fetch_add(1, Ordering::SeqCst) + 1) % c.n == 0
        {
            return Err(StoreError::Conflict);
        }
        self.blocking(move |db| {
            let tx = db.begin_write().map_err(failed)?;
            {
                let mut items = tx.open_table(ITEMS).map_err(failed)?;
                let mut gsi = tx.open_table(GSI1).map_err(failed)?;
                let now = unix_now();
                // Check every condition before writing anything; dropping `tx` uncommitted rolls back.
                let mut current = Vec::with_capacity(writes.len());
                let mut refused = None;
                for (at, write) in writes.iter().enumerate() {
                    let (Write::Put(_, cond) | Write::Delete(_, cond) | Write::Check(_, cond)) =
                        write;
                    let existing = read_item(&items, write.key(), now)?;
                    if !holds(*cond, existing.as_ref()) {
                        if matches!(write, Write::Check(..)) {
                            return Err(StoreError::CheckFailed(at));
                        }
                        refused = Some(StoreError::ConditionFailed);
                    }
                    current.push(existing);
                }
                if let Some(refused) = refused {
                    return Err(refused);
                }
                for (write, existing) in writes.into_iter().zip(current) {
                    let key = write.key().clone();
                    if matches!(write, Write::Check(..)) {
                        continue;
                    }
                    // Whatever was there (even expired) leaves the index; a put adds its own entry back.
                    let raw_old = items
                        .remove((key.pk.as_str(), key.sk.as_str()))
                        .map_err(failed)?
                        .map(|old| old.value().to_vec());
                    let old_index = raw_old
                        .and_then(|raw| serde_json::from_slice::<Stored>(&raw).ok())
                        .and_then(|old| old.gsi1);
                    if let Some(ix) = old_index {
                        gsi.remove((
                            ix.pk.as_str(),
                            ix.sk.as_str(),
                            key.pk.as_str(),
                            key.sk.as_str(),
                        ))
                        .map_err(failed)?;
                    }
                    if let Write::Put(item, _) = write {
                        let stored = Stored {
                            v: existing.map_or(1, |e| e.version + 1),
                            ttl: item.expires_at,
                            gsi1: item.index,
                            body: item.body,
                        };
                        let raw = serde_json::to_vec(&stored)
                            .map_err(|e| StoreError::Invalid(e.to_string()))?;
                        items
                            .insert((key.pk.as_str(), key.sk.as_str()), raw.as_slice())
                            .map_err(failed)?;
                        if let Some(ix) = &stored.gsi1 {
                            gsi.insert(
                                (
                                    ix.pk.as_str(),
                                    ix.sk.as_str(),
                                    key.pk.as_str(),
                                    key.sk.as_str(),
                                ),
                                (),
                            )
                            .map_err(failed)?;
                        }
                    }
                }
            }
            tx.commit().map_err(failed)
        })
        .await
    }
}
