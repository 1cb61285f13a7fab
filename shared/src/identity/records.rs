//! The identity records and their keys (see docs/data-model.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::store::{Condition, Item, Key, Record, Write, versioned};
use crate::time::now_rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub api_key: String,
    /// Verifies the HS256 tokens the organization's server SDK signs; symmetric, so stored as given.
    pub api_secret: String,
    pub created_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Organization {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("ORG#{id}"), "ORG")
    }
}

impl Record for Organization {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    versioned!();
}

/// Finds the organization of a server API key in one read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationKey {
    pub api_key: String,
    pub organization_id: String,
    pub api_secret: String,
    #[serde(skip)]
    pub version: u64,
}

impl OrganizationKey {
    pub fn key_of(api_key: &str) -> Key {
        Key::new(format!("ORGKEY#{api_key}"), "ORGKEY")
    }
}

impl Record for OrganizationKey {
    fn key(&self) -> Key {
        Self::key_of(&self.api_key)
    }
    versioned!();
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub organization_id: String,
    /// In its NFKC_Casefold form ([`super::usernames::canonical`]): compared that way everywhere.
    pub username: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub type_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The admin lock (`/identities/{id}/lock`): no sign-in, no session, no key until unlocked.
    #[serde(default)]
    pub locked: bool,
    /// Password attempts since the last good one, each counted before it is verified.
    #[serde(default)]
    pub failed_logins: u32,
    /// End (unix seconds) of the failed sign-in lockout, which blocks password sign-in only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// Lockouts in a row, each longer than the last; a good sign-in resets it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lockouts: u32,
    /// Password attempts admitted and not yet resolved (unix seconds): with the failures they bound how many
    /// passwords are verified at once; an attempt cut short (an outage) drops out after a few seconds
    /// instead of counting as a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_attempts: Vec<i64>,
    /// "Log out everywhere": sessions created at or before this instant are over, whether or not the
    /// (eventually consistent) session index listed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out_at: Option<String>,
    /// The one session that sign-out spared (the caller's own, on a password change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out_except: Option<String>,
    pub external_id: Option<String>,
    pub profile_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Identity {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("IDENT#{id}"), "IDENT")
    }

    /// The item that exists exactly while identity `id` is locked: a write can then carry "not locked"
    /// as a [`Write::Check`] (`Absent`), which a field inside the identity's JSON body could not be.
    pub fn lock_key(id: &str) -> Key {
        Key::new(format!("IDENT#{id}"), "LOCKED")
    }

    /// The item a deleted identity leaves in its partition until its remains are gone (`remains::forget`):
    /// its organization, by which the indexes of its API keys, sessions and tokens are keyed.
    pub fn remains_key(id: &str) -> Key {
        Key::new(format!("IDENT#{id}"), "REMAINS")
    }

    /// The write that keeps the lock item in step when `before` becomes `after`, if the lock changed.
    pub fn lock_write(before: &Identity, after: &Identity) -> Option<Write> {
        match (before.locked, after.locked) {
            (false, true) => Some(Write::Put(
                Item::new(Self::lock_key(&after.id), json!({ "identityId": after.id })),
                Condition::Absent,
            )),
            (true, false) => Some(Write::Delete(Self::lock_key(&before.id), Condition::Exists)),
            _ => None,
        }
    }

    /// Ends every session created until now but `keep`, in the write that carries this record, so no
    /// session the (eventually consistent) index does not list yet survives a password change.
    pub fn sign_out_sessions(&mut self, keep: Option<&str>) {
        self.signed_out_at = Some(now_rfc3339());
        self.signed_out_except = keep.map(str::to_owned);
    }

    /// The markers that keep username, email and external id unique within the organization. A server-API
    /// identity is unique by its external id only: its username is no marker, so no sign-up can take it.
    pub fn markers(&self) -> Vec<Marker> {
        let org = &self.organization_id;
        let mut markers = Vec::new();
        match &self.external_id {
            Some(external) => markers.push(Marker::external(org, external, &self.id)),
            None => markers.push(Marker::username(org, &self.username, &self.id)),
        }
        if let Some(email) = &self.email {
            markers.push(Marker::email(org, email, &self.id));
        }
        markers
    }

    /// hoodie's account properties.
    pub fn account_view(&self) -> Value {
        json!({
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "phone": self.phone,
            "type": self.type_id,
            "roles": self.roles,
            "locked": self.locked,
            "lockedUntil": self
                .locked_until
                .filter(|until| *until > crate::time::unix_now())
                .map(crate::time::unix_to_rfc3339),
            "externalId": self.external_id,
            "profileId": self.profile_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The server API's user (the SDKs' `data.user`), with its profile's name and properties.
    pub fn server_user_view(&self, profile: Option<&Profile>) -> Value {
        let property = |name: &str| {
            profile
                .and_then(|p| p.properties.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        json!({
            "id": self.id,
            "organization_id": self.organization_id,
            "organization_user_id": self.external_id,
            "email": self.email,
            "phone": self.phone,
            "full_name": profile.map(|p| p.name.clone()),
            "avatar_url": property("avatarUrl"),
            "contact_metadata": property("metadata"),
            "is_active": !self.locked,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

impl Record for Identity {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(Key::new(
            format!("ORG#{}#IDENTS", self.organization_id),
            format!("{}#{}", self.created_at, self.id),
        ))
    }
    versioned!();
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A uniqueness marker: its key is the unique value, its body the identity holding it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    #[serde(skip)]
    pub pk: String,
    pub identity_id: String,
    #[serde(skip)]
    pub version: u64,
}

impl Marker {
    fn new(pk: String, identity_id: &str) -> Self {
        Self {
            pk,
            identity_id: identity_id.to_owned(),
            version: 0,
        }
    }

    /// `username` in its canonical form ([`super::usernames::canonical`]).
    pub fn username_key(org: &str, username: &str) -> Key {
        Key::new(format!("USERNAME#{org}#{username}"), "UNIQUE")
    }

    pub fn external_key(org: &str, external_id: &str) -> Key {
        Key::new(format!("EXTID#{org}#{external_id}"), "UNIQUE")
    }

    pub fn email_key(org: &str, email: &str) -> Key {
        Key::new(format!("EMAIL#{org}#{}", email.to_lowercase()), "UNIQUE")
    }

    pub fn username(org: &str, username: &str, identity_id: &str) -> Self {
        Self::new(Self::username_key(org, username).pk, identity_id)
    }

    pub fn email(org: &str, email: &str, identity_id: &str) -> Self {
        Self::new(Self::email_key(org, email).pk, identity_id)
    }

    pub fn external(org: &str, external_id: &str, identity_id: &str) -> Self {
        Self::new(Self::external_key(org, external_id).pk, identity_id)
    }
}

impl Record for Marker {
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), "UNIQUE")
    }
    versioned!();
}

/// The user profile of seed 003, which is also the hoodie account's `profile`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    pub identity_id: String,
    pub organization_id: String,
    pub name: String,
    pub avatar: Option<Value>,
    /// A UUIDv7 minted when the avatar was last removed: an upload issued before then (a smaller objectId,
    /// also a UUIDv7) never attaches, however late its S3 event comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_removed: Option<String>,
    /// Free-form profile properties of the accounts API (hoodie's `profile: {...}`).
    #[serde(default)]
    pub properties: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Profile {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("PROFILE#{id}"), "PROFILE")
    }

    /// Takes the avatar off, and marks when: uploads issued before now can no longer attach.
    pub fn remove_avatar(&mut self) -> Option<Value> {
        self.avatar_removed = Some(uuid::Uuid::now_v7().to_string());
        self.avatar.take()
    }

    /// The user entity of the user service.
    pub fn user_view(&self) -> Value {
        json!({
            "id": self.id,
            "identityId": self.identity_id,
            "name": self.name,
            "avatar": self.avatar,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// The account profile of the accounts API: the properties plus name and avatar.
    pub fn account_view(&self) -> Value {
        let mut view = self.properties.clone();
        view.insert("id".into(), json!(self.id));
        view.insert("name".into(), json!(self.name));
        view.insert("avatar".into(), json!(self.avatar));
        Value::Object(view)
    }
}

impl Record for Profile {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(Key::new(
            format!("ORG#{}#PROFILES", self.organization_id),
            format!("{}#{}", self.name, self.id),
        ))
    }
    versioned!();
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The public session id, which access tokens name (`sid`). A session from before refresh tokens
    /// rotated has the SHA-256 of its refresh token here.
    pub id: String,
    pub identity_id: String,
    pub organization_id: String,
    pub created_at: String,
    pub last_used_at: String,
    /// Now plus its idle timeout at sign-in and at each refresh, never past `ends_at`.
    pub expires_at: i64,
    /// SHA-256 of the sign-in fingerprint, if one was given.
    pub fingerprint: Option<String>,
    pub user_agent: Option<String>,
    pub device: Option<Value>,
    /// SHA-256 of the secret part of the current refresh token; `None` for a session from before rotation
    /// (its `id` is that hash).
    #[serde(default)]
    pub refresh: Option<String>,
    /// The hashes of the refresh tokens it replaced, newest last: using one again ends the session.
    #[serde(default)]
    pub replaced: Vec<String>,
    /// How far each refresh extends it (the sign-in's `timeout`, else the configured idle limit).
    #[serde(default)]
    pub idle_seconds: Option<i64>,
    /// When it ends whatever its refreshes (sign-in plus the configured maximum).
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// The admin who opened it for this account (hoodie's `sessions.add({username})`).
    #[serde(default)]
    pub impersonated_by: Option<String>,
    #[serde(skip)]
    pub version: u64,
}

impl Session {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("SESSION#{id}"), "SESSION")
    }

    /// Ended by a "log out everywhere" of its identity (both RFC 3339 with milliseconds, so they compare
    /// as text).
    pub fn signed_out_by(&self, identity: &Identity) -> bool {
        identity
            .signed_out_at
            .as_ref()
            .is_some_and(|at| self.created_at <= *at)
            && identity.signed_out_except.as_deref() != Some(self.id.as_str())
    }

    /// hoodie's session view, with its account (`{id, username}`, from `username`).
    pub fn view(&self, username: &str) -> Value {
        json!({
            "id": self.id,
            "accountId": self.identity_id,
            "account": {"id": self.identity_id, "username": username},
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
            "expiresAt": crate::time::unix_to_rfc3339(self.expires_at),
            "endsAt": self.ends_at.map(crate::time::unix_to_rfc3339),
            "userAgent": self.user_agent,
            "device": self.device,
            "impersonatedBy": self.impersonated_by,
        })
    }
}

impl Record for Session {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(owned_index(
            "SESSIONS",
            &self.organization_id,
            &self.identity_id,
            &self.created_at,
            &self.id,
        ))
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}

/// Index key of a per-identity item listed by owner (prefix `<identityId>#`) or, for admins, across the
/// organization (no prefix).
pub fn owned_index(kind: &str, org: &str, identity: &str, created_at: &str, id: &str) -> Key {
    Key::new(
        format!("ORG#{org}#{kind}"),
        format!("{identity}#{created_at}#{id}"),
    )
}

/// Expired one-time tokens stay readable this long, so that using one says "Token expired".
pub const EXPIRED_TOKEN_GRACE_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTimeToken {
    /// SHA-256 of the token.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub identity_id: String,
    pub organization_id: String,
    pub created_at: String,
    pub expires_at: i64,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(skip)]
    pub version: u64,
}

