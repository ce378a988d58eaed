//! The crate's one error type.
//!
//! Like rustls, errors are classified by fault: the peer sent something malformed or
//! incompatible (each maps to the SIP status we answer with), or we were asked for something
//! impossible (our bug). Nothing that came off the network ever panics.

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {}
