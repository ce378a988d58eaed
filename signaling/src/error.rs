//! The crate's one error type.
//!
//! Like rustls, errors are classified by fault: the peer sent something malformed or
//! incompatible (each maps to the SIP status we answer with), or we were asked for something
//! impossible (our bug). Nothing that came off the network ever panics.

/// What can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // SIP messages. The peer sent something malformed: answered 400 (505 for the version)
    // with the message as the reason phrase when the request can be answered, else dropped.
    // The messages start upper-case because they become reason phrases.
    #[error("Message larger than {0} bytes")]
    MessageTooLarge(usize),
    #[error("More than {0} header lines")]
    TooManyHeaders(usize),
    #[error("Header line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("No empty line after the headers")]
    UnterminatedHead,
    #[error("Malformed start line: {0}")]
    StartLine(&'static str),
    #[error("SIP version {0} not supported")]
    Version(String),
    #[error("Malformed header line")]
    HeaderLine,
    #[error("Missing {0} header")]
    MissingHeader(&'static str),
    #[error("More than one {0} header")]
    DuplicateHeader(&'static str),
    #[error("Invalid {header} header: {why}")]
    InvalidHeader {
        header: &'static str,
        why: &'static str,
    },
    #[error("Content-Length {declared} exceeds the {available} bytes of body")]
    BodyTruncated { declared: usize, available: usize },
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,

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

    // Transactions. The TU asked the transaction layer for something RFC 3261 §17 does not
    // allow: our bug, never the peer's, so none of these becomes a status on the wire.
    /// The transaction has terminated, or the id was never the TU's.
    #[error("No such transaction")]
    UnknownTransaction,
    /// A request to send lacks a top Via whose branch has the RFC 3261 cookie (§8.1.1.7).
    #[error("Request has no top Via with an RFC 3261 branch")]
    MissingBranch,
    /// A client transaction with this branch and method is still running.
    #[error("A transaction with this branch and method already exists")]
    DuplicateTransaction,
    /// ACK is not a transaction of its own (§17.1.1.3); the TU sends it with `send_ack`.
    #[error("ACK is not sent in a transaction")]
    AckInTransaction,
    /// The status is out of range, or the transaction already sent its final (§17.2.1:
    /// only more 2xx may follow a 2xx to INVITE, RFC 6026 §8.5).
    #[error("Status {0} cannot be sent in this transaction state")]
    ResponseNotAllowed(u16),
}

impl Error {
    /// The status to answer a request with when this error is ours to report, with the
    /// reason phrase (RFC 3261 §21.4.1: 400 for malformed, §21.5.6: 505 for the version).
    pub fn status(&self) -> (u16, String) {
        let code = match self {
            Error::Version(_) => 505,
            Error::MessageTooLarge(_) => 513,
            _ => 400,
        };
        (code, reason_phrase(&self.to_string()))
    }
}

/// Makes text safe as a reason phrase: no control characters, bounded length.
pub(crate) fn reason_phrase(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect()
}
