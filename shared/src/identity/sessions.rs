//! Sign-in, stored sessions and the per-request access check. Sessions slide: each refresh extends one by
//! its idle timeout, up to an absolute end. Refresh tokens rotate on use (`sb_rt_<sessionId>.<secret>`, only
//! the secret's hash stored) and a replaced one used again ends the whole session: whoever stole a token
//! and whoever it was stolen from cannot both go on.

use serde_json::{Value, json};

use super::access::{ACCESS_TOKEN_SECONDS, AUDIENCE, AccessClaims, ISSUER};
use super::lockout::{ACCOUNT_LOCKED, INVALID_CREDENTIALS};
use super::members::LastSeen;
use super::providers::Hints;
use super::records::{Identity, OneTimeToken, Session};
use super::{BUSY, Identities, MAX_RETRIES, secrets};
use crate::error::{AuthFailure, Error};
use crate::optimistic;
use crate::store::{Condition, Index, Item, Key, Query, Record, StoreError, Write};
use crate::time::{now_rfc3339, unix_now, unix_to_rfc3339};
use crate::webhooks::{Event, EventName};

/// Refresh tokens start so; the session id and the secret follow, split by a dot.
const REFRESH_PREFIX: &str = "sb_rt_";
/// Replaced refresh tokens a session remembers, to recognise their reuse.
const MAX_REPLACED: usize = 20;
/// The 401 of a refresh token that opens nothing.
const REFRESH_INVALID: &str = "token could not be verified";
/// The 403 of an admin opening a session for another admin.
pub const IMPERSONATE_ADMIN: &str = "An admin cannot open a session for another admin";

/// Where a session is being opened from.
#[derive(Debug, Clone, Default)]
pub struct SessionContext {
    pub fingerprint: Option<String>,
    pub user_agent: Option<String>,
    pub device: Option<Value>,
    /// A fixed session (and access token) lifetime that refreshes do not extend (the server API's).
    pub lifetime: Option<i64>,
    /// hoodie's `timeout`: this session's idle timeout, at most the configured one.
    pub timeout: Option<i64>,
    /// The admin opening it for the account.
    pub impersonated_by: Option<String>,
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

/// The caller of a request: its identity, and its session when it signed in here (an SDK token, signed by
/// its organization's server, has none).
#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    pub session: Option<Session>,
}

