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

    // SIP INFO DTMF bodies (`info_dtmf`): the peer's fault. The INFO is refused with the
    // status and reason phrase of `Error::info_dtmf_rejection` and no key reaches the room.
    /// The Content-Type is neither `application/dtmf-relay` nor `application/dtmf`, or is
    /// absent.
    #[error("INFO body is not application/dtmf-relay or application/dtmf")]
    InfoDtmfContentType,
    /// The body is over the size we parse at all.
    #[error("INFO DTMF body of {len} bytes is over the {max} bytes accepted")]
    InfoDtmfTooLarge { len: usize, max: usize },
    /// The body is not UTF-8 (both formats are ASCII text).
    #[error("INFO DTMF body is not UTF-8")]
    InfoDtmfNotUtf8,
    /// No `Signal=` line (`application/dtmf-relay`), or an empty `application/dtmf` body.
    #[error("INFO DTMF body has no signal")]
    InfoDtmfNoSignal,
    /// More than one `Signal=` line: which key was pressed is ambiguous.
    #[error("INFO DTMF body has more than one Signal line")]
    InfoDtmfRepeatedSignal,
    /// The signal is not one of the 16 DTMF keys (`0`-`9`, `*`, `#`, `A`-`D`) nor their
    /// RFC 4733 event codes 0-15; the value is cut to 16 characters.
    #[error("unknown DTMF signal {0:?}")]
    InfoDtmfUnknownSignal(String),

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
    /// Silence was asked for a request that was already answered (a 100 Trying included).
    #[error("The request was answered already; it cannot be dropped")]
    AbandonAfterResponse,

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