impl OneTimeToken {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("TOKEN#{id}"), "TOKEN")
    }

    pub fn view(&self) -> Value {
        let mut view = self.properties.clone();
        view.insert("id".into(), json!(self.id));
        view.insert("type".into(), json!(self.kind));
        view.insert("accountId".into(), json!(self.identity_id));
        view.insert("createdAt".into(), json!(self.created_at));
        view.insert(
            "expiresAt".into(),
            json!(crate::time::unix_to_rfc3339(self.expires_at)),
        );
        Value::Object(view)
    }
}

impl Record for OneTimeToken {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(owned_index(
            "TOKENS",
            &self.organization_id,
            &self.identity_id,
            &self.created_at,
            &self.id,
        ))
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at + EXPIRED_TOKEN_GRACE_SECONDS)
    }
    versioned!();
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// SHA-256 of the key.
    pub id: String,
    pub identity_id: String,
    pub organization_id: String,
    pub name: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl ApiKey {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("APIKEY#{id}"), "APIKEY")
    }

    pub fn view(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "createdAt": self.created_at })
    }
}

impl Record for ApiKey {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn index(&self) -> Option<Key> {
        Some(owned_index(
            "APIKEYS",
            &self.organization_id,
            &self.identity_id,
            &self.created_at,
            &self.id,
        ))
    }
    versioned!();
}
