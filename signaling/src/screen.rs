//! What a UAS checks before a request reaches a transaction or dialog (RFC 3261 §8.2), and
//! what a UAC's transport checks on a response (§18.1.2). A request that fails gets the
//! status and headers of a [`Rejection`].

use crate::message::{Method, Request, Response, Uri};

/// Methods a call endpoint serves (the `Allow` header). REGISTER, SUBSCRIBE, PUBLISH,
/// MESSAGE and PRACK are known but not ours: 405. Anything else: 501.
pub const ALLOWED_METHODS: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, UPDATE";

/// Option tags we implement: session timers (RFC 4028).
pub const SUPPORTED: &[&str] = &["timer"];

/// A request refused before any transaction: the status, its reason phrase and the headers
/// RFC 3261 requires with it (Allow with 405, Unsupported with 420, Accept with 415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: u16,
    pub reason: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Rejection {
    fn new(code: u16, reason: &str) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// RFC 3261 §8.2.1–§8.2.3 in order: method, Request-URI scheme, Require, then body type;
/// plus the hop limit for new calls and the Accept check on INVITE.
pub fn screen_request(request: &Request) -> Result<(), Rejection> {
    let head = &request.head;
    match &request.method {
        Method::Invite
        | Method::Ack
        | Method::Cancel
        | Method::Bye
        | Method::Options
        | Method::Info
        | Method::Notify
        | Method::Refer
        | Method::Update => {}
        Method::Other(_) => return Err(Rejection::new(501, "Not Implemented")),
        _ => {
            return Err(Rejection::new(405, "Method Not Allowed").with("Allow", ALLOWED_METHODS));
        }
    }
    if matches!(request.uri, Uri::Other { .. }) {
        return Err(Rejection::new(416, "Unsupported URI Scheme"));
    }
    // Require does not apply to CANCEL or ACK (RFC 3261 §8.2.2.3).
    if !matches!(request.method, Method::Ack | Method::Cancel) {
        let unsupported: Vec<&str> = head
            .other
            .list("Require")
            .filter(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
            .collect();
        if !unsupported.is_empty() {
            return Err(
                Rejection::new(420, "Bad Extension").with("Unsupported", unsupported.join(", "))
            );
        }
    }
    // A new call arriving with no hops left is looping between trunks: a gateway that
    // would carry the call on counts as a hop. Other requests are answered as an endpoint
    // (RFC 4475 §3.3.11; OPTIONS with Max-Forwards 0 is a next-hop probe, RFC 3261 §11).
    let new_call = request.method == Method::Invite && head.to.tag().is_none();
    if new_call && head.max_forwards == Some(0) {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    if !request.body.is_empty() {
        let accepted = accepted_body_types(&request.method);
        let media_type = head.media_type().unwrap_or("application/sdp");
        if !accepted.is_empty() && !accepted.contains(&media_type) {
            return Err(
                Rejection::new(415, "Unsupported Media Type").with("Accept", accepted.join(", "))
            );
        }
    }
    if request.method == Method::Invite && !accepts_sdp(request) {
        return Err(Rejection::new(406, "Not Acceptable").with("Accept", "application/sdp"));
    }
    Ok(())
}

/// Body types we read per method; an empty list means the body is ignored (OPTIONS, BYE).
fn accepted_body_types(method: &Method) -> &'static [&'static str] {
    match method {
        Method::Invite | Method::Ack | Method::Update => &["application/sdp", "multipart/mixed"],
        Method::Info => &["application/dtmf-relay", "application/dtmf"],
        Method::Notify => &["message/sipfrag"],
        _ => &[],
    }
}

/// Whether our answer (SDP) is acceptable per the request's Accept header (RFC 3261 §20.1:
/// absent means application/sdp).
fn accepts_sdp(request: &Request) -> bool {
    let mut accept = request.head.other.list("Accept").peekable();
    if accept.peek().is_none() {
        return true;
    }
    accept.any(|item| {
        let media = item
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(media.as_str(), "application/sdp" | "application/*" | "*/*")
    })
}

/// A response for us carries exactly one Via, ours (RFC 3261 §18.1.2); anything else is
/// misrouted and discarded.
pub fn response_is_for_us(response: &Response) -> bool {
    response.head.via.len() == 1
}
