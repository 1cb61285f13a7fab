//! What a delivery attempt leads to: 2xx delivered, 410 disables the subscription, anything else (another
//! status, a timeout, a refused connection) is retried on the schedule, then failed.

use std::time::Duration;

pub use crate::config::{DEFAULT_SCHEDULE, JITTER, RetrySchedule, SCHEDULE_ENV};

/// How long one attempt may take before it counts as a timeout.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A subscription whose deliveries have failed without a success for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer within [`ATTEMPT_TIMEOUT`].
    TimedOut,
    /// Refused, reset, or the target failed the outbound guard at delivery time.
    Unreachable,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Delivered,
    /// 410 Gone: the receiver asks for no more deliveries; the subscription is disabled.
    DisableSubscription,
    RetryIn(Duration),
    /// The schedule is spent: the delivery is marked failed.
    Failed,
}

/// The next step after attempt number `attempt_number` (1 = the first) ended as `attempt`; `unit` in
/// [0, 1) is the jitter draw (see [`next_random`]).
pub fn next(schedule: &RetrySchedule, attempt: Attempt, attempt_number: usize, unit: f64) -> Next {
    match attempt {
        Attempt::Status(200..=299) => Next::Delivered,
        Attempt::Status(410) => Next::DisableSubscription,
        _ => schedule
            .delay(attempt_number, unit)
            .map_or(Next::Failed, Next::RetryIn),
    }
}

/// [`next`] with a random jitter draw.
pub fn next_random(schedule: &RetrySchedule, attempt: Attempt, attempt_number: usize) -> Next {
    next(schedule, attempt, attempt_number, rand::random::<f64>())
}

/// Whether a subscription failing since `first_failure` (unix seconds, no success since) should be
/// disabled at `now`.
pub fn failing_too_long(first_failure: i64, now: i64) -> bool {
    now.saturating_sub(first_failure) >= DISABLE_AFTER.as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps parsed, or the error.
    type Expected = Result<Vec<Duration>, &'static str>;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn parses_settings() {
        let too_many = "1s,".repeat(21);
        let rows: Vec<(Option<&str>, Expected)> = vec![
            (
                None,
                Ok(vec![S(60), S(300), S(1800), S(7200), S(21600), S(86400)]),
            ),
            (
                Some("  "),
                Ok(vec![S(60), S(300), S(1800), S(7200), S(21600), S(86400)]),
            ),
            (Some("1s,2s,4s"), Ok(vec![S(1), S(2), S(4)])),
            (Some(" 1s , 2s "), Ok(vec![S(1), S(2)])),
            (
                Some("500ms,1h30m,168h"),
                Ok(vec![Duration::from_millis(500), S(5400), S(604_800)]),
            ),
            (
                Some("1s,,2s"),
                Err(
                    "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: '' is not a duration such as 30s, 5m or 2h",
                ),
            ),
            (
                Some("soon"),
                Err(
                    "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: 'soon' is not a duration such as 30s, 5m or 2h",
                ),
            ),
            (
                Some("1s,0s"),
                Err(
                    "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: '0s' must be more than 0 and at most 7 days",
                ),
            ),
            (
                Some("-5s"),
                Err(
                    "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: '-5s' must be more than 0 and at most 7 days",
                ),
            ),
            (
                Some("169h"),
                Err(
                    "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: '169h' must be more than 0 and at most 7 days",
                ),
            ),
            (
                Some(&too_many[..62]),
                Err("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE: at most 20 retries, not 21"),
            ),
        ];
        for (setting, expected) in rows {
            let got = RetrySchedule::from_setting(setting);
            match expected {
                Ok(steps) => assert_eq!(got.unwrap().steps(), steps.as_slice(), "{setting:?}"),
                Err(message) => assert_eq!(got.unwrap_err(), message, "{setting:?}"),
            }
        }
        assert_eq!(RetrySchedule::default().attempts(), 7);
    }

    #[test]
    fn outcomes() {
        let schedule = RetrySchedule::parse("1s,2s,4s").unwrap();
        // (attempt, its number, expected) with the jitter draw at its midpoint (no jitter).
        let rows = [
            (Attempt::Status(200), 1, Next::Delivered),
            (Attempt::Status(204), 4, Next::Delivered),
            (Attempt::Status(299), 2, Next::Delivered),
            (Attempt::Status(410), 1, Next::DisableSubscription),
            (Attempt::Status(410), 4, Next::DisableSubscription),
            (Attempt::Status(500), 1, Next::RetryIn(S(1))),
            (Attempt::Status(404), 2, Next::RetryIn(S(2))),
            (Attempt::Status(301), 1, Next::RetryIn(S(1))),
            (Attempt::Status(429), 3, Next::RetryIn(S(4))),
            (Attempt::TimedOut, 1, Next::RetryIn(S(1))),
            (Attempt::Unreachable, 3, Next::RetryIn(S(4))),
            (Attempt::Status(500), 4, Next::Failed),
            (Attempt::TimedOut, 4, Next::Failed),
            (Attempt::Unreachable, 9, Next::Failed),
        ];
        for (attempt, number, expected) in rows {
            assert_eq!(
                next(&schedule, attempt, number, 0.5),
                expected,
                "{attempt:?} #{number}"
            );
        }
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let schedule = RetrySchedule::default();
        for (failed, base) in schedule.steps().iter().enumerate() {
            let low = base.mul_f64(1.0 - JITTER);
            let high = base.mul_f64(1.0 + JITTER);
            assert_eq!(schedule.delay(failed + 1, 0.0), Some(low));
            assert_eq!(schedule.delay(failed + 1, 1.0), Some(high));
            let draws: Vec<Duration> = (0..50)
                .map(
                    |_| match next_random(&schedule, Attempt::Status(503), failed + 1) {
                        Next::RetryIn(d) => d,
                        other => panic!("{other:?}"),
                    },
                )
                .collect();
            assert!(draws.iter().all(|d| low <= *d && *d <= high), "{draws:?}");
            assert!(draws.iter().any(|d| *d != draws[0]), "jitter varies");
        }
        // Each step waits longer than the one before, even at the extremes of the jitter.
        for pair in schedule.steps().windows(2) {
            assert!(pair[0].mul_f64(1.0 + JITTER) < pair[1].mul_f64(1.0 - JITTER));
        }
        assert_eq!(schedule.delay(0, 0.5), None);
        assert_eq!(schedule.delay(7, 0.5), None);
    }

    #[test]
    fn a_day_of_failures_disables() {
        let start = 1_800_000_000;
        for (now, expected) in [
            (start, false),
            (start + 86_399, false),
            (start + 86_400, true),
            (start + 90_000, true),
            (start - 10, false),
        ] {
            assert_eq!(failing_too_long(start, now), expected, "{now}");
        }
    }
}
