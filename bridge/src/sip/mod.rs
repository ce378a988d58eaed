//! The SIP side of the bridge: sockets ([`transport`]) and the endpoint task that runs
//! `sipbridge-signaling`'s sans-IO state machines over them.

pub mod endpoint;
pub mod link;
pub mod local;
pub mod transport;
pub mod udp_buffer;
