//! Webhooks: the domain rules the event dispatcher and the delivery function share. [`events`] names the
//! events and matches subscriptions, [`signature`] signs deliveries as the ContactsManager SDKs verify
//! them, and [`retry`] decides what a delivery attempt's outcome leads to.

pub mod events;
pub mod retry;
pub mod signature;
