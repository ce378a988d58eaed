//! The parts of a session description (RFC 8866) an audio call needs, as owned values.
//!
//! Everything else in the body (`s=`, `t=`, `b=`, unknown attributes…) is dropped by the
//! parser: it has no bearing on which codec we pick or where we send RTP.

use std::net::{IpAddr, SocketAddr};

use super::types::{MediaDirection, PayloadType};

/// A parsed SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    /// Session-level `c=`, the default for media sections without their own (RFC 8866 §5.7).
    pub connection: Option<ConnectionAddress>,
    /// Session-level direction attribute, the default for media sections (RFC 3264 §5.1).
    /// From the point of view of the SDP's author.
    pub direction: Option<MediaDirection>,
    pub media: Vec<MediaDescription>,
}

/// The `o=` line (RFC 8866 §5.2). `session_version` changes whenever the author changes
/// its SDP (RFC 3264 §8), so an unchanged version means an unchanged session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    pub address: ConnectionAddress,
}

/// The address of a `c=` or `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionAddress {
    Ip(IpAddr),
    /// A fully qualified domain name: legal SDP, but we do no DNS here.
    Host(String),
}

impl ConnectionAddress {
    /// `0.0.0.0` (or `::`): the RFC 2543 way of putting a call on hold, which RFC 3264 §8.4
    /// still asks answerers to understand as "do not send to me".
    pub fn is_unspecified(&self) -> bool {
        matches!(self, ConnectionAddress::Ip(ip) if ip.is_unspecified())
    }
}

/// One `m=` section with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`… as written.
    pub media: String,
    /// Zero means the stream is disabled or rejected (RFC 3264 §5.1).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`… as written.
    pub proto: String,
    /// The format list: RTP payload type numbers for the RTP protocols.
    pub formats: Vec<String>,
    pub connection: Option<ConnectionAddress>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime`, in milliseconds (RFC 8866 §6.4).
    pub ptime: Option<u32>,
    /// `a=maxptime`, in milliseconds (RFC 8866 §6.5).
    pub maxptime: Option<u32>,
    /// From the point of view of the SDP's author; `None` falls back to the session's.
    pub direction: Option<MediaDirection>,
    /// `a=rtcp` (RFC 3605): where the author wants RTCP, when not on port + 1.
    pub rtcp: Option<RtcpAddress>,
    /// Whether any `a=crypto` (SDES, RFC 4568) was present.
    pub crypto: bool,
}

impl MediaDescription {
    pub fn is_audio(&self) -> bool {
        self.media.eq_ignore_ascii_case("audio")
    }

    /// Plain RTP, with or without feedback (RFC 3551, RFC 4585).
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }

    /// Any SRTP profile, SDES or DTLS keyed (RFC 3711, RFC 5764).
    pub fn is_srtp(&self) -> bool {
        let proto = self.proto.to_ascii_uppercase();
        proto.ends_with("RTP/SAVP") || proto.ends_with("RTP/SAVPF")
    }

    /// The `a=rtpmap` for a payload type, if the author wrote one.
    pub fn rtpmap(&self, pt: PayloadType) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt)
    }

    /// The format list's entries that are RTP payload type numbers, in the author's order.
    pub fn payload_types(&self) -> impl Iterator<Item = PayloadType> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
            .map(PayloadType)
    }

    /// The section's own `c=`, else the session's (RFC 8866 §5.7).
    pub fn connection_or<'a>(
        &'a self,
        session: &'a SessionDescription,
    ) -> Option<&'a ConnectionAddress> {
        self.connection.as_ref().or(session.connection.as_ref())
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: PayloadType,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <parameters>` (RFC 8866 §6.15); the parameters are kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub payload_type: PayloadType,
    pub parameters: String,
}

/// `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAddress {
    pub port: u16,
    pub address: Option<ConnectionAddress>,
}

impl RtcpAddress {
    /// The socket address, when the attribute names an IP (else the RTP address applies).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.address {
            Some(ConnectionAddress::Ip(ip)) => Some(SocketAddr::new(*ip, self.port)),
            _ => None,
        }
    }
}
