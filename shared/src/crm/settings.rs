//! `GET|POST /user/settings`: the extension's per-user settings, `{name: {value, …}}`, stored with the
//! identity so they survive a log-out and follow the user to another device. They are read with the token
//! check ([`Crm::authenticate_with`] and [`settings_key`]): a read is one round trip, a save two.

use serde_json::{Map, Value};

use super::Crm;
use super::records::UserSettings;
use crate::error::Error;
use crate::store::Record;
use crate::store::{Item, Key};
use crate::time::now_rfc3339;

pub fn settings_key(owner: &str) -> Key {
    UserSettings::key_of(owner)
}

fn find<'i>(items: &'i [Item], owner: &str) -> Option<&'i Item> {
    let key = settings_key(owner);
    items.iter().find(|i| i.key == key)
}

/// The settings among `items` (read by [`settings_key`]); empty when none were ever saved.
pub fn user_settings(items: &[Item], owner: &str) -> Result<Map<String, Value>, Error> {
    Ok(find(items, owner)
        .map(UserSettings::from_item)
        .transpose()?
        .map(|s| s.settings)
        .unwrap_or_default())
}

impl Crm {
    /// Merges `changes` into the settings among `read`, one whole setting per name, and returns the result.
    pub async fn update_user_settings(
        &self,
        owner: &str,
        changes: &Map<String, Value>,
        read: &[Item],
    ) -> Result<Map<String, Value>, Error> {
        let current = find(read, owner);
        let saved = super::upsert(
            self.store.as_ref(),
            owner,
            current,
            |current: Option<UserSettings>| {
                let mut settings = current.map(|c| c.settings).unwrap_or_default();
                settings.extend(changes.clone());
                Ok(UserSettings {
                    settings,
                    updated_at: now_rfc3339(),
                    owner: owner.to_owned(),
                    version: 0,
                })
            },
        )
        .await?;
        Ok(saved.settings)
    }
}
