/// What can go wrong in this crate.
///
/// Variants are grouped by fault: the peer sent something malformed (the packet is dropped
/// and counted, never a panic), or we asked for something impossible (our bug or a config
/// error caught at call set-up).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Opus accepts 8, 12, 16, 24 and 48 kHz only.
    #[error("Opus cannot run at {0} Hz")]
    UnsupportedOpusRate(u32),
    /// A PCM frame of the wrong length was handed to an encoder (our bug, not the peer's).
    #[error("expected a frame of {expected} samples, got {got}")]
    FrameLength { expected: usize, got: usize },
    /// libopus refused a packet or a setting. For decoding this means the peer sent a
    /// packet that is not valid Opus.
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
    /// A packet ended before the field named here (RTP, RTCP or RFC 4733 payload).
    #[error("packet truncated in {0}")]
    Truncated(&'static str),
    /// RTP and RTCP are version 2 (RFC 3550 §5.1); anything else is not for us.
    #[error("RTP/RTCP version {0}, expected 2")]
    Version(u8),
    /// The padding count in the last octet is zero or longer than the payload (RFC 3550 §5.1).
    #[error("invalid padding length {0}")]
    Padding(u8),
    /// An RTCP length field that does not fit the datagram (RFC 3550 §6.4.1).
    #[error("RTCP length {words} words does not fit {remaining} remaining bytes")]
    RtcpLength { words: u16, remaining: usize },
    /// The buffer handed to a serializer is too small (our bug).
    #[error("output buffer of {got} bytes, need {needed}")]
    BufferTooSmall { needed: usize, got: usize },
    /// The ptime negotiated for the SIP leg is outside what we packetize (10–60 ms, whole 10 ms).
    #[error("unsupported ptime {0} ms (10 to 60 ms in 10 ms steps)")]
    Ptime(u32),
}
