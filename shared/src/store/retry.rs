//! The one retry pacing of the project: a bounded number of attempts with "full jitter" exponential
//! backoff, so writers that collided do not collide again in lockstep and a loop always ends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use super::{Item, Key, Page, Query, Store, StoreError, Write};

/// The first wait is up to this long; each later one up to twice the previous bound.
const BASE: Duration = Duration::from_millis(4);
/// No single wait is longer than this.
const CAP: Duration = Duration::from_millis(100);

/// Paces a retry loop: `while retry.attempt().await { ... }` runs the body at most `max` times and waits a
/// random time before every attempt but the first.
#[derive(Debug)]
pub struct Backoff {
    max: u32,
    done: u32,
}

impl Backoff {
    pub fn new(max: usize) -> Self {
        Self {
            max: u32::try_from(max).unwrap_or(u32::MAX),
            done: 0,
        }
    }

    /// `false` once `max` attempts were made; otherwise waits as the attempt number calls for.
    pub async fn attempt(&mut self) -> bool {
        if self.done >= self.max {
            return false;
        }
        if self.done > 0 {
            tokio::time::sleep(wait(self.done)).await;
        }
        self.done += 1;
        true
    }
}

/// A random wait in `[0, min(CAP, BASE * 2^(retry-1))]`.
fn wait(retry: u32) -> Duration {
    let bound = BASE
        .saturating_mul(1 << (retry - 1).min(16))
        .min(CAP)
        .as_micros() as u64;
    Duration::from_micros(rand::rng().random_range(0..=bound))
}

/// Attempts of one write while it meets a concurrent transaction.
const CONFLICT_ATTEMPTS: usize = 4;

/// Repeats a write that failed with [`StoreError::Conflict`] (it wrote nothing: DynamoDB cancelled it
/// because another transaction held the same items), so a passing collision is not a user's 409 or a
/// domain rule misread ("already exists") but a few milliseconds' wait.
pub struct RetryConflicts(Arc<dyn Store>);

impl RetryConflicts {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }
}

#[async_trait]
impl Store for RetryConflicts {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.0.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.0.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.0.query(query).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut retry = Backoff::new(CONFLICT_ATTEMPTS);
        let mut result = Err(StoreError::Conflict);
        while retry.attempt().await {
            result = self.0.transact(writes.clone()).await;
            if !matches!(result, Err(StoreError::Conflict)) {
                break;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn attempts_are_bounded_and_waits_capped() {
        let mut retry = Backoff::new(5);
        let start = tokio::time::Instant::now();
        let mut attempts = 0;
        while retry.attempt().await {
            attempts += 1;
        }
        assert_eq!(attempts, 5);
        assert!(!retry.attempt().await, "stays spent");
        // Four waits, each at most its bound (4 + 8 + 16 + 32 ms), plus timer slack.
        assert!(start.elapsed() < Duration::from_millis(60 + 50));
        for retry in 1..40 {
            assert!(wait(retry) <= CAP);
        }
    }
}
