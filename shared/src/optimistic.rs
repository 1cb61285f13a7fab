//! Read-modify-write under optimistic locking, the one loop every versioned update runs: read, decide, write
//! with a version (or existence) condition, and when another writer got there first, read again after the
//! project's backoff. Bounded, so a contended record ends in a 409 instead of a spin.

use crate::error::Error;
use crate::store::StoreError;

/// Why an attempt did not finish: another writer won the race (try again from a fresh read), or the
/// request failed for good.
#[derive(Debug)]
pub enum Retry {
    Again,
    Fail(Error),
}

/// A write refused by its condition or cancelled by a concurrent transaction lost a race; any other store
/// failure ends the loop.
impl From<StoreError> for Retry {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed | StoreError::Conflict => Self::Again,
            e => Self::Fail(e.into()),
        }
    }
}

impl From<Error> for Retry {
    fn from(e: Error) -> Self {
        Self::Fail(e)
    }
}

/// Runs the attempt `$body` (an async block's body: `?` and `return` end the attempt, not the caller) until
/// it finishes, at most `$max` times, each retry paced by [`Backoff`](crate::store::Backoff); after the last
/// lost race, 409 with `$busy`. Evaluates to `Result<T, Error>`.
///
/// A macro, not a function taking an async closure: the attempt borrows the caller's state mutably, and an
/// async closure's future cannot yet be proven `Send` for every lifetime (rust-lang/rust#110338).
#[macro_export]
macro_rules! optimistic {
    ($max:expr, $busy:expr, $body:block) => {{
        let mut retry = $crate::store::Backoff::new($max);
        loop {
            if !retry.attempt().await {
                break Err($crate::error::Error::Conflict(::std::string::ToString::to_string($busy)));
            }
            let attempt: ::std::result::Result<_, $crate::optimistic::Retry> = async $body.await;
            match attempt {
                Ok(done) => break Ok(done),
                Err($crate::optimistic::Retry::Again) => continue,
                Err($crate::optimistic::Retry::Fail(e)) => break Err(e),
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lost_races_are_retried_then_refused_and_failures_end_at_once() {
        let mut tries = 0;
        let done: Result<i32, Error> = optimistic!(4, "busy", {
            tries += 1;
            if tries < 3 {
                Err(StoreError::ConditionFailed)?;
            }
            Ok(tries)
        });
        assert_eq!(done, Ok(3));

        let mut tries = 0;
        let busy: Result<(), Error> = optimistic!(4, "busy", {
            tries += 1;
            Err(Retry::Again)
        });
        assert_eq!((busy, tries), (Err(Error::Conflict("busy".into())), 4));

        let mut tries = 0;
        let failed: Result<(), Error> = optimistic!(4, "busy", {
            tries += 1;
            Err(StoreError::Unavailable("down".into()))?
        });
        assert_eq!(failed.map_err(|e| e.status()), Err(503));
        assert_eq!(tries, 1);
    }
}
