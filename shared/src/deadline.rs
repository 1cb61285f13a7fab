//! The invocation's deadline: how long the running Lambda invocation has left, so every outbound call gets
//! a budget that fits inside it (a slow endpoint times out before the function does, and the function
//! still answers and records the attempt). The Lambda wiring sets it per invocation; the local server and
//! tests run without one, and then each call keeps its own limit.

use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Kept back from an outbound call's budget: the time to record the outcome and answer.
pub const MARGIN: Duration = Duration::from_secs(1);

/// Runs `work` with `deadline` as the invocation's (or with none).
pub async fn within<F: Future>(deadline: Option<Instant>, work: F) -> F::Output {
    match deadline {
        Some(deadline) => DEADLINE.scope(deadline, work).await,
        None => work.await,
    }
}

/// The time the invocation has left, if it has a deadline.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// `limit`, or less when the invocation has less time left than that plus [`MARGIN`].
pub fn budget(limit: Duration) -> Duration {
    match remaining() {
        Some(left) => limit.min(left.saturating_sub(MARGIN)),
        None => limit,
    }
}

/// Whether the invocation still has `needed` (and the margin) left; always without a deadline.
pub fn has(needed: Duration) -> bool {
    remaining().is_none_or(|left| left >= needed + MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budgets_fit_the_time_left() {
        let limit = Duration::from_secs(15);
        assert_eq!(budget(limit), limit, "no deadline: the call's own limit");
        assert!(has(Duration::from_secs(3600)));
        let soon = Instant::now() + Duration::from_secs(4);
        within(Some(soon), async {
            let left = budget(limit);
            assert!(
                left <= Duration::from_secs(3) && left > Duration::from_secs(2),
                "{left:?}"
            );
            assert!(has(Duration::from_secs(2)) && !has(Duration::from_secs(4)));
        })
        .await;
        let past = Instant::now();
        within(Some(past), async {
            assert_eq!(budget(limit), Duration::ZERO);
        })
        .await;
    }
}
