//! The crate's one error type.
//!
//! Like rustls, errors are classified by fault: the peer sent something malformed or
//! incompatible (each maps to the SIP status we answer with), or we were asked for something
//! impossible (our bug). Nothing that came off the network ever panics.

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // SDP (the SIP status each maps to: `sdp::SdpRejection`)
    /// The body is over the size we parse at all.
    #[error("SDP body of {len} bytes is over the {max} bytes accepted")]
    SdpTooLarge { len: usize, max: usize },
    /// More media sections, or formats in one section, than any audio call needs.
    #[error("SDP has more than {max} {what}")]
    SdpTooMany { what: &'static str, max: usize },
    /// A line the parser interprets does not follow the RFC 8866 grammar; `line` is 1-based.
    #[error("malformed SDP: {what} on line {line}")]
    SdpMalformed { line: usize, what: &'static str },
    /// A mandatory line (`v=`, `o=`, `m=`) is absent.
    #[error("malformed SDP: no {line_type} line")]
    SdpMissingLine { line_type: &'static str },
    /// No audio stream over plain RTP that we could use.
    #[error("No audio stream")]
    SdpNoAudio,
    /// The only audio streams offered are SRTP (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF).
    #[error("SRTP not supported")]
    SdpSrtpNotSupported,
    /// None of our codecs is among those offered (or answered).
    #[error("No common codec")]
    SdpNoCommonCodec,
    /// Neither the audio section nor the session has a `c=` line (RFC 8866 §5.7).
    #[error("malformed SDP: audio stream has no connection address")]
    SdpNoConnection,
    /// A `c=` with a host name: resolving it would be I/O, and carriers never send one.
    #[error("connection address {host} is a host name, not an IP address")]
    SdpHostAddress { host: String },
    /// An answer whose media sections do not match our offer's (RFC 3264 §6).
    #[error("SDP answer has {answered} media sections, the offer had {offered}")]
    SdpAnswerMismatch { offered: usize, answered: usize },
    /// The answer set the port of our audio stream to zero (RFC 3264 §6).
    #[error("SDP answer rejected the audio stream")]
    SdpMediaRejected,
    /// An answer arrived but we never sent an offer (our bug).
    #[error("SDP answer without an offer of ours")]
    SdpNoOfferSent,
    /// Codec preferences without a single codec (our bug: configuration validates this).
    #[error("no codec configured for SDP")]
    SdpNoCodecConfigured,
}
