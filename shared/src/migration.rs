//! `switchboard-local migrate`: rewrites identity items written before issue 11 into today's layout.
//! Per identity, in one version-checked transaction: the username marker moves to the NFKC_Casefold form
//! (and server-API identities lose theirs), the email marker becomes per organization, an account locked by
//! failed sign-ins becomes a failed sign-in lockout (apart from the admin lock), and the CRM connection
//! shared by every key becomes a connection of its own, and the member directory gets the words it lacks.
//! Identities already in today's layout are left as
//! they are, so the migration is idempotent, and resumable: run it again after an interruption.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::crm::{PLATFORM, records::Connection};
use crate::error::Error;
use crate::identity::members::{self, Source};
use crate::identity::records::{Identity, Marker};
use crate::identity::{Identities, usernames};
use crate::store::{Condition, Item, Key, Record, StoreError, Write};
use crate::time::unix_now;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub identities: usize,
    pub migrated: usize,
    /// Identities left as they were, with the reason (e.g. two old names with one canonical form).
    pub conflicts: Vec<String>,
}

/// The CRM connection of the old layout: one per identity and platform, shared by every key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OldConnection {
    connection_id: String,
    created_at: String,
}

fn old_email_key(email: &str) -> Key {
    Key::new(format!("EMAIL#{}", email.to_lowercase()), "UNIQUE")
}

fn old_username_key(org: &str, username: &str) -> Key {
    Key::new(
        format!("USERNAME#{org}#{}", username.to_lowercase()),
        "UNIQUE",
    )
}

fn old_connection_key(identity: &str) -> Key {
    Key::new(format!("IDENT#{identity}"), format!("CRM#{PLATFORM}"))
}

impl Identities {
    /// Migrates every identity of `org`, a page at a time.
    pub async fn migrate(&self, org: &str) -> Result<MigrationReport, Error> {
        let mut report = MigrationReport::default();
        let mut cursor = None;
        loop {
            let (page, next) = self.list_identities(org, 100, false, cursor).await?;
            for identity in page {
                report.identities += 1;
                match self.migrate_identity(identity).await {
                    Ok(true) => report.migrated += 1,
                    Ok(false) => {}
                    Err(Error::Conflict(reason)) => report.conflicts.push(reason),
                    Err(e) => return Err(e),
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(report),
            }
        }
    }

    /// `true` if the identity was rewritten.
    async fn migrate_identity(&self, mut identity: Identity) -> Result<bool, Error> {
        let org = identity.organization_id.clone();
        let expected = identity.version;
        let mut writes = Vec::new();
        let mut changed = false;

        // Usernames: the canonical form, and none for server-API identities.
        let old_username = old_username_key(&org, &identity.username);
        match usernames::canonical(&identity.username) {
            Ok(canonical) if canonical != identity.username => {
                identity.username = canonical;
                changed = true;
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Error::Conflict(format!(
                    "identity {}: username {:?} cannot be canonical; rename it",
                    identity.id, identity.username
                )));
            }
        }
        if self.held_by(&old_username, &identity.id).await?
            && !identity.markers().iter().any(|m| m.key() == old_username)
        {
            writes.push(Write::Delete(old_username, Condition::Exists));
        }
        // Emails: per organization.
        if let Some(email) = &identity.email {
            let old = old_email_key(email);
            if old != Marker::email_key(&org, email) && self.held_by(&old, &identity.id).await? {
                writes.push(Write::Delete(old, Condition::Exists));
            }
        }
        for marker in identity.markers() {
            if !self.held_by(&marker.key(), &identity.id).await? {
                writes.push(Write::Put(marker.to_item()?, Condition::Absent));
            }
        }
        // The member directory's words (docs/members.md), which identities before it lack.
        writes.extend(self.missing_member_terms(&identity).await?);
        // The old lock after five failures becomes a lockout; the admin lock stays.
        if identity.locked && identity.failed_logins >= self.lockout.max_failures {
            identity.locked = false;
            identity.locked_until = Some(unix_now() + self.lockout.duration(0));
            identity.lockouts = 1;
            changed = true;
        }
        // An admin lock gets the item writes check for (`Identity::lock_key`), which identities before it lack.
        if identity.locked
            && self
                .store
                .get(&Identity::lock_key(&identity.id))
                .await?
                .is_none()
        {
            let unlocked = Identity {
                locked: false,
                ..identity.clone()
            };
            writes.extend(Identity::lock_write(&unlocked, &identity));
        }
        // The shared CRM connection becomes a connection of its own (made by no key still known: it ends
        // with unAuthorize or a new login), so that its jwtTokens keep working.
        if let Some(item) = self.store.get(&old_connection_key(&identity.id)).await? {
            let old: OldConnection = item.decode()?;
            let connection = Connection {
                identity_id: identity.id.clone(),
                platform: PLATFORM.into(),
                connection_id: old.connection_id,
                api_key_id: String::new(),
                created_at: old.created_at,
                version: 0,
            };
            writes.push(Write::Delete(item.key, Condition::Version(item.version)));
            writes.push(Write::Put(connection.to_item()?, Condition::Absent));
        }
        if !changed && writes.is_empty() {
            return Ok(false);
        }
        writes.push(Write::Put(
            identity.to_item()?,
            Condition::Version(expected),
        ));
        match self.store.transact(writes).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                Err(Error::Conflict(format!(
                    "identity {}: changed meanwhile, or its username {:?} or email is held by another \
                 identity; run again, or rename one of them",
                    identity.id, identity.username
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The directory words of the identity and its profile that are not stored yet, as writes.
    async fn missing_member_terms(&self, identity: &Identity) -> Result<Vec<Write>, Error> {
        let none = BTreeSet::new();
        let (org, id) = (&identity.organization_id, &identity.id);
        let mut wanted = members::term_writes(
            org,
            id,
            Source::Account,
            &none,
            &members::account_terms(identity),
        )?;
        if let Some(profile) = &identity.profile_id
            && let Some(profile) = self.profile(profile).await?
        {
            wanted.extend(members::term_writes(
                org,
                id,
                Source::Profile,
                &none,
                &members::profile_terms(&profile),
            )?);
        }
        let keys: Vec<Key> = wanted.iter().map(|w| w.key().clone()).collect();
        let mut stored = Vec::new();
        for chunk in keys.chunks(100) {
            stored.extend(
                self.store
                    .batch_get(chunk)
                    .await?
                    .into_iter()
                    .map(|item| item.key),
            );
        }
        Ok(wanted
            .into_iter()
            .filter(|write| !stored.contains(write.key()))
            .collect())
    }

    /// The marker exists and names this identity.
    async fn held_by(&self, key: &Key, identity: &str) -> Result<bool, Error> {
        Ok(self
            .store
            .get(key)
            .await?
            .map(|item: Item| Marker::from_item(&item))
            .transpose()?
            .is_some_and(|m| m.identity_id == identity))
    }
}
