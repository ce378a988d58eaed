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

    // Dialogs (RFC 3261 §12–§15). A peer's message that cannot found or update a dialog
    // (the peer is at fault), or a dialog asked for something its state does not allow
    // (our bug: answered 500 if it ever reaches a status).
    /// A dialog-forming response without a To tag, or a request without a From tag where
    /// one is needed (RFC 3261 §12.1).
    #[error("No {0} tag to identify the dialog")]
    DialogMissingTag(&'static str),
    /// The Contact of a dialog-forming or target-refresh message is absent, not a single
    /// value, or not a SIP/SIPS URI (RFC 3261 §12.1.1, §12.1.2).
    #[error("Unusable Contact for the dialog: {0}")]
    DialogContact(&'static str),
    /// Only INVITE with a 101–299 response forms a dialog here (RFC 3261 §12.1).
    #[error("{method} with status {code} does not form a dialog")]
    NotDialogForming { method: String, code: u16 },
    /// The message's Call-ID or tags belong to another dialog.
    #[error("Message does not belong to this dialog")]
    DialogMismatch,
    /// The dialog is terminated: nothing more may be sent in it.
    #[error("Dialog is terminated")]
    DialogTerminated,
    /// ACK and CANCEL are not built as ordinary in-dialog requests (RFC 3261 §13.2.2.4, §9.1).
    #[error("{0} is not built as an in-dialog request")]
    DialogMethod(String),
    /// RFC 3261 §14.1: no new INVITE while another INVITE transaction (or, RFC 3311 §5.1,
    /// an offer) is in progress in either direction.
    #[error("An INVITE or offer is already pending in this dialog")]
    OfferPending,
    /// The local CSeq would pass 2^32-1 (RFC 3261 §8.1.1.5).
    #[error("Local CSeq space exhausted")]
    CSeqExhausted,
    /// The request would go to a URI that is not a SIP/SIPS URI (a tel: remote target).
    #[error("Next hop is not a SIP URI")]
    NotSipTarget,
}

impl Error {
    /// The status to answer a request with when this error is ours to report, with the
    /// reason phrase (RFC 3261 §21.4.1: 400 for malformed, §21.5.6: 505 for the version).
    pub fn status(&self) -> (u16, String) {
        let code = match self {
            Error::Version(_) => 505,
            Error::MessageTooLarge(_) => 513,
            Error::DialogMismatch
            | Error::DialogTerminated
            | Error::DialogMethod(_)
            | Error::CSeqExhausted
            | Error::OfferPending
            | Error::NotSipTarget
            | Error::NotDialogForming { .. } => 500,
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
