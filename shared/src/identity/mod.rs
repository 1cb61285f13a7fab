//! Identity: organizations, identities (accounts), profiles, sessions, one-time tokens and personal API keys.
//! One model, three HTTP faces (user service, accounts, server API). Every uniqueness and single-use rule is a
//! conditional write; every update is version-checked.

pub mod access;
pub mod bootstrap;
mod directory;
pub mod events;
pub mod lockout;
pub mod mail;
pub mod members;
pub mod password;
pub mod providers;
pub mod records;
pub mod requests;
pub mod server_keys;
mod sessions;
pub mod tokens;
pub mod usernames;

use std::sync::Arc;

use crate::config::{Config, IdentityTypes, Lockout, SessionLimits};
use crate::error::Error;
use crate::optimistic;
use crate::store::{Condition, Record, Store, Write};

pub use crate::error::AuthFailure;
pub use crate::secrets;
pub use access::{AccessClaims, AccessTokens};
pub use directory::{NewIdentity, ProfileFilter};
pub use events::Actor;
pub use records::{ApiKey, Identity, OneTimeToken, Organization, Profile, Session};
pub use sessions::{Principal, SessionContext, SignedIn};

/// Seed 003's 403 for admin-or-owner routes.
pub const NOT_AUTHORIZED: &str = "Identity is not authorized to access this resource";
/// Seed 003's 403 for admin-only routes.
pub const ADMIN_REQUIRED: &str = "User is not authorized to access this resource";

/// Optimistic-locking retries before a write gives up with 409.
const MAX_RETRIES: usize = 16;
/// The 409 of a record other requests keep changing.
const BUSY: &str = "The resource is being changed by other requests; try again";

#[derive(Clone)]
pub struct Identities {
    pub(crate) store: Arc<dyn Store>,
    access: AccessTokens,
    pub types: IdentityTypes,
    pub default_organization: String,
    pub lockout: Lockout,
    pub session_limits: SessionLimits,
    /// Members see each other's email and phone.
    pub members_show_contact: bool,
    pub mail: crate::mail::MailSettings,
    /// The deployment's own OpenID Connect provider (`SWITCHBOARD_OIDC_*`).
    configured_provider: Option<providers::IdentityProvider>,
    /// The key sets of trusted providers, fetched through the outbound guard.
    key_cache: Arc<providers::KeyCache>,
    /// The last-seen marks this process read or moved.
    seen_marks: Arc<members::SeenMarks>,
}

impl Identities {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        Self {
            store,
            access: AccessTokens::new(&config.token_secret),
            types: config.identity_types.clone(),
            default_organization: config.default_organization.clone(),
            lockout: config.lockout,
            session_limits: config.sessions,
            members_show_contact: config.members_show_contact,
            mail: config.mail.clone(),
            configured_provider: config
                .oidc
                .as_ref()
                .map(|o| providers::IdentityProvider::configured(o, &config.default_organization)),
            key_cache: Arc::new(providers::KeyCache::new(Arc::new(
                crate::outbound::Outbound::new(config.outbound.clone()),
            ))),
            seen_marks: Arc::default(),
        }
    }

    /// Read-modify-write with the version check, retried when another writer got there first, writing
    /// `also` (the change's events and other derived items, from the record before and after) in the same
    /// transaction. `change` returns `Ok(false)` when there is nothing to write.
    async fn modify<T: Record + Clone>(
        &self,
        key: &crate::store::Key,
        mut change: impl FnMut(&mut T) -> Result<bool, Error>,
        also: impl Fn(&T, &T) -> Result<Vec<Write>, Error>,
    ) -> Result<Option<T>, Error> {
        optimistic!(MAX_RETRIES, BUSY, {
            let Some(before) = self.store.load::<T>(key).await? else {
                return Ok(None);
            };
            let mut record = before.clone();
            if !change(&mut record)? {
                return Ok(Some(record));
            }
            let mut writes = vec![Write::Put(
                record.to_item()?,
                Condition::Version(before.version()),
            )];
            writes.extend(also(&before, &record)?);
            self.store.transact(writes).await?;
            record.set_version(before.version() + 1);
            Ok(Some(record))
        })
    }
}
