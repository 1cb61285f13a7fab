//! One-time tokens (hoodie's account tokens) and personal API keys: secrets shown once, stored hashed.

use serde_json::{Map, Value};

use super::records::{ApiKey, Identity, OneTimeToken};
use super::{Identities, secrets};
use crate::error::Error;
use crate::store::{Condition, Index, Query, Record, StoreError, Write};
use crate::time::{now_rfc3339, unix_now};

/// hoodie's default token timeout: two hours.
pub const DEFAULT_TOKEN_TIMEOUT: i64 = 7200;
/// A one-time token lasts a year at most.
pub const MAX_TOKEN_TIMEOUT: i64 = 365 * 24 * 3600;

/// `^[a-z][a-z0-9_-]*$`, hoodie's rule for token types.
pub fn valid_token_type(kind: &str) -> bool {
    let mut chars = kind.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Identities {
    /// A new one-time token for `identity`; `timeout` 0 makes it already expired. Returns it with its secret.
    pub async fn add_token(
        &self,
        identity: &Identity,
        kind: &str,
        timeout: Option<i64>,
        properties: Map<String, Value>,
    ) -> Result<(OneTimeToken, String), Error> {
        if !valid_token_type(kind) {
            return Err(Error::bad_request("type must match ^[a-z][a-z0-9_-]*$"));
        }
        let timeout = timeout.unwrap_or(DEFAULT_TOKEN_TIMEOUT);
        if timeout < 0 {
            return Err(Error::bad_request("timeout must be >= 0"));
        }
        if timeout > MAX_TOKEN_TIMEOUT {
            return Err(Error::bad_request(format!(
                "timeout must be <= {MAX_TOKEN_TIMEOUT}"
            )));
        }
        let secret = secrets::generate("sb_ott_");
        let token = OneTimeToken {
            id: secrets::digest(&secret),
            kind: kind.to_owned(),
            identity_id: identity.id.clone(),
            organization_id: identity.organization_id.clone(),
            created_at: now_rfc3339(),
            expires_at: unix_now() + timeout,
            properties,
            version: 0,
        };
        let stored = self.store.create(token.to_item()?).await?;
        Ok((OneTimeToken::from_item(&stored)?, secret))
    }

    pub async fn token_by_id(&self, id: &str) -> Result<Option<OneTimeToken>, Error> {
        Ok(self.store.load(&OneTimeToken::key_of(id)).await?)
    }

    /// Tokens of one identity (or the whole organization), including expired ones still kept.
    pub async fn tokens(&self, org: &str, identity: &str) -> Result<Vec<OneTimeToken>, Error> {
        self.owned(&format!("ORG#{org}#TOKENS"), Some(identity))
            .await
    }

    /// Uses up a one-time token: exactly one caller succeeds, the others get 404.
    pub async fn consume_token(&self, token: &OneTimeToken) -> Result<(), Error> {
        match self
            .store
            .delete(&token.key(), Condition::Version(token.version))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                Err(Error::NotFound("Token not found".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove_token(&self, id: &str) -> Result<Option<OneTimeToken>, Error> {
        let Some(token) = self.token_by_id(id).await? else {
            return Ok(None);
        };
        match self.store.delete(&token.key(), Condition::Exists).await {
            Ok(()) => Ok(Some(token)),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A new personal API key; the key itself is returned only here.
    pub async fn create_api_key(
        &self,
        identity: &Identity,
        name: Option<String>,
    ) -> Result<(ApiKey, String), Error> {
        let secret = secrets::generate("sb_key_");
        let key = ApiKey {
            id: secrets::digest(&secret),
            identity_id: identity.id.clone(),
            organization_id: identity.organization_id.clone(),
            name,
            created_at: now_rfc3339(),
            version: 0,
        };
        self.store.create(key.to_item()?).await?;
        Ok((key, secret))
    }

    /// The identity a personal API key belongs to (two reads), unless it is locked or gone.
    pub async fn identity_for_api_key(&self, secret: &str) -> Result<Option<Identity>, Error> {
        let Some(key) = self
            .store
            .load::<ApiKey>(&ApiKey::key_of(&secrets::digest(secret)))
            .await?
        else {
            return Ok(None);
        };
        Ok(self.identity(&key.identity_id).await?.filter(|i| !i.locked))
    }

    pub async fn api_keys(&self, org: &str, identity: &str) -> Result<Vec<ApiKey>, Error> {
        self.owned(&format!("ORG#{org}#APIKEYS"), Some(identity))
            .await
    }

    /// Revokes one of `identity`'s keys, with `also` (what ends the CRM connections made with it) in the
    /// same transaction; `false` if it has no such key.
    pub async fn revoke_api_key(
        &self,
        identity: &Identity,
        id: &str,
        also: Vec<Write>,
    ) -> Result<bool, Error> {
        let Some(key) = self.store.load::<ApiKey>(&ApiKey::key_of(id)).await? else {
            return Ok(false);
        };
        if key.identity_id != identity.id {
            return Ok(false);
        }
        let mut writes = vec![Write::Delete(key.key(), Condition::Exists)];
        writes.extend(also);
        match self.store.transact(writes).await {
            Ok(()) => Ok(true),
            // Revoked meanwhile (404), or one of its connections ended meanwhile (try again).
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                match self.store.load::<ApiKey>(&key.key()).await? {
                    Some(_) => Err(Error::Conflict(
                        "The API key is being changed by other requests; try again".into(),
                    )),
                    None => Ok(false),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every item of an index partition listed by owner: one identity's (prefix `<identityId>#`) or all.
    pub(super) async fn owned<T: Record>(
        &self,
        partition: &str,
        identity: Option<&str>,
    ) -> Result<Vec<T>, Error> {
        let mut query = Query::new(partition).on(Index::Gsi1).limit(1000);
        if let Some(identity) = identity {
            query = query.prefix(format!("{identity}#"));
        }
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&query).await?;
            for item in &page.items {
                out.push(T::from_item(item)?);
            }
            match page.cursor {
                Some(c) => query = query.after(Some(c)),
                None => return Ok(out),
            }
        }
    }
}
