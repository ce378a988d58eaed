//! The crate's one error type.
//!
//! Like rustls, errors are classified by fault: the peer sent something malformed or
//! incompatible (each maps to the SIP status we answer with), or we were asked for something
//! impossible (our bug). Nothing that came off the network ever panics.

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // sipfrag: the body of a REFER's NOTIFY (RFC 3420, RFC 3515 §2.4.5) is malformed. The
    // peer is at fault; the transfer then treats that NOTIFY as carrying no status.
    /// The body holds nothing but whitespace.
    #[error("sipfrag body is empty")]
    SipfragEmpty,
    /// The first line is not a SIP status line (a request line, headers only, garbage).
    #[error("sipfrag does not start with a SIP status line")]
    SipfragNotStatusLine,
    /// The status code is not exactly three digits (RFC 3261 §25.1 `Status-Code`).
    #[error("sipfrag status code is not three digits")]
    SipfragStatusCode,
    /// Three digits, but outside the classes 1xx–6xx RFC 3261 §21 defines.
    #[error("sipfrag status code {0} is outside 100-699")]
    SipfragStatusRange(u16),
}
