//! Sans-IO audio for the SIP leg of a call.
//!
//! This crate turns the phone's RTP (G.711, G.722, Opus, RFC 4733 DTMF) into 20 ms PCM
//! frames for the room and the room's audio back into RTP: pure functions of
//! (packets, time) → (frames, packets), with no sockets, clock reads or spawned tasks.
//! It knows nothing of SIP or LiveKit.

pub mod analysis;
pub mod codec;
pub mod dtmf;
mod error;
pub mod g711;
pub mod g722;
pub mod jitter;
pub mod leg;
pub mod mixer;
pub mod opus;
pub mod playout;
pub mod plc;
pub mod rtcp;
pub mod rtp;
pub mod tone;

pub use error::Error;

/// Audio is handled in frames of this length on both legs.
pub const FRAME_MS: u32 = 20;

/// Samples in one [`FRAME_MS`] frame of mono audio at `rate_hz`.
pub const fn samples_per_frame(rate_hz: u32) -> usize {
    (rate_hz * FRAME_MS / 1000) as usize
}
