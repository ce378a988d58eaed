//! One call: its RTP sockets, its media pipeline, its room participant and its dialog.

pub mod answered;
pub mod context;
pub mod directory;
pub mod driver;
pub mod end;
pub mod identities;
pub mod leg;
pub mod machine;
pub mod media;
pub mod order;
pub mod ports;
#[cfg(test)]
pub(crate) mod scripted_phone;
pub mod settings;
pub mod sip;
pub mod tally;
pub mod transfer;
