//! Switchboard's domain crate: configuration, the rules of each area (identity, CRM, avatars, push,
//! webhooks), the one domain error, and the storage port with its DynamoDB and embedded adapters. Nothing
//! here knows HTTP or Lambda: `switchboard-api` is the HTTP face over it, and the functions are thin.

pub mod app;
pub mod avatar;
pub mod config;
pub mod crm;
pub mod deadline;
pub mod error;
pub mod identity;
pub mod mail;
pub mod migration;
pub mod optimistic;
pub mod outbound;
pub mod push;
pub mod remains;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod validate;
pub mod webhooks;

pub use app::App;
pub use error::{Error, Result};
