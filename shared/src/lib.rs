//! Switchboard's domain crate: configuration, errors, the HTTP envelopes, and the storage port with its
//! DynamoDB and embedded adapters. Functions are thin HTTP faces over this crate.

pub mod app;
pub mod avatar;
pub mod config;
pub mod crm;
pub mod error;
pub mod http;
pub mod identity;
pub mod lambda;
pub mod outbound;
pub mod push;
pub mod request;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod webhooks;

pub use app::App;
pub use error::{Error, Result};
