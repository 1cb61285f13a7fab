//! Sign-in, stored sessions and the per-request access check.

use serde_json::{Value, json};

use super::access::{ACCESS_TOKEN_SECONDS, AUDIENCE, AccessClaims, ISSUER};
use super::lockout::{ACCOUNT_LOCKED, INVALID_CREDENTIALS};
use super::records::{Identity, OneTimeToken, Session};
use super::{Identities, secrets};
use crate::error::{AuthFailure, Error};
use crate::store::{Condition, Record, StoreError, Write};
use crate::time::{now_rfc3339, unix_now, unix_to_rfc3339};

/// Refresh tokens (sessions) last two days, as Nodeblocks' refresh tokens.
pub const SESSION_SECONDS: i64 = 2 * 24 * 3600;

/// Where a session is being opened from.
#[derive(Debug, Clone, Default)]
pub struct SessionContext {
    pub fingerprint: Option<String>,
    pub user_agent: Option<String>,
    pub device: Option<Value>,
    /// Session (and access token) lifetime; default [`SESSION_SECONDS`].
    pub lifetime: Option<i64>,
}

/// A new session: its tokens, shown once.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub identity: Identity,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: i64,
}

impl SignedIn {
    /// `POST /sessions` → `{id, accessToken, refreshToken, expiresAt, account}`.
    pub fn view(&self) -> Value {
        json!({
            "id": self.session.id,
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresAt": unix_to_rfc3339(self.access_expires_at),
            "sessionExpiresAt": unix_to_rfc3339(self.session.expires_at),
            "account": self.identity.account_view(),
        })
    }
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    pub session: Session,
}

/// The 403 of a `passwordreset` token used to sign in.
pub const RESET_TOKEN_ONLY: &str =
    "A passwordreset token only sets a new password (PATCH /accounts/{id} with token and password)";

