/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opus accepts 8, 12, 16, 24 and 48 kHz only.
    #[error("Opus cannot run at {0} Hz")]
    UnsupportedOpusRate(u32),
    /// A PCM frame of the wrong length was handed to the encoder (our bug, not the peer's).
    #[error("expected a frame of {expected} samples, got {got}")]
    FrameLength { expected: usize, got: usize },
    /// libopus refused a packet or a setting. For decoding this means the peer sent a
    /// packet that is not valid Opus.
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
}
