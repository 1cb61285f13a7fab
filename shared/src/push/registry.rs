//! Devices and preferences of the signed-in user (`/users/me/devices`, `/users/me/preferences`).
//!
//! A registration reads the user's partition (devices and preferences) and the token's marker, then writes
//! in one transaction: the device, the marker (a token is on one device: the one that held it is
//! deactivated), the default preferences on a first registration, and the deactivation of the least
//! recently used device past [`MAX_ACTIVE_DEVICES`]. A lost race retries from the reads; SNS endpoints no
//! record owns any more are deleted after the write.

use serde_json::Value;

use super::Push;
use super::devices::{Provider, Registration, Target};
use super::preferences::UserPreferences;
use super::records::{Device, Preferences, TokenMarker};
use crate::error::Error;
use crate::optimistic;
use crate::store::{Condition, Query, Record, Write};
use crate::time::{now_rfc3339, unix_now};

/// Active devices per user; registering one more deactivates the least recently seen.
pub const MAX_ACTIVE_DEVICES: usize = 20;
/// A registration that changes nothing refreshes the device's last-seen time at most this often.
const LAST_SEEN_REFRESH_MS: i64 = 86_400_000;
/// Optimistic-locking retries before a write gives up with 409.
const MAX_RETRIES: usize = 16;
/// Devices and preferences of one user fit in a page: 20 active, and the inactive ones expire.
const PARTITION_PAGE: u32 = 1000;

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    Updated,
    Unchanged,
}

pub(super) struct UserRecords {
    pub devices: Vec<Device>,
    pub preferences: Option<Preferences>,
}

/// The 409 of a device other requests keep changing.
const BUSY: &str = "The device is being changed by other requests; try again";
const PREFERENCES_BUSY: &str = "The preferences are being changed by other requests; try again";

impl Push {
    pub(super) async fn user_records(&self, identity_id: &str) -> Result<UserRecords, Error> {
        let partition = Preferences::key_of(identity_id).pk;
        let page = self
            .store
            .query(&Query::new(partition).limit(PARTITION_PAGE))
            .await?;
        let mut records = UserRecords {
            devices: Vec::new(),
            preferences: None,
        };
        for item in &page.items {
            if item.key.sk.starts_with("DEVICE#") {
                records.devices.push(Device::from_item(item)?);
            } else if item.key.sk == Preferences::key_of(identity_id).sk {
                records.preferences = Some(Preferences::from_item(item)?);
            }
        }
        Ok(records)
    }

