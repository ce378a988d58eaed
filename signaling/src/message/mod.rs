//! SIP messages as our own owned types (RFC 3261 §7), parsed with the help of
//! `ezk-sip-types` plus the strictness checks it lacks (see [`parse`]), and printed back.
//!
//! The headers every layer needs (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact,
//! Content-Type) are typed in [`Head`] and validated once at parse time; the rest stay text
//! in [`Headers`] and are read on demand.

mod framing;
pub(crate) mod grammar;
mod headers;
mod multipart;
mod name_addr;
mod params;
mod parse;
mod print;
mod uri;
mod via;

use std::fmt;

use bytes::Bytes;

pub use framing::{Framed, Limits, StreamFramer, is_keepalive};
pub use grammar::is_token;
pub use headers::{Headers, canonical_name};
pub use multipart::sdp_body;
pub use name_addr::NameAddr;
pub use params::{Param, Params};
pub use parse::{Malformed, ReplyContext, parse_message};
pub use uri::{Host, SipUri, Uri};
pub use via::{BRANCH_COOKIE, Via};

/// A request method (RFC 3261 §7.1; methods are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Subscribe,
    Notify,
    Publish,
    Info,
    Refer,
    Message,
    Update,
    /// An extension method: any token.
    Other(String),
}

impl Method {
    const KNOWN: [(Method, &'static str); 14] = [
        (Method::Invite, "INVITE"),
        (Method::Ack, "ACK"),
        (Method::Bye, "BYE"),
        (Method::Cancel, "CANCEL"),
        (Method::Options, "OPTIONS"),
        (Method::Register, "REGISTER"),
        (Method::Prack, "PRACK"),
        (Method::Subscribe, "SUBSCRIBE"),
        (Method::Notify, "NOTIFY"),
        (Method::Publish, "PUBLISH"),
        (Method::Info, "INFO"),
        (Method::Refer, "REFER"),
        (Method::Message, "MESSAGE"),
        (Method::Update, "UPDATE"),
    ];

    /// `None` unless `token` is a valid method token.
    pub fn parse(token: &str) -> Option<Self> {
        if !grammar::is_token(token) {
            return None;
        }
        let known = Self::KNOWN.iter().find(|(_, name)| *name == token);
        Some(known.map_or_else(|| Method::Other(token.to_owned()), |(m, _)| m.clone()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(name) => name,
            known => Self::KNOWN
                .iter()
                .find(|(m, _)| m == known)
                .map_or("", |(_, name)| name),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `CSeq: 314159 INVITE` (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// A Call-ID (RFC 3261 §20.8), compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The headers every message has, typed; everything else is in `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Topmost first.
    pub via: Vec<Via>,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: CallId,
    pub cseq: CSeq,
    pub max_forwards: Option<u8>,
    pub contact: Vec<NameAddr>,
    /// Media type in lower case, parameters kept (`application/sdp`).
    pub content_type: Option<String>,
    pub other: Headers,
}

impl Head {
    /// The media type without parameters, lower case.
    pub fn media_type(&self) -> Option<&str> {
        let content_type = self.content_type.as_deref()?;
        Some(grammar::trim_lws(
            content_type.split(';').next().unwrap_or_default(),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub head: Head,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    /// The reason phrase exactly as received (docs/OUTCOMES.md reports it verbatim).
    pub reason: String,
    pub head: Head,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn head(&self) -> &Head {
        match self {
            Message::Request(r) => &r.head,
            Message::Response(r) => &r.head,
        }
    }
}

/// The reason phrase RFC 3261 §21 gives a status code, for responses we generate.
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}
