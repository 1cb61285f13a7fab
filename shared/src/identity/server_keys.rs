//! Server API keys (ContactsManager's server SDK): the SDK signs an HS256 token with its organization's
//! apiSecret; the `api_key` claim says which organization, whose secret must then verify the signature.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::Identities;
use super::records::OrganizationKey;
use crate::error::Error;

/// Claims of both SDKs: Node sends `device`, Python `device_info` and `iss` (the organization id).
#[derive(Debug, Clone, Deserialize)]
pub struct ServerClaims {
    pub user_id: String,
    pub api_key: String,
    pub org_id: Option<String>,
    pub iss: Option<String>,
    pub device: Option<Value>,
    pub device_info: Option<Value>,
    pub jti: Option<String>,
    pub exp: i64,
}

impl ServerClaims {
    pub fn device(&self) -> Option<Value> {
        self.device.clone().or_else(|| self.device_info.clone())
    }
}

#[derive(Deserialize)]
struct Unverified {
    api_key: String,
}

pub const INVALID_TOKEN: &str = "Invalid or expired token";

impl Identities {
    /// Verifies an SDK-signed token and returns its organization and claims.
    pub async fn verify_server_token(
        &self,
        token: &str,
    ) -> Result<(OrganizationKey, ServerClaims), Error> {
        let invalid = || Error::Unauthorized(INVALID_TOKEN.into());
        // Read `api_key` without trusting it, only to find which secret must verify the token.
        let unverified: Unverified =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| invalid())?;
        let org = self
            .organization_key(&unverified.api_key)
            .await?
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<ServerClaims>(
            token,
            &DecodingKey::from_secret(org.api_secret.as_bytes()),
            &validation,
        )
        .map_err(|_| invalid())?
        .claims;
        let names_other_org = [&claims.org_id, &claims.iss]
            .into_iter()
            .flatten()
            .any(|o| *o != org.organization_id);
        if claims.api_key != org.api_key || names_other_org {
            return Err(invalid());
        }
        Ok((org, claims))
    }
}