    /// `POST /users/me/devices`: the upsert by `deviceId`, for an identity of `organization_id`.
    pub async fn register(
        &self,
        identity_id: &str,
        organization_id: &str,
        registration: &Registration,
    ) -> Result<(Device, Registered), Error> {
        // The endpoint SNS gave for this token, kept across retries so a lost race does not call SNS again.
        let mut endpoint: Option<String> = None;
        optimistic!(MAX_RETRIES, BUSY, {
            let records = self.user_records(identity_id).await?;
            let now = unix_now();
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let existing = records
                .devices
                .iter()
                .find(|d| d.device_id == registration.device_id);
            if let Some(current) = existing.filter(|d| {
                d.active
                    && d.platform == registration.platform
                    && d.target().as_ref() == Some(&registration.target)
                    && d.organization_id == organization_id
            }) {
                // The app's launch-time call: nothing to write but, once a day, the last-seen time.
                if now_ms - current.last_seen_at < LAST_SEEN_REFRESH_MS {
                    return Ok((current.clone(), Registered::Unchanged));
                }
                let mut seen = current.clone();
                seen.last_seen_at = now_ms;
                seen.version = self.store.update(seen.to_item()?).await?.version;
                return Ok((seen, Registered::Unchanged));
            }

            let marker_key = TokenMarker::key_of(organization_id, &registration.target);
            let marker = self.store.load::<TokenMarker>(&marker_key).await?;
            let ours = |m: &TokenMarker| {
                m.identity_id == identity_id && m.device_id == registration.device_id
            };
            // The device that holds the token now, if another: it is deactivated in the same write.
            let holder = match marker.as_ref().filter(|m| !ours(m)) {
                Some(m) if m.identity_id == identity_id => records
                    .devices
                    .iter()
                    .find(|d| d.device_id == m.device_id)
                    .cloned(),
                Some(m) => {
                    let key = Device::key_of(&m.identity_id, &m.device_id);
                    self.store.load::<Device>(&key).await?
                }
                None => None,
            };

            if let Target::Token { provider, token } = &registration.target
                && matches!(provider, Provider::Apns | Provider::Fcm)
                && endpoint.is_none()
            {
                endpoint = match existing
                    .filter(|d| d.active && d.provider == *provider && marker.is_none())
                    .and_then(|d| d.endpoint_arn.clone())
                {
                    // A rotated token: the device keeps its endpoint, pointed at the new token.
                    Some(arn) => {
                        self.endpoints.set_token(&arn, token).await?;
                        Some(arn)
                    }
                    None => self.endpoints.ensure(*provider, token).await?,
                };
            }

            let timestamp = now_rfc3339();
            let mut device = existing.cloned().unwrap_or_else(|| Device {
                device_id: registration.device_id.clone(),
                identity_id: identity_id.to_owned(),
                organization_id: organization_id.to_owned(),
                platform: registration.platform,
                provider: registration.provider(),
                token: None,
                endpoint: None,
                p256dh: None,
                auth: None,
                endpoint_arn: None,
                active: true,
                deactivated_reason: None,
                created_at: timestamp.clone(),
                updated_at: timestamp.clone(),
                last_seen_at: now_ms,
                expires_at: None,
                version: 0,
            });
            let old_token = existing.filter(|d| d.active).and_then(Device::token_key);
            let mut orphans: Vec<String> = existing
                .and_then(|d| d.endpoint_arn.clone())
                .filter(|arn| Some(arn) != endpoint.as_ref())
                .into_iter()
                .collect();
            device.set_target(registration);
            // A device from before markers were per organization moves to its organization's marker.
            device.organization_id = organization_id.to_owned();
            device.endpoint_arn = endpoint.clone();
            device.active = true;
            device.deactivated_reason = None;
            device.expires_at = None;
            device.updated_at = timestamp.clone();
            device.last_seen_at = now_ms;

            let mut writes = vec![Write::Put(
                device.to_item()?,
                existing.map_or(Condition::Absent, |d| Condition::Version(d.version)),
            )];
            match &marker {
                Some(m) if ours(m) => {}
                Some(m) => {
                    let mut moved = m.clone();
                    moved.identity_id = identity_id.to_owned();
                    moved.device_id = registration.device_id.clone();
                    writes.push(Write::Put(moved.to_item()?, Condition::Version(m.version)));
                }
                None => writes.push(Write::Put(
                    TokenMarker {
                        token_id: marker_key.pk.clone(),
                        identity_id: identity_id.to_owned(),
                        device_id: registration.device_id.clone(),
                        version: 0,
                    }
                    .to_item()?,
                    Condition::Absent,
                )),
            }
            if let Some(old) = old_token.filter(|k| *k != marker_key) {
                writes.push(Write::Delete(old, Condition::Exists));
            }
            if let Some(mut replaced) = holder.clone().filter(|d| d.active) {
                // Its endpoint (the token's) is now this device's.
                if replaced.endpoint_arn != endpoint
                    && let Some(arn) = replaced.endpoint_arn.clone()
                {
                    orphans.push(arn);
                }
                let version = replaced.version;
                replaced.deactivate("replaced", now);
                writes.push(Write::Put(replaced.to_item()?, Condition::Version(version)));
            }
            if records.preferences.is_none() {
                // antz creates the defaults on the first registration.
                writes.push(Write::Put(
                    Preferences {
                        identity_id: identity_id.to_owned(),
                        preferences: UserPreferences::default(),
                        updated_at: timestamp.clone(),
                        version: 0,
                    }
                    .to_item()?,
                    Condition::Absent,
                ));
            }
            let holder_id = holder.as_ref().map(|d| (&d.identity_id, &d.device_id));
            let mut others: Vec<&Device> = records
                .devices
                .iter()
                .filter(|d| {
                    d.active
                        && d.device_id != registration.device_id
                        && Some((&d.identity_id, &d.device_id)) != holder_id
                })
                .collect();
            if others.len() >= MAX_ACTIVE_DEVICES {
                others.sort_by_key(|d| (d.last_seen_at, d.device_id.clone()));
                for evicted in &others[..=others.len() - MAX_ACTIVE_DEVICES] {
                    let mut evicted = (*evicted).clone();
                    let version = evicted.version;
                    if let Some(key) = evicted.token_key() {
                        writes.push(Write::Delete(key, Condition::Exists));
                    }
                    orphans.extend(evicted.endpoint_arn.clone());
                    evicted.deactivate("limit", now);
                    writes.push(Write::Put(evicted.to_item()?, Condition::Version(version)));
                }
            }
            self.store.transact(writes).await?;
            for arn in orphans {
                self.endpoints.delete(&arn).await;
            }
            device.version = existing.map_or(1, |d| d.version + 1);
            let registered = if existing.is_some() {
                Registered::Updated
            } else {
                Registered::Created
            };
            Ok((device, registered))
        })
    }

