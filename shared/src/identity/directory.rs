//! Organizations, identities and profiles: creation with uniqueness markers in one transaction, lookups,
//! version-checked changes, removal.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::events::{self, Actor};
use super::mail::{Letter, Mail};
use super::members::{self, Source};
use super::records::{Identity, Marker, Organization, OrganizationKey, Profile};
use super::{Identities, MAX_RETRIES, NOT_AUTHORIZED, Principal, password, usernames};
use crate::error::Error;
use crate::optimistic;
use crate::optimistic::Retry;
use crate::store::{Backoff, Condition, Index, Item, Query, Record, StoreError, Write};
use crate::time::now_rfc3339;

/// The 409 of a record other requests keep changing.
const ACCOUNT_BUSY: &str = "The account is being changed by other requests; try again";
/// The 409 of a record other requests keep changing.
const PROFILE_BUSY: &str = "The profile is being changed by other requests; try again";

/// What sign-up, the admin API and the server API know about a new identity.
#[derive(Debug, Clone, Default)]
pub struct NewIdentity {
    pub organization_id: String,
    pub username: String,
    pub password: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub type_id: String,
    pub external_id: Option<String>,
    /// Creates the profile in the same transaction.
    pub profile: Option<(String, Map<String, Value>)>,
}

/// Admin listing of user profiles (seed 003 `GET /users`): exact filters and page/limit.
#[derive(Debug, Clone)]
pub struct ProfileFilter {
    pub name: Option<String>,
    pub identity_id: Option<String>,
    /// Any other stored field (`status=active`, `email=…`): equal to the text, or to its JSON value
    /// for a field that is no string (`verified=true`).
    pub fields: Vec<(String, String)>,
    pub page: usize,
    pub limit: usize,
}

