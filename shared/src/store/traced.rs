//! Every store call as a span of its own (inside the request's), logging how long it took: at `debug`
//! normally, at `warn` when slow, so a slow request shows where its time went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Item, Key, Page, Query, Store, StoreError, Write};

/// A store call this slow is logged at `warn` whatever the level.
const SLOW: Duration = Duration::from_millis(500);

/// Wraps the store the app uses (either adapter).
pub struct Traced(Arc<dyn Store>);

impl Traced {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }
}

async fn timed<T>(call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    let elapsed = started.elapsed();
    let ms = elapsed.as_millis() as u64;
    let ok = result.is_ok();
    if elapsed >= SLOW {
        tracing::warn!(ms, ok, "slow store call");
    } else {
        tracing::debug!(ms, ok, "store call");
    }
    result
}

#[async_trait]
impl Store for Traced {
    #[tracing::instrument(name = "store.get", level = "info", skip_all)]
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        timed(self.0.get(key)).await
    }

    #[tracing::instrument(name = "store.batch_get", level = "info", skip_all, fields(keys = keys.len()))]
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        timed(self.0.batch_get(keys)).await
    }

    #[tracing::instrument(name = "store.query", level = "info", skip_all, fields(limit = query.limit))]
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        timed(self.0.query(query)).await
    }

    #[tracing::instrument(name = "store.transact", level = "info", skip_all, fields(writes = writes.len()))]
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        timed(self.0.transact(writes)).await
    }
}
