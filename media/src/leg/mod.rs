//! The SIP leg of a call: what signaling negotiated, turned into RTP in and out.
//!
//! [`PhoneReceiver`] takes the phone's RTP and gives one 20 ms PCM frame per tick for the
//! room, plus DTMF and timeout events; [`PhoneSender`] takes 20 ms PCM frames (the room's
//! mix) and gives RTP packets at the negotiated ptime. `signaling/` parses SDP; this module
//! only sees the plain [`Negotiated`] description.

mod latch;
mod receive;
mod rtcp;
mod send;
mod timeout;

use std::net::SocketAddr;
use std::time::Duration;

pub use latch::{Latch, Latching};
pub use receive::{PhoneReceiver, ReceiverStats};
pub use rtcp::{RemoteReport, RtcpSession};
pub use send::PhoneSender;
pub use timeout::MediaTimeout;

use crate::codec::AudioCodec;
use crate::dtmf::KeyPress;
use crate::jitter::JitterLimits;
use crate::opus::EncoderSettings;
use crate::rtp::{PayloadType, Ssrc};

/// Media direction from our side of the call (RFC 3264 §5.1, after hold handling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    /// We send, the phone does not (it put us on hold with `recvonly`… from its side).
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The outcome of SDP offer/answer for the SIP leg, as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: AudioCodec,
    pub payload_type: PayloadType,
    /// telephone-event payload type the phone sends with (our SDP's), if any.
    pub receive_event_pt: Option<PayloadType>,
    /// telephone-event payload type we send with (the phone's SDP's), if any.
    pub send_event_pt: Option<PayloadType>,
    /// Packet length we send, from the phone's `a=ptime` (10–60 ms).
    pub ptime_ms: u32,
    pub direction: Direction,
    /// The RTP address in the phone's SDP.
    pub remote: SocketAddr,
}

/// Per-deployment settings (from the config's `rtp:` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegSettings {
    pub jitter: JitterLimits,
    pub media_timeout: Duration,
    pub media_timeout_initial: Duration,
    pub latching: Latching,
    pub opus: EncoderSettings,
}

impl Default for LegSettings {
    fn default() -> Self {
        Self {
            jitter: JitterLimits {
                min_ms: 20,
                max_ms: 120,
            },
            media_timeout: Duration::from_secs(15),
            media_timeout_initial: Duration::from_secs(30),
            latching: Latching::Auto,
            opus: EncoderSettings::default(),
        }
    }
}

/// Something the receiving side wants the call to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    Dtmf(KeyPress),
    /// No RTP for the media timeout; `before_first_packet` tells which of the two timeouts.
    Timeout {
        before_first_packet: bool,
    },
    /// The phone's stream changed SSRC (a transfer, a PBX re-routing media).
    SourceChanged(Ssrc),
    /// RTP will now be sent to where the phone's RTP comes from.
    Latched(SocketAddr),
}
