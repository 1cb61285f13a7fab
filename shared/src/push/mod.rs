//! Push notifications: the domain rules the device, preference and dispatch functions share.
//! [`preferences`] is antz's `UserPreferences` with its partial update, [`rules`] decides whether and how a
//! notification reaches a user, [`devices`] validates a device registration, and [`sns`] builds the
//! per-platform SNS message.

pub mod devices;
pub mod preferences;
pub mod rules;
pub mod sns;
