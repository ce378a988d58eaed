//! One call: its RTP sockets, its media pipeline and its room participant.

pub mod media;
pub mod ports;
pub mod settings;
