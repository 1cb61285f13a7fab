//! The one retry pacing of the project: a bounded number of attempts with "full jitter" exponential
//! backoff, so writers that collided do not collide again in lockstep and a loop always ends.

use std::time::Duration;

use rand::Rng;

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