impl Principal {
    /// The id of the caller's own session, if it has one.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }
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
        // A session of a fixed lifetime (the server API's) gets an access token as long-lived.
        let access_seconds = context.lifetime.unwrap_or(ACCESS_TOKEN_SECONDS);
        let (session, secret) = self.new_session(&identity, context);
        self.store_session(identity, session, &secret, access_seconds, also)
            .await
    }

    /// A session for `identity` (not stored yet) and the secret of its first refresh token.
    fn new_session(&self, identity: &Identity, context: SessionContext) -> (Session, String) {
        let now = unix_now();
        let (idle, ends_at) = match context.lifetime {
            Some(lifetime) => (lifetime.max(1), now + lifetime.max(1)),
            None => (
                context.timeout.unwrap_or(self.session_limits.idle_seconds),
                now + self.session_limits.max_seconds,
            ),
        };
        let secret = secrets::generate("");
        let session = Session {
            id: uuid::Uuid::now_v7().simple().to_string(),
            identity_id: identity.id.clone(),
            organization_id: identity.organization_id.clone(),
            created_at: now_rfc3339(),
            last_used_at: now_rfc3339(),
            expires_at: (now + idle).min(ends_at),
            fingerprint: context.fingerprint.as_deref().map(secrets::digest),
            user_agent: context.user_agent,
            device: context.device,
            refresh: Some(secrets::digest(&secret)),
            replaced: Vec::new(),
            idle_seconds: Some(idle),
            ends_at: Some(ends_at),
            impersonated_by: context.impersonated_by,
            version: 1,
        };
        (session, secret)
    }

    async fn store_session(
        &self,
        identity: Identity,
        session: Session,
        secret: &str,
        access_seconds: i64,
        also: Vec<Write>,
    ) -> Result<SignedIn, Error> {
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
            refresh_token: refresh_token_of(&session.id, secret),
            session,
            identity,
            access_token,
            access_expires_at,
        })
    }

    /// hoodie's `sessions.add({username})` by an admin: a session for an account of the admin's
    /// organization, without its password, told as `session.impersonated`. Never for an admin.
    pub async fn impersonate(
        &self,
        admin: &Principal,
        username: &str,
        context: SessionContext,
    ) -> Result<SignedIn, Error> {
        self.require_admin(admin)?;
        let org = &admin.identity.organization_id;
        let target = self
            .identity_by_username(org, username)
            .await?
            .ok_or_else(|| Error::NotFound("Account not found".into()))?;
        if target.type_id == self.types.admin {
            return Err(Error::Forbidden(IMPERSONATE_ADMIN.into()));
        }
        if target.locked {
            return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()));
        }
        let context = SessionContext {
            impersonated_by: Some(admin.identity.id.clone()),
            ..context
        };
        let (session, secret) = self.new_session(&target, context);
        let told = Event::new(
            EventName::SessionImpersonated,
            org,
            json!({
                "accountId": target.id,
                "sessionId": session.id,
                "by": admin.identity.id,
                "at": session.created_at,
            }),
        );
        let also = vec![told.write()?];
        self.store_session(target, session, &secret, ACCESS_TOKEN_SECONDS, also)
            .await
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

    /// Rotates a refresh token: a new access token and a new refresh token, the session extended by its
    /// idle timeout (never past its end). The replaced token used again ends the session, so of two racing
    /// refreshes with one token, one wins and the session then ends.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        fingerprint: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let invalid = || Error::Unauthorized(REFRESH_INVALID.into());
        let (id, presented) = parse_refresh(refresh_token);
        optimistic!(MAX_RETRIES, BUSY, {
            let Some(session) = self.session(&id).await? else {
                return Err(invalid().into());
            };
            let current = session
                .refresh
                .clone()
                .unwrap_or_else(|| session.id.clone());
            if !secrets::constant_time_eq(&current, &presented) {
                if session
                    .replaced
                    .iter()
                    .any(|old| secrets::constant_time_eq(old, &presented))
                {
                    tracing::warn!(session = %session.id, "a replaced refresh token was used again; the session ends");
                    self.revoke_session(&session.id).await?;
                }
                return Err(invalid().into());
            }
            let identity = self
                .identity(&session.identity_id)
                .await?
                .filter(|i| !session.signed_out_by(i))
                .ok_or_else(invalid)?;
            if identity.locked {
                return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()).into());
            }
            check_fingerprint(&session, fingerprint)
                .map_err(|_| Error::Unauthorized("Token fails security check".into()))?;
            let now = unix_now();
            let idle = session
                .idle_seconds
                .unwrap_or(self.session_limits.idle_seconds);
            // A session from before sliding ends its maximum after its sign-in.
            let ends_at = session.ends_at.unwrap_or_else(|| {
                session
                    .created_at
                    .parse::<jiff::Timestamp>()
                    .map_or(now, |t| t.as_second())
                    + self.session_limits.max_seconds
            });
            let mut replaced = session.replaced.clone();
            replaced.push(current);
            let excess = replaced.len().saturating_sub(MAX_REPLACED);
            replaced.drain(..excess);
            let secret = secrets::generate("");
            let mut renewed = Session {
                refresh: Some(secrets::digest(&secret)),
                replaced,
                last_used_at: now_rfc3339(),
                expires_at: (now + idle).min(ends_at),
                idle_seconds: Some(idle),
                ends_at: Some(ends_at),
                ..session.clone()
            };
            self.store
                .transact(vec![Write::Put(
                    renewed.to_item()?,
                    Condition::Version(session.version),
                )])
                .await?;
            renewed.version = session.version + 1;
            let (access_token, access_expires_at) =
                self.sign_access(&renewed, ACCESS_TOKEN_SECONDS)?;
            Ok(SignedIn {
                refresh_token: refresh_token_of(&renewed.id, &secret),
                session: renewed,
                identity,
                access_token,
                access_expires_at,
            })
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
    /// that exists and is not locked, sent with the sign-in fingerprint. Session, identity and last-seen mark
    /// are read in one round trip (the mark moves at most once a minute).
    /// A token this deployment did not sign may be one its organization's server SDK signed (ContactsManager's
    /// `generateToken`): see [`Self::authenticate_sdk`].
    /// A token of one of the organization's trusted OpenID Connect providers (RS256, ES256) is that user
    /// ([`Self::authenticate_external`]), the request's `hints` choosing the organization.
    pub async fn authenticate(
        &self,
        bearer: Option<&str>,
        fingerprint: Option<&str>,
        hints: Hints<'_>,
    ) -> Result<Principal, AuthFailure> {
        let (principal, _) = self
            .authenticate_with(bearer, fingerprint, hints, Vec::new())
            .await?;
        Ok(principal)
    }

    /// As [`Self::authenticate`], also reading the items `extra` names: for a session token in the check's
    /// own round trip, so a route whose keys the request names waits for the store once. Answers those that
    /// exist; they are never returned when the token is refused.
    pub async fn authenticate_with(
        &self,
        bearer: Option<&str>,
        fingerprint: Option<&str>,
        hints: Hints<'_>,
        extra: Vec<Key>,
    ) -> Result<(Principal, Vec<Item>), AuthFailure> {
        let bearer = bearer.ok_or(AuthFailure::Invalid)?;
        let Some(claims) = self.access.verify(bearer) else {
            let principal = match jsonwebtoken::decode_header(bearer).map(|h| h.alg) {
                Ok(jsonwebtoken::Algorithm::HS256) => self.authenticate_sdk(bearer).await?,
                Ok(_) => {
                    let identity = self.authenticate_external(bearer, hints).await?;
                    self.seen(identity).await?
                }
                Err(_) => return Err(AuthFailure::Invalid),
            };
            let items = match extra.is_empty() {
                true => Vec::new(),
                false => self
                    .store
                    .batch_get(&extra)
                    .await
                    .map_err(AuthFailure::Store)?,
            };
            return Ok((principal, items));
        };
        let mut keys = vec![
            Session::key_of(&claims.sid),
            Identity::key_of(&claims.sub),
            LastSeen::key_of(&claims.sub),
        ];
        keys.extend(extra);
        let mut items = self
            .store
            .batch_get(&keys)
            .await
            .map_err(AuthFailure::Store)?;
        let find = |key: &Key| items.iter().find(|i| i.key == *key);
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
        self.seen_marks
            .mark(self.store.as_ref(), &identity.id, find(&keys[2]))
            .await;
        items.retain(|i| !keys[..3].contains(&i.key));
        let principal = Principal {
            identity,
            session: Some(session),
        };
        Ok((principal, items))
    }

    /// An end user's token signed by its organization's server SDK with the organization's active API
    /// secret (HS256 pinned, `exp` required, `api_key` naming the organization): the caller is the identity
    /// with that external id in that organization. The secret is read on every check, so a rotated one
    /// stops its tokens at once.
    async fn authenticate_sdk(&self, token: &str) -> Result<Principal, AuthFailure> {
        let (org, claims) = match self.verify_server_token(token).await {
            Ok(verified) => verified,
            Err(Error::Unauthorized(_)) => return Err(AuthFailure::Invalid),
            Err(e) => return Err(AuthFailure::Store(StoreError::Unavailable(e.to_string()))),
        };
        let identity = self
            .identity_by_external_id(&org.organization_id, &claims.user_id)
            .await
            .map_err(|e| AuthFailure::Store(StoreError::Unavailable(e.to_string())))?
            .ok_or(AuthFailure::Invalid)?;
        if identity.locked {
            return Err(AuthFailure::Locked);
        }
        self.seen(identity).await
    }

    /// A caller without a session here (an SDK or external token), its last-seen mark moved (read first,
    /// unless this process saw it move within the minute).
    async fn seen(&self, identity: Identity) -> Result<Principal, AuthFailure> {
        if !self.seen_marks.fresh(&identity.id) {
            let seen = self
                .store
                .get(&LastSeen::key_of(&identity.id))
                .await
                .map_err(AuthFailure::Store)?;
            self.seen_marks
                .mark(self.store.as_ref(), &identity.id, seen.as_ref())
                .await;
        }
        Ok(Principal {
            identity,
            session: None,
        })
    }

    /// Sessions of one identity, or (for admins, `identity = None`) of the whole organization.
    pub async fn sessions(&self, org: &str, identity: Option<&str>) -> Result<Vec<Session>, Error> {
        self.owned(&format!("ORG#{org}#SESSIONS"), identity).await
    }

    /// The usernames of `ids` (one round trip), for the session views' `account`.
    pub async fn usernames(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, Error> {
        let mut keys: Vec<_> = ids.iter().map(|id| Identity::key_of(id)).collect();
        keys.sort_by(|a, b| a.pk.cmp(&b.pk));
        keys.dedup();
        if keys.is_empty() {
            return Ok(Default::default());
        }
        let mut names = std::collections::HashMap::new();
        for item in self.store.batch_get(&keys).await? {
            let identity = Identity::from_item(&item)?;
            names.insert(identity.id, identity.username);
        }
        Ok(names)
    }

    /// A page of the organization's sessions (of one account, if given), oldest first.
    pub async fn sessions_page(
        &self,
        org: &str,
        identity: Option<&str>,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<(Vec<Session>, Option<String>), Error> {
        let mut query = Query::new(format!("ORG#{org}#SESSIONS"))
            .on(Index::Gsi1)
            .limit(limit)
            .after(cursor);
        if let Some(identity) = identity {
            query = query.prefix(format!("{identity}#"));
        }
        let page = self.store.query(&query).await?;
        let sessions = page
            .items
            .iter()
            .map(Session::from_item)
            .collect::<Result<_, _>>()?;
        Ok((sessions, page.cursor))
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

fn refresh_token_of(session: &str, secret: &str) -> String {
    format!("{REFRESH_PREFIX}{session}.{secret}")
}

/// The session a refresh token names and the hash to compare with its current one. A token from before
/// rotation (no dot) is its session's id by its hash.
fn parse_refresh(token: &str) -> (String, String) {
    match token
        .strip_prefix(REFRESH_PREFIX)
        .and_then(|rest| rest.split_once('.'))
    {
        Some((session, secret)) => (session.to_owned(), secrets::digest(secret)),
        None => (secrets::digest(token), secrets::digest(token)),
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
