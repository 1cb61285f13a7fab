//! Tokens from an organization's own OpenID Connect provider (antz's external modes; Cognito, Auth0,
//! Keycloak, Entra ID): an admin registers the issuers the organization trusts, and a bearer token from one
//! of them is a user of that organization, provisioned on first use (docs/external-tokens.md).
//!
//! A token is verified against its issuer's JWKS: RS256 or ES256 only, `kid` required, the algorithm pinned
//! by the key, `iss`, `aud`, `exp` and `nbf` checked with a minute's leeway. Key sets are fetched through the
//! outbound guard and cached; an unknown `kid` fetches again, at most once a minute per key set; a key set
//! that cannot be fetched is a 503, never a 401 for a token that may be valid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::NewIdentity;
use super::records::Identity;
use super::{Identities, secrets};
use crate::config::OidcSettings;
use crate::error::{AuthFailure, Error};
use crate::outbound::{Outbound, OutboundError};
use crate::store::{Condition, Index, Key, Query, Record, StoreError, Write, versioned};
use crate::time::now_rfc3339;

/// A key set is fetched again after this long, and on an unknown `kid` at most this often.
const JWKS_REFRESH: Duration = Duration::from_secs(60);
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
const LEEWAY_SECONDS: u64 = 60;

/// An issuer an organization trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProvider {
    pub id: String,
    pub organization_id: String,
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Where its keys are; `None`: from the issuer's discovery document.
    pub jwks_uri: Option<String>,
    pub user_id_claim: String,
    pub name_claim: Option<String>,
    pub email_claim: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl IdentityProvider {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("IDP#{id}"), "IDP")
    }

    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "issuer": self.issuer,
            "audiences": self.audiences,
            "jwksUri": self.jwks_uri,
            "userIdClaim": self.user_id_claim,
            "nameClaim": self.name_claim,
            "emailClaim": self.email_claim,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The one provider the deployment's settings name, for its organization (`SWITCHBOARD_OIDC_*`).
    pub fn configured(settings: &OidcSettings, organization: &str) -> IdentityProvider {
        IdentityProvider {
            id: "configured".into(),
            organization_id: organization.to_owned(),
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            jwks_uri: settings.jwks_url.clone(),
            user_id_claim: "sub".into(),
            name_claim: Some("name".into()),
            email_claim: Some("email".into()),
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
            version: 0,
        }
    }
}

impl Record for IdentityProvider {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(Key::new(
            format!("ORG#{}#IDPS", self.organization_id),
            format!("{}#{}", self.created_at, self.id),
        ))
    }
    versioned!();
}

/// Which organizations trust an issuer: one item per (issuer, organization), so an issuer is registered once
/// per organization and a token finds its providers in one `Query`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuerMarker {
    #[serde(skip)]
    issuer: String,
    organization_id: String,
    provider_id: String,
    #[serde(skip)]
    version: u64,
}

impl IssuerMarker {
    fn of(provider: &IdentityProvider) -> Self {
        Self {
            issuer: provider.issuer.clone(),
            organization_id: provider.organization_id.clone(),
            provider_id: provider.id.clone(),
            version: 0,
        }
    }
}

fn issuer_partition(issuer: &str) -> String {
    format!("IDPISSUER#{}", secrets::digest(issuer))
}

impl Record for IssuerMarker {
    fn key(&self) -> Key {
        Key::new(issuer_partition(&self.issuer), self.organization_id.clone())
    }
    versioned!();
}

/// What a request says besides its token: antz's `X-Tenant-ID` and `x-user-id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    pub tenant: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// Key sets and discovery documents, fetched through the outbound guard and kept per process.
#[derive(Debug)]
pub struct KeyCache {
    outbound: Arc<Outbound>,
    sets: Mutex<HashMap<String, (JwkSet, Instant)>>,
    jwks_uris: Mutex<HashMap<String, String>>,
}

