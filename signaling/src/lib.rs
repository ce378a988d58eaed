//! Sans-IO SIP for the bridge.
//!
//! SIP messages (parsed with `ezk-sip-types` into our own owned types, plus the strictness
//! checks that parser lacks), RFC 3261 transactions and dialogs, REFER/NOTIFY sipfrag, digest
//! auth, SDP offer/answer for the SIP leg, DTMF in INFO bodies, and the pure function that
//! turns a call's end into its outcome (docs/OUTCOMES.md). Everything here is a function of
//! (input, time) → output: the sockets and the clock belong to `bridge/`. It knows nothing of
//! LiveKit.

pub mod auth;
pub mod dial;
pub mod dialog;
mod error;
pub mod info_dtmf;
pub mod message;
pub mod outcome;
pub mod refer;
pub mod screen;
pub mod sdp;
pub mod sipfrag;
pub mod transaction;

pub use error::Error;
