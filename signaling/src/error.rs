//! The crate's one error type.
//!
//! Like rustls, errors are classified by fault: the peer sent something malformed or
//! incompatible (each maps to the SIP status we answer with), or we were asked for something
//! impossible (our bug). Nothing that came off the network ever panics.

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // Digest authentication (auth/, RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
    // Malformed header values: the peer's fault, answered 400 (`Error::auth_rejection`).
    #[error("digest header value is empty")]
    DigestEmpty,
    #[error("digest header value too large (over 8 KiB or 32 parameters)")]
    DigestTooLarge,
    #[error("authentication scheme is not Digest")]
    DigestNotDigest,
    #[error("malformed digest header value at byte {offset}")]
    DigestSyntax { offset: usize },
    #[error("unterminated quoted string in digest header value from byte {offset}")]
    DigestUnterminatedQuote { offset: usize },
    #[error("digest parameter repeated at byte {offset}")]
    DigestDuplicateParam { offset: usize },
    #[error("digest parameter `{name}` missing")]
    DigestMissingParam { name: &'static str },
    #[error("digest parameter `{name}` has an invalid value")]
    DigestInvalidParam { name: &'static str },
    // Incompatible peer.
    #[error("digest algorithm not supported (MD5, SHA-256 and their -sess variants are)")]
    DigestUnsupportedAlgorithm,
    #[error("digest qop not supported (only auth is)")]
    DigestUnsupportedQop,
    #[error("no digest challenge we can answer")]
    DigestNoUsableChallenge,
    // Verification outcomes. These name the exact cause for our logs; the peer only ever sees
    // the coarser answer of `Error::auth_rejection`.
    #[error("digest uri does not match the Request-URI")]
    DigestUriMismatch,
    #[error("digest opaque does not match the one we issued")]
    DigestOpaqueMismatch,
    #[error("digest realm is not ours")]
    DigestRealmMismatch,
    #[error("digest username unknown")]
    DigestUnknownUser,
    #[error("digest response wrong (wrong password)")]
    DigestWrongResponse,
    #[error("digest nonce not issued by us, but the response is right (restart or new secret)")]
    DigestForeignNonce,
    #[error("digest nonce expired")]
    DigestStaleNonce,
    #[error("digest nonce count replayed")]
    DigestReplay,
}
