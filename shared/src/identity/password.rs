//! Password hashing: argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1).
//! Hashing is CPU-bound, so it runs on the blocking pool, never on the request's executor thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::Error;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified when the account does not exist, so an unknown user costs as much as a wrong password. A
/// constant (the hash of a random password nobody kept, with `argon2()`'s parameters) rather than one hashed
/// on the first unknown sign-in of each process, which made that request cost two hashes.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$6LWv6ZFgxXfJiAre7pbBUQ$yI6EcQ9msMYY4+EAi0QmRG0f87qtdimORf6i/fcNoUs";

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::Internal(format!("encoding a salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

pub async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// Checks `password` against `stored`, or against a dummy hash when there is none.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let exists = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matches = PasswordHash::new(&stored).is_ok_and(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        });
        exists && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse".into(), Some(stored.clone())).await);
        assert!(!verify("wrong".into(), Some(stored)).await);
        assert!(!verify("correct horse".into(), None).await);
    }

    /// An unknown user's sign-in verifies the dummy hash with the same work as a real one.
    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_hash = hash_now("any").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(
            Params::try_from(&dummy).unwrap(),
            Params::try_from(&real).unwrap()
        );
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }
}
