//! The first organization and admin: created when missing, never duplicated, from the environment
//! (`SWITCHBOARD_ORG_ID`, `SWITCHBOARD_ORG_API_KEY`, `SWITCHBOARD_ORG_API_SECRET`,
//! `SWITCHBOARD_ADMIN_USERNAME`, `SWITCHBOARD_ADMIN_PASSWORD`).

use super::{Identities, NewIdentity};
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
            }),
            // Another process bootstrapped the same admin at the same moment.
            Err(Error::Conflict(_)) => Ok(BootstrapReport {
                organization_created: !org_existed,
                admin_created: false,
            }),
            Err(e) => Err(e),
        }
    }
}
