//! The delivery signature, as the ContactsManager SDKs verify it: header `x-contactsmanager-signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. While a rotated-out secret still
//! signs (docs/events.md, "Rotating a secret"), the header carries a `v1` per secret and
//! [`CURRENT_HEADER`] the current secret's alone.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-contactsmanager-signature";
/// The current secret's signature alone, sent while a previous secret signs too: the SDKs keep the last
/// `v1` of a header, which [`HEADER`] gives to the previous secret.
pub const CURRENT_HEADER: &str = "x-contactsmanager-signature-current";

/// The SDKs refuse a signature older than this (15 minutes); a receiver should too.
pub const TOLERANCE_SECONDS: i64 = 900;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` (the exact bytes sent) signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_all(&[secret], timestamp, body)
}

/// The header value with one `v1` per secret, in their order: the SDKs check only the last one.
pub fn sign_all(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let digest = mac(secret, timestamp, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(digest));
    }
    header
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature is outside the {TOLERANCE_SECONDS} s window")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Verifies a header value against the raw body at `now` (unix seconds), reading the header the way the
/// SDKs do: parts split on `,`, each on `=` into exactly a key and a value, a later key replacing an
/// earlier one. The comparison is constant-time. Unlike the SDKs, a timestamp more than the tolerance in
/// the future is refused too.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut given = None;
    for part in header.split(',') {
        let mut pieces = part.split('=');
        let (Some(key), Some(value), None) = (pieces.next(), pieces.next(), pieces.next()) else {
            return Err(SignatureError::Malformed);
        };
        match key {
            "t" => timestamp = Some(value),
            "v1" => given = Some(value),
            _ => {}
        }
    }
    let (Some(timestamp), Some(given)) = (timestamp, given) else {
        return Err(SignatureError::Malformed);
    };
    let timestamp: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let given = hex::decode(given).map_err(|_| SignatureError::Malformed)?;
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Verdict = Result<(), SignatureError>;

    // The reference vector (../shared/reference/README.md §4).
    const SECRET: &[u8] = b"test-webhook-secret";
    const T: i64 = 1_609_459_200;
    const BODY: &[u8] = br#"{"id":"123","event":"user.new","payload":{"userId":"test-user"}}"#;
    const V1: &str = "baa795b3756d72c7f138c38bbe63e3ce9d5b3afcc87a5472ee7541a3a5293c56";

    #[test]
    fn reference_vector_reproduces() {
        assert_eq!(sign(SECRET, T, BODY), format!("t={T},v1={V1}"));
    }

    #[test]
    fn verification_table() {
        let good = format!("t={T},v1={V1}");
        let other = sign(b"another-secret", T, BODY);
        let other_v1 = other.split_once(",v1=").unwrap().1;
        // (header, body, now, expected)
        let rows: Vec<(String, &[u8], i64, Verdict)> = vec![
            (good.clone(), BODY, T, Ok(())),
            (good.clone(), BODY, T + TOLERANCE_SECONDS, Ok(())),
            (
                good.clone(),
                BODY,
                T + TOLERANCE_SECONDS + 1,
                Err(SignatureError::Stale),
            ),
            (
                good.clone(),
                BODY,
                T - TOLERANCE_SECONDS - 1,
                Err(SignatureError::Stale),
            ),
            // Order does not matter; unknown keys are ignored.
            (format!("v1={V1},t={T}"), BODY, T, Ok(())),
            (format!("t={T},v0=abc,v1={V1}"), BODY, T, Ok(())),
            // A later v1 replaces an earlier one, as in the SDK's dict.
            (
                format!("t={T},v1={V1},v1={other_v1}"),
                BODY,
                T,
                Err(SignatureError::Mismatch),
            ),
            (format!("t={T},v1={other_v1},v1={V1}"), BODY, T, Ok(())),
            (
                good.clone(),
                br#"{"id":"123","event":"user.new","payload":{"userId":"test-user2"}}"#,
                T,
                Err(SignatureError::Mismatch),
            ),
            // A re-serialised body (Python's json.dumps spacing) is not the raw body.
            (
                good.clone(),
                br#"{"id": "123", "event": "user.new", "payload": {"userId": "test-user"}}"#,
                T,
                Err(SignatureError::Mismatch),
            ),
            (other.clone(), BODY, T, Err(SignatureError::Mismatch)),
            (
                format!("t={},v1={V1}", T + 1),
                BODY,
                T,
                Err(SignatureError::Mismatch),
            ),
            (
                format!("t={T},v1={}", &V1[..62]),
                BODY,
                T,
                Err(SignatureError::Mismatch),
            ),
            (format!("t={T}"), BODY, T, Err(SignatureError::Malformed)),
            (format!("v1={V1}"), BODY, T, Err(SignatureError::Malformed)),
            (
                format!("t={T},v1={V1}=="),
                BODY,
                T,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={T} ,v1={V1}"),
                BODY,
                T,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t=soon,v1={V1}"),
                BODY,
                T,
                Err(SignatureError::Malformed),
            ),
            (
                format!("t={T},v1=zz{}", &V1[2..]),
                BODY,
                T,
                Err(SignatureError::Malformed),
            ),
            (String::new(), BODY, T, Err(SignatureError::Malformed)),
        ];
        for (header, body, now, expected) in rows {
            assert_eq!(verify(SECRET, &header, body, now), expected, "{header}");
        }
    }

    #[test]
    fn every_secret_signs_in_order_and_the_last_is_the_one_checked() {
        let header = sign_all(&[b"new", SECRET], T, BODY);
        let new_v1 = sign(b"new", T, BODY)
            .split_once(",v1=")
            .unwrap()
            .1
            .to_owned();
        assert_eq!(header, format!("t={T},v1={new_v1},v1={V1}"));
        assert_eq!(verify(SECRET, &header, BODY, T), Ok(()));
        assert_eq!(
            verify(b"new", &header, BODY, T),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signing_then_verifying_round_trips() {
        let body = "{\"id\":\"evt_1\",\"event\":\"account.created\",\"payload\":{\"note\":\"caf\u{e9} \u{1f600}\"}}";
        let header = sign(b"whsec_1", 1_800_000_000, body.as_bytes());
        assert_eq!(
            verify(b"whsec_1", &header, body.as_bytes(), 1_800_000_010),
            Ok(())
        );
        assert_eq!(
            verify(b"whsec_2", &header, body.as_bytes(), 1_800_000_010),
            Err(SignatureError::Mismatch)
        );
    }
}
