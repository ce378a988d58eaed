//! Sans-IO SIP for the bridge (shared/DESIGN.md, "signaling/").
//!
//! This crate will hold SIP messages (on `ezk-sip-types`), RFC 3261 transactions and dialogs,
//! REFER/NOTIFY sipfrag, digest auth, SDP offer/answer for the SIP leg, and the pure function
//! that turns a call's end into its outcome (shared/OUTCOMES.md). It knows nothing of LiveKit.
//!
//! Nothing is implemented yet: the SIP core is its own issue.