    /// `DELETE /users/me/devices/{deviceId}`: deactivates that device (its token marker goes, and its SNS
    /// endpoint, which no other record uses). `None` when the user has no such device.
    pub async fn deactivate(
        &self,
        identity_id: &str,
        device_id: &str,
    ) -> Result<Option<Device>, Error> {
        let key = Device::key_of(identity_id, &device_id.to_ascii_lowercase());
        optimistic!(MAX_RETRIES, BUSY, {
            let Some(mut device) = self.store.load::<Device>(&key).await? else {
                return Ok(None);
            };
            if !device.active {
                return Ok(Some(device));
            }
            let (arn, version) = (device.endpoint_arn.clone(), device.version);
            let mut writes = Vec::new();
            if let Some(marker) = device.token_key() {
                writes.push(Write::Delete(marker, Condition::Exists));
            }
            device.deactivate("removed", unix_now());
            writes.push(Write::Put(device.to_item()?, Condition::Version(version)));
            self.store.transact(writes).await?;
            if let Some(arn) = arn {
                self.endpoints.delete(&arn).await;
            }
            device.version = version + 1;
            Ok(Some(device))
        })
    }

    /// `GET /users/me/devices`: active devices first, then those deactivated in the last 30 days.
    pub async fn devices(&self, identity_id: &str) -> Result<Vec<Device>, Error> {
        let mut devices = self.user_records(identity_id).await?.devices;
        devices.sort_by(|a, b| {
            b.active
                .cmp(&a.active)
                .then(a.created_at.cmp(&b.created_at))
        });
        Ok(devices)
    }

    /// `GET /users/me/preferences`: `None` until a registration or a PATCH made the record (antz's `null`).
    pub async fn preferences(&self, identity_id: &str) -> Result<Option<UserPreferences>, Error> {
        let key = Preferences::key_of(identity_id);
        let stored = self.store.load::<Preferences>(&key).await?;
        Ok(stored.map(|p| p.preferences))
    }

    /// `PATCH /users/me/preferences`: the partial update, version-checked and retried, so concurrent
    /// PATCHes of different fields all land. A PATCH that changes nothing writes nothing.
    pub async fn update_preferences(
        &self,
        identity_id: &str,
        body: Option<Value>,
    ) -> Result<UserPreferences, Error> {
        let key = Preferences::key_of(identity_id);
        optimistic!(MAX_RETRIES, PREFERENCES_BUSY, {
            let current = self.store.load::<Preferences>(&key).await?;
            let before = current
                .as_ref()
                .map(|c| c.preferences.clone())
                .unwrap_or_default();
            let after = before.patched(body.clone())?;
            if current.is_some() && after == before {
                return Ok(after);
            }
            let record = Preferences {
                identity_id: identity_id.to_owned(),
                preferences: after.clone(),
                updated_at: now_rfc3339(),
                version: current.as_ref().map_or(0, |c| c.version),
            };
            let condition = current
                .as_ref()
                .map_or(Condition::Absent, |c| Condition::Version(c.version));
            let write = Write::Put(record.to_item()?, condition);
            self.store.transact(vec![write]).await?;
            Ok(after)
        })
    }
}

impl Push {
    /// A deleted account's push records go: its devices (with their token markers and SNS endpoints) and
    /// its preferences. Run by the dispatcher on the identity's removal from the table's stream.
    pub async fn forget(&self, identity_id: &str) -> Result<(), Error> {
        optimistic!(MAX_RETRIES, BUSY, {
            let records = self.user_records(identity_id).await?;
            let mut writes = Vec::new();
            let mut endpoints = Vec::new();
            for device in &records.devices {
                if device.active
                    && let Some(marker) = device.token_key()
                {
                    writes.push(Write::Delete(marker, Condition::Exists));
                }
                endpoints.extend(device.endpoint_arn.clone());
                writes.push(Write::Delete(
                    device.key(),
                    Condition::Version(device.version),
                ));
            }
            if let Some(preferences) = &records.preferences {
                writes.push(Write::Delete(
                    preferences.key(),
                    Condition::Version(preferences.version),
                ));
            }
            for chunk in writes.chunks(crate::store::MAX_TRANSACTION_ITEMS) {
                self.store.transact(chunk.to_vec()).await?;
            }
            for arn in endpoints {
                self.endpoints.delete(&arn).await;
            }
            Ok(())
        })
    }
}