impl ProfileFilter {
    fn fits(&self, profile: &Profile) -> bool {
        let view = profile.user_view();
        self.name.as_ref().is_none_or(|n| *n == profile.name)
            && self
                .identity_id
                .as_ref()
                .is_none_or(|i| *i == profile.identity_id)
            && self.fields.iter().all(|(key, wanted)| {
                match profile.properties.get(key).or_else(|| view.get(key)) {
                    Some(Value::String(text)) => text == wanted,
                    Some(Value::Null) | None => false,
                    Some(other) => serde_json::from_str::<Value>(wanted).is_ok_and(|w| w == *other),
                }
            })
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Identities {
    /// Creates the organization and its API-key marker unless it exists; never duplicates it.
    pub async fn ensure_organization(
        &self,
        id: &str,
        name: &str,
        api_key: &str,
        api_secret: &str,
    ) -> Result<Organization, Error> {
        let org = Organization {
            id: id.into(),
            name: name.into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            created_at: now_rfc3339(),
            version: 0,
        };
        let marker = OrganizationKey {
            api_key: api_key.into(),
            organization_id: id.into(),
            api_secret: api_secret.into(),
            version: 0,
        };
        let created = self
            .store
            .transact(vec![
                Write::Put(org.to_item()?, Condition::Absent),
                Write::Put(marker.to_item()?, Condition::Absent),
            ])
            .await;
        match created {
            Ok(()) => Ok(org),
            Err(StoreError::ConditionFailed | StoreError::Conflict) => self
                .store
                .load::<Organization>(&org.key())
                .await?
                .ok_or_else(|| {
                    Error::Conflict("That API key belongs to another organization".into())
                }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn organization(&self, id: &str) -> Result<Option<Organization>, Error> {
        Ok(self.store.load(&Organization::key_of(id)).await?)
    }

    /// The organization a server API key belongs to, with the secret its SDK signs with (one read).
    pub async fn organization_key(&self, api_key: &str) -> Result<Option<OrganizationKey>, Error> {
        Ok(self.store.load(&OrganizationKey::key_of(api_key)).await?)
    }

    /// Creates an identity, its uniqueness markers and (optionally) its profile, all or nothing.
    pub async fn create_identity(
        &self,
        new: NewIdentity,
    ) -> Result<(Identity, Option<Profile>), Error> {
        let username = usernames::canonical(&new.username)?;
        let password_hash = match new.password {
            Some(p) => Some(password::hash(p).await?),
            None => None,
        };
        let now = now_rfc3339();
        let id = new_id();
        let profile = new.profile.map(|(name, properties)| Profile {
            id: new_id(),
            identity_id: id.clone(),
            organization_id: new.organization_id.clone(),
            name,
            avatar: None,
            avatar_removed: None,
            properties,
            created_at: now.clone(),
            updated_at: now.clone(),
            version: 0,
        });
        let identity = Identity {
            id,
            organization_id: new.organization_id,
            username,
            email: new
                .email
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty()),
            phone: new.phone,
            password_hash,
            type_id: new.type_id,
            roles: Vec::new(),
            locked: false,
            failed_logins: 0,
            locked_until: None,
            lockouts: 0,
            pending_attempts: Vec::new(),
            signed_out_at: None,
            signed_out_except: None,
            external_id: new.external_id,
            profile_id: profile.as_ref().map(|p| p.id.clone()),
            created_at: now.clone(),
            updated_at: now,
            version: 0,
        };
        let mut writes = vec![Write::Put(identity.to_item()?, Condition::Absent)];
        for marker in identity.markers() {
            writes.push(Write::Put(marker.to_item()?, Condition::Absent));
        }
        if let Some(profile) = &profile {
            writes.push(Write::Put(profile.to_item()?, Condition::Absent));
        }
        writes.extend(member_terms(&identity, profile.as_ref(), true)?);
        writes.push(events::created(&identity, profile.as_ref()).write()?);
        let mut result = Ok(());
        let mut retry = Backoff::new(MAX_RETRIES);
        while retry.attempt().await {
            result = self.store.transact(writes.clone()).await;
            if !matches!(result, Err(StoreError::Conflict)) {
                break;
            }
        }
        match result {
            Ok(()) => Ok((identity, profile)),
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                Err(self.taken(&identity).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Which unique value was taken, for the message; the write itself already failed atomically.
    async fn taken(&self, identity: &Identity) -> Error {
        let org = &identity.organization_id;
        // Held by another identity: a rename keeps its own email marker, which is no clash.
        let taken = |key| async move {
            matches!(self.store.load::<Marker>(&key).await, Ok(Some(m)) if m.identity_id != identity.id)
        };
        if let Some(email) = &identity.email
            && taken(Marker::email_key(org, email)).await
        {
            return Error::Conflict("An account with that email already exists".into());
        }
        if let Some(external) = &identity.external_id
            && taken(Marker::external_key(org, external)).await
        {
            return Error::Conflict("An account with that external id already exists".into());
        }
        Error::Conflict("An account with that username already exists".into())
    }

    pub async fn identity(&self, id: &str) -> Result<Option<Identity>, Error> {
        Ok(self.store.load(&Identity::key_of(id)).await?)
    }

    async fn identity_by_marker(&self, key: crate::store::Key) -> Result<Option<Identity>, Error> {
        match self.store.load::<Marker>(&key).await? {
            Some(marker) => self.identity(&marker.identity_id).await,
            None => Ok(None),
        }
    }

    pub async fn identity_by_username(
        &self,
        org: &str,
        username: &str,
    ) -> Result<Option<Identity>, Error> {
        // A name that cannot be canonical names nobody.
        let Ok(username) = usernames::canonical(username) else {
            return Ok(None);
        };
        self.identity_by_marker(Marker::username_key(org, &username))
            .await
    }

    pub async fn identity_by_external_id(
        &self,
        org: &str,
        external_id: &str,
    ) -> Result<Option<Identity>, Error> {
        self.identity_by_marker(Marker::external_key(org, external_id))
            .await
    }

    /// Applies `change` with the version check (retrying on a concurrent write). Username and email changes
    /// move their markers, and the change's events are written, in the same transaction.
    pub async fn update_identity(
        &self,
        id: &str,
        change: impl FnMut(&mut Identity) -> Result<bool, Error>,
    ) -> Result<Option<Identity>, Error> {
        self.update_identity_as(id, Actor::System, change).await
    }

    /// [`Self::update_identity`] made by `actor`, whom the events name.
    pub async fn update_identity_as(
        &self,
        id: &str,
        actor: Actor<'_>,
        mut change: impl FnMut(&mut Identity) -> Result<bool, Error>,
    ) -> Result<Option<Identity>, Error> {
        optimistic!(MAX_RETRIES, ACCOUNT_BUSY, {
            let Some(before) = self.identity(id).await? else {
                return Ok(None);
            };
            let mut after = before.clone();
            if !change(&mut after)? {
                return Ok(Some(after));
            }
            if after.username != before.username {
                after.username = usernames::canonical(&after.username)?;
            }
            after.email = after
                .email
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty());
            after.updated_at = now_rfc3339();
            let mut writes = vec![Write::Put(
                after.to_item()?,
                Condition::Version(before.version),
            )];
            let (old, new) = (before.markers(), after.markers());
            for marker in &old {
                if !new.iter().any(|m| m.pk == marker.pk) {
                    writes.push(Write::Delete(marker.key(), Condition::Exists));
                }
            }
            for marker in &new {
                if !old.iter().any(|m| m.pk == marker.pk) {
                    writes.push(Write::Put(marker.to_item()?, Condition::Absent));
                }
            }
            writes.extend(Identity::lock_write(&before, &after));
            let moves_markers = writes.len() > 1;
            writes.extend(members::term_writes(
                &after.organization_id,
                &after.id,
                Source::Account,
                &members::account_terms(&before),
                &members::account_terms(&after),
            )?);
            for event in events::updated(&before, &after, actor) {
                writes.push(event.write()?);
            }
            // The address an account leaves is told, so a takeover does not go unnoticed.
            if let Some(old) = before
                .email
                .as_ref()
                .filter(|old| after.email.as_ref() != Some(old))
            {
                let letter = Letter::EmailChanged {
                    username: after.username.clone(),
                    new_email: after.email.clone().unwrap_or_default(),
                };
                writes.push(Mail::new(&after.organization_id, old, letter).write()?);
            }
            match self.store.transact(writes).await {
                Ok(()) => {
                    after.version = before.version + 1;
                    Ok(Some(after))
                }
                // Either the identity changed under us (retry) or a new unique value is taken.
                Err(StoreError::ConditionFailed) if moves_markers => {
                    let current = self.identity(id).await?;
                    if current.is_some_and(|c| c.version == before.version) {
                        return Err(self.taken(&after).await.into());
                    }
                    Err(Retry::Again)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Removes the identity, its markers and its profile at once. Its sessions and keys stop working
    /// because every check reads the identity.
    /// Answers the identity and the profile it had (whose avatar object the caller then deletes).
    pub async fn delete_identity(
        &self,
        id: &str,
    ) -> Result<Option<(Identity, Option<Profile>)>, Error> {
        optimistic!(MAX_RETRIES, ACCOUNT_BUSY, {
            let Some(identity) = self.identity(id).await? else {
                return Ok(None);
            };
            let profile = match &identity.profile_id {
                Some(profile) => self.profile(profile).await?,
                None => None,
            };
            let mut writes = vec![Write::Delete(
                identity.key(),
                Condition::Version(identity.version),
            )];
            for marker in identity.markers() {
                writes.push(Write::Delete(marker.key(), Condition::Exists));
            }
            if identity.locked {
                writes.push(Write::Delete(
                    Identity::lock_key(&identity.id),
                    Condition::Exists,
                ));
            }
            // At the version read: the avatar answered is the one deleted with it.
            if let Some(profile) = &profile {
                writes.push(Write::Delete(
                    profile.key(),
                    Condition::Version(profile.version),
                ));
            }
            writes.extend(member_terms(&identity, profile.as_ref(), false)?);
            writes.push(events::deleted(&identity).write()?);
            // What the stream's clean-up needs to find the rest (`remains::forget`).
            writes.push(Write::Put(
                Item::new(
                    Identity::remains_key(&identity.id),
                    json!({ "organizationId": identity.organization_id }),
                ),
                Condition::Absent,
            ));
            self.store.transact(writes).await?;
            Ok(Some((identity, profile)))
        })
    }

    /// Identities of an organization by creation time, a page at a time.
    pub async fn list_identities(
        &self,
        org: &str,
        limit: u32,
        newest_first: bool,
        cursor: Option<String>,
    ) -> Result<(Vec<Identity>, Option<String>), Error> {
        let mut query = Query::new(format!("ORG#{org}#IDENTS"))
            .on(Index::Gsi1)
            .limit(limit)
            .after(cursor);
        if newest_first {
            query = query.descending();
        }
        let page = self.store.query(&query).await?;
        let identities = page
            .items
            .iter()
            .map(Identity::from_item)
            .collect::<Result<_, _>>()?;
        Ok((identities, page.cursor))
    }

    pub async fn profile(&self, id: &str) -> Result<Option<Profile>, Error> {
        Ok(self.store.load(&Profile::key_of(id)).await?)
    }

    /// Admins act within their organization; others on what is theirs, and guests may read but not change it.
    pub fn may_act(&self, caller: &Principal, owner: &str, org: &str, writes: bool) -> bool {
        (self.is_admin(caller) && caller.identity.organization_id == org)
            || (caller.identity.id == owner
                && !(writes && caller.identity.type_id == self.types.guest))
    }

    /// The profile `id` if the caller may read it (or change it, with `writes`). Only an admin learns whether
    /// a profile exists: anyone else gets seed 003's 403 either way. `missing` is the route's 404 message.
    pub async fn profile_for(
        &self,
        caller: &Principal,
        id: &str,
        writes: bool,
        missing: &str,
    ) -> Result<Profile, Error> {
        self.profile_as(caller, self.profile(id).await?, writes, missing)
    }

    /// As [`Self::profile_for`], with the profile read already (with the caller's token check, by
    /// [`Profile::key_of`]) among `read`.
    pub fn profile_among(
        &self,
        caller: &Principal,
        read: &[Item],
        id: &str,
        missing: &str,
    ) -> Result<Profile, Error> {
        let key = Profile::key_of(id);
        let profile = read
            .iter()
            .find(|i| i.key == key)
            .map(Profile::from_item)
            .transpose()?;
        self.profile_as(caller, profile, false, missing)
    }

    fn profile_as(
        &self,
        caller: &Principal,
        profile: Option<Profile>,
        writes: bool,
        missing: &str,
    ) -> Result<Profile, Error> {
        match profile {
            Some(p) if self.may_act(caller, &p.identity_id, &p.organization_id, writes) => Ok(p),
            Some(_) => Err(Error::Forbidden(NOT_AUTHORIZED.into())),
            None if self.is_admin(caller) => Err(Error::NotFound(missing.into())),
            None => Err(Error::Forbidden(NOT_AUTHORIZED.into())),
        }
    }

    /// Creates the profile of an identity of `organization` that has none (one profile per identity,
    /// checked by the identity's version in the same transaction). `None` if there is no such identity in
    /// that organization.
    pub async fn create_profile(
        &self,
        organization: &str,
        identity_id: &str,
        name: String,
    ) -> Result<Option<Profile>, Error> {
        optimistic!(MAX_RETRIES, ACCOUNT_BUSY, {
            let Some(mut identity) = self
                .identity(identity_id)
                .await?
                .filter(|i| i.organization_id == organization)
            else {
                return Ok(None);
            };
            if identity.profile_id.is_some() {
                return Err(Error::Conflict("User profile already exists".into()).into());
            }
            let now = now_rfc3339();
            let profile = Profile {
                id: new_id(),
                identity_id: identity.id.clone(),
                organization_id: identity.organization_id.clone(),
                name: name.clone(),
                avatar: None,
                avatar_removed: None,
                properties: Map::new(),
                created_at: now.clone(),
                updated_at: now.clone(),
                version: 0,
            };
            let expected = identity.version;
            identity.profile_id = Some(profile.id.clone());
            identity.updated_at = now;
            let mut writes = vec![
                Write::Put(identity.to_item()?, Condition::Version(expected)),
                Write::Put(profile.to_item()?, Condition::Absent),
            ];
            writes.extend(members::term_writes(
                organization,
                identity_id,
                Source::Profile,
                &BTreeSet::new(),
                &members::profile_terms(&profile),
            )?);
            writes.extend(
                events::profile_updated(None, &profile)
                    .map(|e| e.write())
                    .transpose()?,
            );
            self.store.transact(writes).await?;
            Ok(Some(Profile {
                version: 1,
                ..profile
            }))
        })
    }

    /// Version-checked profile change; `change` returns `Ok(false)` when there is nothing to write.
    pub async fn update_profile(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Profile) -> Result<bool, Error>,
    ) -> Result<Option<Profile>, Error> {
        self.modify::<Profile>(
            &Profile::key_of(id),
            |profile| {
                let changed = change(profile)?;
                if changed {
                    profile.updated_at = now_rfc3339();
                }
                Ok(changed)
            },
            |before, after| {
                let mut writes = members::term_writes(
                    &after.organization_id,
                    &after.identity_id,
                    Source::Profile,
                    &members::profile_terms(before),
                    &members::profile_terms(after),
                )?;
                if let Some(event) = events::profile_updated(Some(before), after) {
                    writes.push(event.write()?);
                }
                Ok(writes)
            },
        )
        .await
    }

    /// Deletes a profile and unlinks it from its identity, atomically.
    pub async fn delete_profile(&self, id: &str) -> Result<Option<Profile>, Error> {
        optimistic!(MAX_RETRIES, PROFILE_BUSY, {
            let Some(profile) = self.profile(id).await? else {
                return Ok(None);
            };
            let mut writes = vec![Write::Delete(
                profile.key(),
                Condition::Version(profile.version),
            )];
            writes.extend(members::term_writes(
                &profile.organization_id,
                &profile.identity_id,
                Source::Profile,
                &members::profile_terms(&profile),
                &BTreeSet::new(),
            )?);
            if let Some(before) = self.identity(&profile.identity_id).await?
                && before.profile_id.as_deref() == Some(id)
            {
                let mut identity = before.clone();
                identity.profile_id = None;
                identity.updated_at = now_rfc3339();
                writes.push(Write::Put(
                    identity.to_item()?,
                    Condition::Version(before.version),
                ));
                for event in events::updated(&before, &identity, Actor::System) {
                    writes.push(event.write()?);
                }
            }
            self.store.transact(writes).await?;
            Ok(Some(profile))
        })
    }

    /// Profiles of an organization ordered by name, filtered exactly, `limit` per page.
    pub async fn list_profiles(
        &self,
        org: &str,
        filter: &ProfileFilter,
    ) -> Result<Vec<Profile>, Error> {
        let mut query = Query::new(format!("ORG#{org}#PROFILES"))
            .on(Index::Gsi1)
            .limit(1000);
        if let Some(name) = &filter.name {
            query = query.prefix(format!("{name}#"));
        }
        let skip = (filter.page.saturating_sub(1)) * filter.limit;
        let mut matched = 0usize;
        let mut out = Vec::with_capacity(filter.limit);
        loop {
            let page = self.store.query(&query).await?;
            for item in &page.items {
                let profile = Profile::from_item(item)?;
                if filter.fits(&profile) {
                    matched += 1;
                    if matched > skip {
                        out.push(profile);
                        if out.len() == filter.limit {
                            return Ok(out);
                        }
                    }
                }
            }
            match page.cursor {
                Some(cursor) => query = query.after(Some(cursor)),
                None => return Ok(out),
            }
        }
    }
}

/// The directory terms of a new member (`create`) or of one leaving (its account's and its profile's).
fn member_terms(
    identity: &Identity,
    profile: Option<&Profile>,
    create: bool,
) -> Result<Vec<Write>, Error> {
    let none = BTreeSet::new();
    let (org, id) = (&identity.organization_id, &identity.id);
    let mut writes = Vec::new();
    let account = members::account_terms(identity);
    let named = profile.map(members::profile_terms).unwrap_or_default();
    for (source, terms) in [(Source::Account, &account), (Source::Profile, &named)] {
        writes.extend(match create {
            true => members::term_writes(org, id, source, &none, terms)?,
            false => members::term_writes(org, id, source, terms, &none)?,
        });
    }
    Ok(writes)
}
