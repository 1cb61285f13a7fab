//! Webhooks: the domain rules the event dispatcher and the delivery function share. [`events`] names the
//! events and matches subscriptions, [`signature`] signs deliveries as the ContactsManager SDKs verify
//! them (and [`standard`] as Standard Webhooks libraries do), and [`retry`] decides what a delivery attempt's outcome leads to. [`outbox`] is how a change
//! writes its event in its own transaction; [`subscriptions`] are the organizations' webhooks and their
//! delivery log; [`delivery`] turns events into deliveries and makes the attempts that are due.

pub mod delivery;
pub mod events;
pub mod outbox;
pub mod queue;
pub mod retry;
pub mod signature;
pub mod standard;
pub mod subscriptions;

pub use events::EventName;
pub use outbox::Event;
