//! The plain values offer/answer deals in: codecs, payload type numbers, directions, and
//! the [`Negotiated`] outcome. Signaling knows nothing of media; `bridge/` turns these into
//! the media leg's own types.

use std::net::SocketAddr;

/// An audio codec we negotiate for the SIP leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
    G722,
    /// `opus/48000/2` (RFC 7587).
    Opus,
}

impl Codec {
    /// The RTP clock rate; G.722 keeps 8 kHz for historical reasons (RFC 3551 §4.5.2).
    pub fn rtp_clock(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8_000,
            Codec::Opus => 48_000,
        }
    }

    /// The static payload type, for codecs that have one (RFC 3551 Table 4).
    pub fn static_payload_type(self) -> Option<PayloadType> {
        match self {
            Codec::Pcmu => Some(PayloadType(0)),
            Codec::Pcma => Some(PayloadType(8)),
            Codec::G722 => Some(PayloadType(9)),
            Codec::Opus => None,
        }
    }

    /// The encoding name of its `a=rtpmap` (RFC 3551 §6, RFC 7587 §7), as we write it.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
        }
    }
}

/// RTP payload type, 0–127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(pub u8);

/// Media direction from our side of the call (RFC 3264 §5.1, after hold handling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaDirection {
    SendRecv,
    /// We send, the phone does not (it put us on hold with `recvonly`… from its side).
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    pub fn sends(self) -> bool {
        matches!(self, MediaDirection::SendRecv | MediaDirection::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, MediaDirection::SendRecv | MediaDirection::RecvOnly)
    }
}

/// The outcome of SDP offer/answer for the SIP leg, as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    pub payload_type: PayloadType,
    /// telephone-event payload type the phone sends with (our SDP's), if any.
    pub receive_event_pt: Option<PayloadType>,
    /// telephone-event payload type we send with (the phone's SDP's), if any.
    pub send_event_pt: Option<PayloadType>,
    /// Packet length we send, from the phone's `a=ptime` (10–60 ms).
    pub ptime_ms: u32,
    pub direction: MediaDirection,
    /// The RTP address in the phone's SDP.
    pub remote: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::codec::rtpmap_value;

    #[test]
    fn rtpmap_is_encoding_name_and_clock() {
        for codec in [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus] {
            let prefix = format!("{}/{}", codec.encoding_name(), codec.rtp_clock());
            assert!(rtpmap_value(codec).starts_with(&prefix), "{codec:?}");
        }
    }

    #[test]
    fn directions_send_and_receive() {
        use MediaDirection::*;
        let table = [
            (SendRecv, true, true),
            (SendOnly, true, false),
            (RecvOnly, false, true),
            (Inactive, false, false),
        ];
        for (direction, sends, receives) in table {
            assert_eq!(direction.sends(), sends, "{direction:?}");
            assert_eq!(direction.receives(), receives, "{direction:?}");
        }
    }
}
