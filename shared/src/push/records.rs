//! The push records and their keys (see docs/data-model.md): a user's devices and preferences share one
//! partition, so a registration reads them in one query; a token marker keeps a token on one device; a
//! notification and its per-device deliveries share another partition, read in one query.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::devices::{Platform, Provider, Registration, Target};
use super::preferences::UserPreferences;
use super::rules::{Notification, Rule};
use crate::store::{Key, Record, versioned};

/// A deactivated device stays readable this long (`GET /users/me/devices` shows it), then expires.
pub const INACTIVE_DEVICE_SECONDS: i64 = 30 * 86_400;
/// A notification and its deliveries expire this long after it was sent (the table's TTL).
pub const NOTIFICATION_SECONDS: i64 = 30 * 86_400;
/// The partition of the push records: notifications live under it, and the dispatcher's DynamoDB Streams
/// filter matches this prefix only (other features keep their own records out of it).
pub const NOTIFICATION_PREFIX: &str = "PUSHNOTE#";
pub const NOTIFICATION_SK: &str = "PUSHNOTE";

fn user_partition(identity_id: &str) -> String {
    format!("PUSHUSER#{identity_id}")
}

/// One of a user's devices (antz's `devicesApi` record), keyed by the device id the app chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub device_id: String,
    pub identity_id: String,
    /// The organization whose token marker the device holds; empty on a device registered before markers
    /// were per organization (its marker has the old key until it registers again).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organization_id: String,
    pub platform: Platform,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p256dh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// The SNS platform endpoint (APNs and FCM devices), owned by this record while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_arn: Option<String>,
    pub active: bool,
    /// Why it was deactivated: `removed`, `replaced` (its token moved to another device), `limit` (the
    /// user's least recently used past the limit) or `gone` (the provider said so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Unix milliseconds of the last registration (the least recently seen device goes first past the
    /// limit), refreshed at most once a day.
    pub last_seen_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(skip)]
    pub version: u64,
}

impl Device {
    pub fn key_of(identity_id: &str, device_id: &str) -> Key {
        Key::new(user_partition(identity_id), format!("DEVICE#{device_id}"))
    }

    /// What the registration asks for, compared with what is stored.
    pub fn target(&self) -> Option<Target> {
        match self.provider {
            Provider::WebPush => Some(Target::WebPush {
                endpoint: self.endpoint.clone()?,
                p256dh: self.p256dh.clone()?,
                auth: self.auth.clone()?,
            }),
            provider => Some(Target::Token {
                provider,
                token: self.token.clone()?,
            }),
        }
    }

    pub fn set_target(&mut self, registration: &Registration) {
        self.platform = registration.platform;
        self.provider = registration.provider();
        (self.token, self.endpoint, self.p256dh, self.auth) = match &registration.target {
            Target::Token { token, .. } => (Some(token.clone()), None, None, None),
            Target::WebPush {
                endpoint,
                p256dh,
                auth,
            } => (
                None,
                Some(endpoint.clone()),
                Some(p256dh.clone()),
                Some(auth.clone()),
            ),
        };
    }

    /// The identity of the push target, for the one-device-per-token marker.
    pub fn token_key(&self) -> Option<Key> {
        self.target()
            .map(|t| TokenMarker::key_of(&self.organization_id, &t))
    }

    pub fn deactivate(&mut self, reason: &str, now: i64) {
        self.active = false;
        self.deactivated_reason = Some(reason.to_owned());
        self.endpoint_arn = None;
        self.updated_at = crate::time::now_rfc3339();
        self.expires_at = Some(now + INACTIVE_DEVICE_SECONDS);
    }

    /// The device as `GET /users/me/devices` shows it: no token or keys (they are the user's secrets to
    /// push with), the provider and whether it is active.
    pub fn view(&self) -> Value {
        json!({
            "deviceId": self.device_id,
            "platform": self.platform,
            "provider": self.provider,
            "active": self.active,
            "deactivatedReason": self.deactivated_reason,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastSeenAt": jiff::Timestamp::from_millisecond(self.last_seen_at)
                .map(crate::time::rfc3339)
                .ok(),
        })
    }
}