impl Identities {
    /// Sign-in with a one-time token: the token is consumed in the same transaction that creates the
    /// session, so it opens at most one session however many requests race for it.
    pub async fn sign_in_with_token(
        &self,
        token: &str,
        context: SessionContext,
    ) -> Result<SignedIn, Error> {
        let found = self.find_token(token).await?;
        // A reset link only sets a new password: whoever reads the mail must still choose one, which the
        // account's owner then learns of (`account.password_changed`).
        if found.kind == super::requests::PASSWORD_RESET {
            return Err(Error::Forbidden(RESET_TOKEN_ONLY.into()));
        }
        let identity = self
            .identity(&found.identity_id)
            .await?
            .ok_or_else(|| Error::Unauthorized(INVALID_CREDENTIALS.into()))?;
        if identity.locked {
            return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()));
        }
        let consume = Write::Delete(found.key(), Condition::Version(found.version));
        self.start_session(identity, context, vec![consume])
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::NotFound("Token not found".into()),
                other => other,
            })
    }

    /// Stores a new session (with `also` in the same transaction) and signs its access token.
    pub async fn start_session(
        &self,
        identity: Identity,
        context: SessionContext,
        also: Vec<Write>,
    ) -> Result<SignedIn, Error> {
        let refresh_token = secrets::generate("sb_rt_");
        let now = unix_now();
        let lifetime = context.lifetime.unwrap_or(SESSION_SECONDS).max(1);
        // A session opened with an explicit lifetime (server API) gets an access token as long-lived.
        let access_seconds = context.lifetime.map_or(ACCESS_TOKEN_SECONDS, |_| lifetime);
        let session = Session {
            id: secrets::digest(&refresh_token),
            identity_id: identity.id.clone(),
            organization_id: identity.organization_id.clone(),
            created_at: now_rfc3339(),
            last_used_at: now_rfc3339(),
            expires_at: now + lifetime,
            fingerprint: context.fingerprint.as_deref().map(secrets::digest),
            user_agent: context.user_agent,
            device: context.device,
            version: 1,
        };
        let mut writes = also;
        writes.push(Write::Put(session.to_item()?, Condition::Absent));
        match self.store.transact(writes).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                return Err(Error::Conflict("The sign-in raced another request".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let (access_token, access_expires_at) = self.sign_access(&session, access_seconds)?;
        Ok(SignedIn {
            session,
            identity,
            access_token,
            refresh_token,
            access_expires_at,
        })
    }

    fn sign_access(&self, session: &Session, seconds: i64) -> Result<(String, i64), Error> {
        let now = unix_now();
        let exp = (now + seconds).min(session.expires_at);
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: session.identity_id.clone(),
            org: session.organization_id.clone(),
            sid: session.id.clone(),
            fp: session.fingerprint.clone(),
            iat: now,
            exp,
        };
        let token = self
            .access
            .sign(&claims)
            .ok_or_else(|| Error::Internal("signing an access token".into()))?;
        Ok((token, exp))
    }

    /// New access token for a refresh token (same session, same fingerprint rule).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        fingerprint: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let invalid = || Error::Unauthorized("token could not be verified".into());
        let session = self
            .session(&secrets::digest(refresh_token))
            .await?
            .ok_or_else(invalid)?;
        let identity = self
            .identity(&session.identity_id)
            .await?
            .filter(|i| !session.signed_out_by(i))
            .ok_or_else(invalid)?;
        if identity.locked {
            return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()));
        }
        check_fingerprint(&session, fingerprint)
            .map_err(|_| Error::Unauthorized("Token fails security check".into()))?;
        let (access_token, access_expires_at) = self.sign_access(&session, ACCESS_TOKEN_SECONDS)?;
        Ok(SignedIn {
            session,
            identity,
            access_token,
            refresh_token: refresh_token.to_owned(),
            access_expires_at,
        })
    }

    pub fn is_admin(&self, principal: &Principal) -> bool {
        principal.identity.type_id == self.types.admin
    }

    /// The guard of admin-only operations: 403 with the seed's admin message for anyone else.
    pub fn require_admin(&self, principal: &Principal) -> Result<(), Error> {
        if self.is_admin(principal) {
            Ok(())
        } else {
            Err(Error::Forbidden(super::ADMIN_REQUIRED.into()))
        }
    }

    /// The per-request check: a valid token of this deployment, whose session still exists, for an identity
    /// that exists and is not locked, sent with the sign-in fingerprint. Session and identity are read in
    /// one round trip.
    pub async fn authenticate(
        &self,
        bearer: Option<&str>,
        fingerprint: Option<&str>,
    ) -> Result<Principal, AuthFailure> {
        let claims = bearer
            .and_then(|t| self.access.verify(t))
            .ok_or(AuthFailure::Invalid)?;
        let keys = [Session::key_of(&claims.sid), Identity::key_of(&claims.sub)];
        let items = self
            .store
            .batch_get(&keys)
            .await
            .map_err(AuthFailure::Store)?;
        let find = |key: &crate::store::Key| items.iter().find(|i| i.key == *key);
        let session = find(&keys[0])
            .and_then(|i| Session::from_item(i).ok())
            .ok_or(AuthFailure::Invalid)?;
        let identity = find(&keys[1])
            .and_then(|i| Identity::from_item(i).ok())
            .ok_or(AuthFailure::Invalid)?;
        if session.identity_id != identity.id || session.signed_out_by(&identity) {
            return Err(AuthFailure::Invalid);
        }
        check_fingerprint(&session, fingerprint)?;
        if identity.locked {
            return Err(AuthFailure::Locked);
        }
        Ok(Principal { identity, session })
    }

    /// Sessions of one identity, or (for admins, `identity = None`) of the whole organization.
    pub async fn sessions(&self, org: &str, identity: Option<&str>) -> Result<Vec<Session>, Error> {
        self.owned(&format!("ORG#{org}#SESSIONS"), identity).await
    }

    pub async fn session(&self, id: &str) -> Result<Option<Session>, Error> {
        Ok(self.store.load(&Session::key_of(id)).await?)
    }

    /// Ends a session; its access tokens fail on their next use. `false` if there was none.
    pub async fn revoke_session(&self, id: &str) -> Result<bool, Error> {
        match self
            .store
            .delete(&Session::key_of(id), Condition::Exists)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Log out everywhere: every session of the identity created until now ends, including any the index
    /// does not list yet; returns the ended ones it listed.
    pub async fn sign_out_everywhere(&self, identity: &Identity) -> Result<Vec<Session>, Error> {
        self.update_identity(&identity.id, |i| {
            i.sign_out_sessions(None);
            Ok(true)
        })
        .await?;
        self.revoke_sessions(&identity.organization_id, &identity.id, None)
            .await
    }

    /// Ends every session of an identity but `keep`; returns the ended ones.
    pub async fn revoke_sessions(
        &self,
        org: &str,
        identity: &str,
        keep: Option<&str>,
    ) -> Result<Vec<Session>, Error> {
        let mut ended = Vec::new();
        for session in self.sessions(org, Some(identity)).await? {
            if Some(session.id.as_str()) != keep && self.revoke_session(&session.id).await? {
                ended.push(session);
            }
        }
        Ok(ended)
    }

    /// A one-time token by its secret value, without consuming it.
    pub async fn find_token(&self, token: &str) -> Result<OneTimeToken, Error> {
        let found: OneTimeToken = self
            .store
            .load(&OneTimeToken::key_of(&secrets::digest(token)))
            .await?
            .ok_or_else(|| Error::NotFound("Token not found".into()))?;
        if found.expires_at <= unix_now() {
            return Err(Error::NotFound("Token expired".into()));
        }
        Ok(found)
    }
}

fn check_fingerprint(session: &Session, fingerprint: Option<&str>) -> Result<(), AuthFailure> {
    match (&session.fingerprint, fingerprint) {
        (None, _) => Ok(()),
        (Some(expected), Some(sent))
            if secrets::constant_time_eq(expected, &secrets::digest(sent)) =>
        {
            Ok(())
        }
        _ => Err(AuthFailure::Fingerprint),
    }
}
