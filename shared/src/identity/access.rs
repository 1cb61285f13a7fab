//! Access tokens: HS256 JWTs naming the identity and its stored session. The algorithm is pinned, `exp`,
//! `iss`, `aud`, `sub` and `sid` are required, and the session is checked on every request, so logout and
//! lock take effect at once.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

pub const ISSUER: &str = "switchboard";
pub const AUDIENCE: &str = "switchboard-api";
/// Access tokens are short-lived (as Nodeblocks'); the refresh token renews them.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// Identity id.
    pub sub: String,
    /// Organization id.
    pub org: String,
    /// Session id (the SHA-256 of the refresh token).
    pub sid: String,
    /// SHA-256 of the sign-in fingerprint; requests must send the same `x-nb-fingerprint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl AccessTokens {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> Option<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).ok()
    }

    /// The claims of a token this deployment signed and that has not expired; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
            .filter(|c| !c.sid.is_empty())
    }
}
