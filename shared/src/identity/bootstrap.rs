//! The first organization and admin: created when missing, never duplicated, from the environment
//! (`SWITCHBOARD_ORG_ID`, `SWITCHBOARD_ORG_API_KEY`, `SWITCHBOARD_ORG_API_SECRET`,
//! `SWITCHBOARD_ADMIN_USERNAME`, `SWITCHBOARD_ADMIN_PASSWORD`).

use super::{Identities, NewIdentity, password};
use crate::config::ConfigError;
use crate::error::Error;

pub const VARIABLES: [&str; 5] = [
    "SWITCHBOARD_ORG_ID",
    "SWITCHBOARD_ORG_API_KEY",
    "SWITCHBOARD_ORG_API_SECRET",
    "SWITCHBOARD_ADMIN_USERNAME",
    "SWITCHBOARD_ADMIN_PASSWORD",
];

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub organization_id: String,
    pub api_key: String,
    pub api_secret: String,
    pub admin_username: String,
    pub admin_password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapReport {
    pub organization_created: bool,
    pub admin_created: bool,
    /// The break-glass unlocked the admin or reset its password.
    pub admin_recovered: bool,
}

impl Bootstrap {
    /// `None` when none of the variables is set; an error naming the first missing one when only some are.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let values: Vec<Option<String>> = VARIABLES
            .iter()
            .map(|name| env(name).filter(|v| !v.trim().is_empty()))
            .collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Some(i) = values.iter().position(Option::is_none) {
            return Err(ConfigError::Missing(VARIABLES[i]));
        }
        let mut values = values.into_iter().flatten();
        let mut next = || values.next().unwrap_or_default();
        Ok(Some(Self {
            organization_id: next(),
            api_key: next(),
            api_secret: next(),
            admin_username: next(),
            admin_password: next(),
        }))
    }
}

impl Identities {
    /// Makes sure the organization and its admin exist; safe to run at every start and concurrently.
    pub async fn bootstrap(&self, settings: &Bootstrap) -> Result<BootstrapReport, Error> {
        let org_existed = self
            .organization_key(&settings.api_key)
            .await?
            .is_some_and(|k| k.organization_id == settings.organization_id);
        if !org_existed {
            self.ensure_organization(
                &settings.organization_id,
                &settings.organization_id,
                &settings.api_key,
                &settings.api_secret,
            )
            .await?;
        }
        let org = &settings.organization_id;
        if self
            .identity_by_username(org, &settings.admin_username)
            .await?
            .is_some()
        {
            return Ok(BootstrapReport {
                organization_created: !org_existed,
                admin_created: false,
                admin_recovered: false,
            });
        }
        let created = self
            .create_identity(NewIdentity {
                organization_id: org.clone(),
                username: settings.admin_username.clone(),
                password: Some(settings.admin_password.clone()),
                type_id: self.types.admin.clone(),
                profile: Some((settings.admin_username.clone(), Default::default())),
                ..NewIdentity::default()
            })
            .await;
        match created {
            Ok(_) => Ok(BootstrapReport {
                organization_created: !org_existed,
                admin_created: true,
                admin_recovered: false,
            }),
            // Another process bootstrapped the same admin at the same moment.
            Err(Error::Conflict(_)) => Ok(BootstrapReport {
                organization_created: !org_existed,
                admin_created: false,
                admin_recovered: false,
            }),
            Err(e) => Err(e),
        }
    }
}

impl Identities {
    /// The operators' break-glass (`switchboard-local bootstrap`): [`Identities::bootstrap`], then the
    /// bootstrap admin is unlocked (admin lock and failed sign-in lockout), made an admin again, and given
    /// `SWITCHBOARD_ADMIN_PASSWORD` if that is not already its password (which ends its sessions).
    pub async fn break_glass(&self, settings: &Bootstrap) -> Result<BootstrapReport, Error> {
        let mut report = self.bootstrap(settings).await?;
        let admin = self
            .identity_by_username(&settings.organization_id, &settings.admin_username)
            .await?
            .ok_or_else(|| Error::Internal("the bootstrap admin vanished".into()))?;
        let keeps_password =
            password::verify(settings.admin_password.clone(), admin.password_hash.clone()).await;
        let new_hash = if keeps_password {
            None
        } else {
            Some(password::hash(settings.admin_password.clone()).await?)
        };
        let admin_type = self.types.admin.clone();
        let mut changed = false;
        let admin = self
            .update_identity(&admin.id, |identity| {
                changed = identity.locked
                    || identity.locked_until.is_some()
                    || identity.failed_logins > 0
                    || identity.type_id != admin_type
                    || new_hash.is_some();
                identity.locked = false;
                identity.locked_until = None;
                identity.failed_logins = 0;
                identity.lockouts = 0;
                identity.type_id = admin_type.clone();
                if let Some(hash) = &new_hash {
                    identity.password_hash = Some(hash.clone());
                    identity.sign_out_sessions(None);
                }
                Ok(changed)
            })
            .await?
            .ok_or_else(|| Error::Internal("the bootstrap admin vanished".into()))?;
        if new_hash.is_some() {
            self.revoke_sessions(&admin.organization_id, &admin.id, None)
                .await?;
        }
        report.admin_recovered = changed;
        Ok(report)
    }
}