impl Record for Device {
    fn key(&self) -> Key {
        Self::key_of(&self.identity_id, &self.device_id)
    }
    fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
    versioned!();
}

/// Which device holds a push token (or Web Push endpoint): one at a time, claimed in the registration's
/// transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenMarker {
    /// The marker's partition key, [`TokenMarker::key_of`]'s.
    pub token_id: String,
    pub identity_id: String,
    pub device_id: String,
    #[serde(skip)]
    pub version: u64,
}

impl TokenMarker {
    /// Keyed by the organization and a digest (tokens are long and are credentials to push with): a token
    /// is one device's within an organization, so registering another tenant's token neither deactivates
    /// their device nor diverts their notifications. An empty organization is the old, shared key.
    pub fn key_of(organization: &str, target: &Target) -> Key {
        let id = match target {
            Target::Token { provider, token } => {
                crate::secrets::digest(&format!("{provider:?}:{token}"))
            }
            Target::WebPush { endpoint, .. } => {
                crate::secrets::digest(&format!("WebPush:{endpoint}"))
            }
        };
        if organization.is_empty() {
            return Key::new(format!("PUSHTOKEN#{id}"), "PUSHTOKEN");
        }
        Key::new(format!("PUSHTOKEN#{organization}#{id}"), "PUSHTOKEN")
    }
}

impl Record for TokenMarker {
    fn key(&self) -> Key {
        Key::new(self.token_id.clone(), "PUSHTOKEN")
    }
    versioned!();
}

/// A user's stored preferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    pub identity_id: String,
    pub preferences: UserPreferences,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Preferences {
    pub fn key_of(identity_id: &str) -> Key {
        Key::new(user_partition(identity_id), "PREFS")
    }
}

impl Record for Preferences {
    fn key(&self) -> Key {
        Self::key_of(&self.identity_id)
    }
    versioned!();
}

/// A notification as recorded by the sending routes; its insert is what the dispatcher consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    pub id: String,
    pub identity_id: String,
    pub organization_id: String,
    #[serde(flatten)]
    pub notification: Notification,
    pub created_at: String,
    pub expires_at: i64,
    /// Every device has its delivery and `notification.sent` was told, in one transaction: once.
    #[serde(default)]
    pub fanned_out: bool,
    #[serde(skip)]
    pub version: u64,
}

impl NotificationRecord {
    pub fn key_of(id: &str) -> Key {
        Key::new(format!("{NOTIFICATION_PREFIX}{id}"), NOTIFICATION_SK)
    }
}

impl Record for NotificationRecord {
    fn key(&self) -> Key {
        Self::key_of(&self.id)
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}

/// What happened to a notification on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Sent,
    Suppressed,
    Failed,
    /// The provider said the device is gone; the device was deactivated.
    Deactivated,
}

/// One provider call for one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub at: String,
    /// `ok`, or why it failed.
    pub result: String,
}

/// A notification's fate on one device (or, when the user's preferences suppressed it, on all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub notification_id: String,
    pub device_id: String,
    pub provider: Option<Provider>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    pub updated_at: String,
    pub expires_at: i64,
    #[serde(skip)]
    pub version: u64,
}

impl Delivery {
    pub fn key_of(notification_id: &str, device_id: &str) -> Key {
        Key::new(
            format!("{NOTIFICATION_PREFIX}{notification_id}"),
            format!("DELIVERY#{device_id}"),
        )
    }

    pub fn view(&self) -> Value {
        let mut view = json!({
            "deviceId": self.device_id,
            "provider": self.provider,
            "status": self.outcome,
            "attempts": self.attempts,
            "updatedAt": self.updated_at,
        });
        if let Some(rule) = self.rule {
            view["rule"] = json!(rule);
        }
        if let Some(reason) = &self.reason {
            view["reason"] = json!(reason);
        }
        view
    }
}

impl Record for Delivery {
    fn key(&self) -> Key {
        Self::key_of(&self.notification_id, &self.device_id)
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}
