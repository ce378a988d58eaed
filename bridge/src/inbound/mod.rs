//! Inbound calls: from an INVITE to a caller in a LiveKit room.

pub mod admit;
pub mod routing;
