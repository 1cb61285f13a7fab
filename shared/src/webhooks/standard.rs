//! Standard Webhooks (<https://www.standardwebhooks.com>) headers, sent beside the ContactsManager
//! signature so that a receiver can verify with the `standardwebhooks` or `svix` libraries unchanged:
//! `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<t>.<raw
//! body>")>`, one space-separated `v1,…` per secret that signs. The key is the secret's base64 part
//! decoded, as those libraries read a `whsec_<base64>` secret.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const PREFIX: &str = "whsec_";

/// The key a `whsec_<base64>` secret stands for. Secrets made before Standard Webhooks were signed (base64url,
/// which those libraries do not read) are decoded as such; a rotation gives one they read.
pub fn key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// The `webhook-signature` value for message `id` sent at `timestamp` with `body`, one entry per secret.
pub fn sign(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&key(secret)).expect("HMAC accepts any key length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification (and of Svix's documentation).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const T: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specification_example_reproduces() {
        assert_eq!(sign(&[SECRET], ID, T, BODY), SIGNATURE);
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures() {
        let other = "whsec_c2Vjb25kIHNlY3JldCBvZiB0aGUgdGVzdA==";
        let both = sign(&[other, SECRET], ID, T, BODY);
        assert_eq!(both, format!("{} {SIGNATURE}", sign(&[other], ID, T, BODY)));
    }

    #[test]
    fn keys() {
        assert_eq!(key("whsec_aGVsbG8="), b"hello");
        // A base64url secret of before (no padding, `-` and `_`).
        assert_eq!(key("whsec_-_8"), [0xfb, 0xff]);
        assert_eq!(key("whsec_!"), b"whsec_!");
    }
}
