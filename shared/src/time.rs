//! Wall-clock helpers: unix seconds for expiry, RFC 3339 with milliseconds for API timestamps.

use jiff::{Timestamp, Unit};

pub fn unix_now() -> i64 {
    Timestamp::now().as_second()
}

/// Unix milliseconds, for schedules finer than a second.
pub fn unix_now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

pub fn unix_ms_to_rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map_or_else(|_| now_rfc3339(), rfc3339)
}

/// `2024-05-28T09:41:22.552Z`, the format every API family uses.
pub fn rfc3339(ts: Timestamp) -> String {
    let ts = ts.round(Unit::Millisecond).unwrap_or(ts);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn now_rfc3339() -> String {
    rfc3339(Timestamp::now())
}

pub fn unix_to_rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds).map_or_else(|_| now_rfc3339(), rfc3339)
}
