//! Switchboard's HTTP face over the domain crate: each function's routes declared once ([`route`]), reading
//! requests ([`request`]), the caller's credentials ([`caller`]), the three error envelopes ([`http`]) and the
//! Lambda wiring every function's `main` shares ([`lambda`]). It depends on the domain, never the other way.

pub mod caller;
pub mod http;
pub mod lambda;
pub mod request;
pub mod route;