impl KeyCache {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            outbound,
            sets: Mutex::default(),
            jwks_uris: Mutex::default(),
        }
    }

    async fn document(&self, url: &str) -> Result<Value, AuthFailure> {
        let fetched = self
            .outbound
            .get(url, MAX_DOCUMENT_BYTES)
            .await
            .map_err(unavailable)?;
        serde_json::from_slice(&fetched.body)
            .map_err(|_| AuthFailure::Store(StoreError::Unavailable(format!("{url}: not JSON"))))
    }

    async fn jwks_uri(&self, provider: &IdentityProvider) -> Result<String, AuthFailure> {
        if let Some(uri) = &provider.jwks_uri {
            return Ok(uri.clone());
        }
        if let Some(uri) = lock(&self.jwks_uris).get(&provider.issuer) {
            return Ok(uri.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let document = self.document(&discovery).await?;
        let uri = document["jwks_uri"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                AuthFailure::Store(StoreError::Unavailable(format!("{discovery}: no jwks_uri")))
            })?;
        lock(&self.jwks_uris).insert(provider.issuer.clone(), uri.clone());
        Ok(uri)
    }

    /// The key `kid` of the provider's set: from the cache, else from a fetch (a new set, or an unknown
    /// `kid` once the set is a minute old).
    async fn key(&self, provider: &IdentityProvider, kid: &str) -> Result<Jwk, AuthFailure> {
        let uri = self.jwks_uri(provider).await?;
        let cached = lock(&self.sets).get(&uri).cloned();
        if let Some((set, fetched)) = &cached {
            if let Some(key) = set.find(kid).filter(|_| fetched.elapsed() < JWKS_MAX_AGE) {
                return Ok(key.clone());
            }
            if fetched.elapsed() < JWKS_REFRESH {
                return Err(AuthFailure::Invalid);
            }
        }
        let document = self.document(&uri).await?;
        let set: JwkSet = serde_json::from_value(document).map_err(|_| {
            AuthFailure::Store(StoreError::Unavailable(format!("{uri}: not a JWK set")))
        })?;
        let key = set.find(kid).cloned();
        lock(&self.sets).insert(uri, (set, Instant::now()));
        key.ok_or(AuthFailure::Invalid)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A key set that cannot be fetched says nothing about the token: 503.
fn unavailable(e: OutboundError) -> AuthFailure {
    AuthFailure::Store(StoreError::Unavailable(format!(
        "identity provider keys: {e}"
    )))
}

/// The algorithm a key is for: RS256 for an RSA key, ES256 for a P-256 key; a key's own `alg` must agree.
fn pinned(key: &Jwk, header: Algorithm) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let by_type = match &key.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared = match key.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(_) => None,
    };
    (declared == Some(by_type) && header == by_type).then_some(by_type)
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: String,
}

