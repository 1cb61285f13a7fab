//! The CRM extension's `jwtToken`: HS256 over `{id, platform}` with `APP_SERVER_SECRET_KEY`, as App Connect
//! signs it, plus `exp`, `jti`, `cid` (the connection it belongs to) and `org` (the identity's organization,
//! which lets a write carry the token check inside itself: see [`super::Owner`]). Tokens last two weeks; when seven
//! days or fewer remain, a fresh one is returned in `x-refreshed-jwt-token`. Unlike App Connect, every
//! token of a connection stops working when the connection ends (`POST /unAuthorize`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

pub const TOKEN_SECONDS: i64 = 14 * 24 * 3600;
pub const REFRESH_WITHIN_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmClaims {
    /// The user id in the CRM (for the built-in CRM: the identity id).
    pub id: String,
    pub platform: String,
    /// Connection id: the connection's tokens die with it.
    pub cid: String,
    /// The identity's organization; tokens issued before it lack it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub org: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct CrmTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl CrmTokens {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
        }
    }

    pub fn issue(
        &self,
        id: &str,
        org: &str,
        platform: &str,
        connection: &str,
        now: i64,
    ) -> Option<String> {
        let claims = CrmClaims {
            id: id.to_owned(),
            platform: platform.to_owned(),
            cid: connection.to_owned(),
            org: org.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + TOKEN_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).ok()
    }

    pub fn verify(&self, token: &str) -> Option<CrmClaims> {
        jsonwebtoken::decode::<CrmClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}