fn claim_text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Identities {
    /// The provider of `issuer` a token may use: the one its `X-Tenant-ID` names, else the only
    /// organization trusting that issuer.
    async fn provider_for(
        &self,
        issuer: &str,
        tenant: Option<&str>,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        if let Some(configured) = &self.configured_provider
            && configured.issuer == issuer
            && tenant.is_none_or(|t| t == configured.organization_id)
        {
            return Ok(Some(configured.clone()));
        }
        let page = self
            .store
            .query(&Query::new(issuer_partition(issuer)).limit(3))
            .await?;
        let markers: Vec<IssuerMarker> = page
            .items
            .iter()
            .filter_map(|i| IssuerMarker::from_item(i).ok())
            .filter(|m| tenant.is_none_or(|t| t == m.organization_id))
            .collect();
        let [marker] = markers.as_slice() else {
            // None, or an issuer two organizations trust and no header to choose.
            return Ok(None);
        };
        Ok(self
            .store
            .load::<IdentityProvider>(&IdentityProvider::key_of(&marker.provider_id))
            .await?
            .filter(|p| p.issuer == issuer))
    }

    /// A token of a trusted provider: the identity of its user, provisioned on first use and kept up to date
    /// with its name and email claims.
    pub(crate) async fn authenticate_external(
        &self,
        token: &str,
        hints: Hints<'_>,
    ) -> Result<Identity, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Invalid)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthFailure::Invalid);
        }
        let kid = header.kid.ok_or(AuthFailure::Invalid)?;
        let unverified: UnverifiedIssuer = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| AuthFailure::Invalid)?;
        let provider = self
            .provider_for(&unverified.iss, hints.tenant)
            .await
            .map_err(AuthFailure::Store)?
            .ok_or(AuthFailure::Invalid)?;
        let key = self.key_cache.key(&provider, &kid).await?;
        let algorithm = pinned(&key, header.alg).ok_or(AuthFailure::Invalid)?;
        let decoding = DecodingKey::from_jwk(&key).map_err(|_| AuthFailure::Invalid)?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&provider.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation)
            .map_err(|_| AuthFailure::Invalid)?
            .claims;
        let user = claim_text(&claims, &provider.user_id_claim).ok_or(AuthFailure::Invalid)?;
        if hints.user.is_some_and(|h| h != user) {
            return Err(AuthFailure::Invalid);
        }
        let name = provider
            .name_claim
            .as_ref()
            .and_then(|c| claim_text(&claims, c));
        let email = provider
            .email_claim
            .as_ref()
            .and_then(|c| claim_text(&claims, c))
            .map(|e| e.trim().to_lowercase());
        let identity = self
            .provisioned(&provider.organization_id, &user, name, email)
            .await
            .map_err(|e| match e {
                Error::Unavailable(cause) => AuthFailure::Store(StoreError::Unavailable(cause)),
                other => AuthFailure::Store(StoreError::Unavailable(other.to_string())),
            })?;
        if identity.locked {
            return Err(AuthFailure::Locked);
        }
        Ok(identity)
    }

    /// The identity of an external user: created on first use (in the server-API namespace, so no sign-up
    /// can take it, told as `user.new`), its email and profile name moved when the claims change.
    async fn provisioned(
        &self,
        org: &str,
        user: &str,
        name: Option<String>,
        email: Option<String>,
    ) -> Result<Identity, Error> {
        let existing = match self.identity_by_external_id(org, user).await? {
            Some(identity) => identity,
            None => {
                let created = self
                    .create_identity(NewIdentity {
                        organization_id: org.to_owned(),
                        username: format!("ext:{user}"),
                        email: email.clone(),
                        type_id: self.types.regular.clone(),
                        external_id: Some(user.to_owned()),
                        profile: Some((
                            name.clone().unwrap_or_else(|| user.to_owned()),
                            Map::new(),
                        )),
                        ..NewIdentity::default()
                    })
                    .await;
                match created {
                    Ok((identity, _)) => return Ok(identity),
                    // Another request provisioned it (or the email is another account's): read it.
                    Err(Error::Conflict(message)) => self
                        .identity_by_external_id(org, user)
                        .await?
                        .ok_or(Error::Conflict(message))?,
                    Err(e) => return Err(e),
                }
            }
        };
        let mut identity = existing;
        if email.is_some() && identity.email != email {
            let wanted = email.clone();
            match self
                .update_identity(&identity.id, |i| {
                    i.email = wanted.clone();
                    Ok(true)
                })
                .await
            {
                Ok(Some(updated)) => identity = updated,
                Ok(None) => {}
                // The address is another account's: keep the one it has.
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if let (Some(name), Some(profile)) = (name, identity.profile_id.clone())
            && self
                .profile(&profile)
                .await?
                .is_some_and(|p| p.name != name)
        {
            self.update_profile(&profile, |p| {
                p.name = name.clone();
                Ok(true)
            })
            .await?;
        }
        Ok(identity)
    }

    /// Registers a trusted issuer for `org`: one per issuer per organization.
    pub async fn add_provider(
        &self,
        mut provider: IdentityProvider,
    ) -> Result<IdentityProvider, Error> {
        provider.id = uuid::Uuid::now_v7().to_string();
        provider.created_at = now_rfc3339();
        provider.updated_at = provider.created_at.clone();
        let marker = IssuerMarker::of(&provider);
        match self
            .store
            .transact(vec![
                Write::Put(provider.to_item()?, Condition::Absent),
                Write::Put(marker.to_item()?, Condition::Absent),
            ])
            .await
        {
            Ok(()) => Ok(IdentityProvider {
                version: 1,
                ..provider
            }),
            Err(StoreError::ConditionFailed) => Err(Error::Conflict(
                "That issuer is already registered for this organization".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn providers(&self, org: &str) -> Result<Vec<IdentityProvider>, Error> {
        let page = self
            .store
            .query(
                &Query::new(format!("ORG#{org}#IDPS"))
                    .on(Index::Gsi1)
                    .limit(100),
            )
            .await?;
        Ok(page
            .items
            .iter()
            .map(IdentityProvider::from_item)
            .collect::<Result<_, _>>()?)
    }

    pub async fn provider(&self, org: &str, id: &str) -> Result<Option<IdentityProvider>, Error> {
        Ok(self
            .store
            .load::<IdentityProvider>(&IdentityProvider::key_of(id))
            .await?
            .filter(|p| p.organization_id == org))
    }

    /// Changes a provider (its issuer too, moving its marker), version-checked.
    pub async fn update_provider(
        &self,
        before: &IdentityProvider,
        after: IdentityProvider,
    ) -> Result<IdentityProvider, Error> {
        let after = IdentityProvider {
            updated_at: now_rfc3339(),
            ..after
        };
        let mut writes = vec![Write::Put(
            after.to_item()?,
            Condition::Version(before.version),
        )];
        if after.issuer != before.issuer {
            writes.push(Write::Delete(
                IssuerMarker::of(before).key(),
                Condition::Exists,
            ));
            writes.push(Write::Put(
                IssuerMarker::of(&after).to_item()?,
                Condition::Absent,
            ));
        }
        match self.store.transact(writes).await {
            Ok(()) => Ok(IdentityProvider {
                version: before.version + 1,
                ..after
            }),
            Err(StoreError::ConditionFailed) => Err(Error::Conflict(
                "The provider changed, or that issuer is already registered; try again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove_provider(&self, provider: &IdentityProvider) -> Result<bool, Error> {
        let marker = IssuerMarker::of(provider);
        match self
            .store
            .transact(vec![
                Write::Delete(provider.key(), Condition::Version(provider.version)),
                Write::Delete(marker.key(), Condition::Exists),
            ])
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_provider_comes_from_the_settings() {
        let env = |name: &str| match name {
            "SWITCHBOARD_OIDC_ISSUER" => {
                Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/".into())
            }
            "SWITCHBOARD_OIDC_AUDIENCE" => Some("client-a, client-b".into()),
            _ => None,
        };
        let settings = OidcSettings::from_env(&env).unwrap().unwrap();
        let provider = IdentityProvider::configured(&settings, "default");
        assert_eq!(
            provider.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        assert_eq!(provider.audiences, ["client-a", "client-b"]);
        assert_eq!(provider.jwks_uri, None);
        assert_eq!(provider.user_id_claim, "sub");
        assert_eq!(OidcSettings::from_env(&|_: &str| None), Ok(None));
        let no_audience =
            |name: &str| (name == "SWITCHBOARD_OIDC_ISSUER").then(|| "https://x".into());
        assert!(OidcSettings::from_env(&no_audience).is_err());
    }
}
