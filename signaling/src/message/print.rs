//! Messages → bytes, and the responses RFC 3261 §8.2.6 builds from a request.

use std::fmt::Write;

use bytes::Bytes;

use super::parse::ReplyContext;
use super::{Head, Headers, Request, Response, default_reason};
use crate::error::reason_phrase;

impl Request {
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        serialize(&start, &self.head, &self.body)
    }
}

impl Response {
    /// A response to `request` (RFC 3261 §8.2.6.2): Via, From, To, Call-ID and CSeq copied,
    /// nothing else. `reason` `None` uses the standard phrase. The caller adds a To tag.
    pub fn to(request: &Request, code: u16, reason: Option<&str>) -> Self {
        Self {
            code,
            reason: reason.map_or_else(|| default_reason(code).to_owned(), reason_phrase),
            head: Head {
                via: request.head.via.clone(),
                from: request.head.from.clone(),
                to: request.head.to.clone(),
                call_id: request.head.call_id.clone(),
                cseq: request.head.cseq.clone(),
                max_forwards: None,
                contact: Vec::new(),
                content_type: None,
                other: Headers::new(),
            },
            body: Bytes::new(),
        }
    }

    /// Adds our To tag unless the request's To already had one (RFC 3261 §8.2.6.2: a
    /// request inside a dialog keeps its tags).
    pub fn set_to_tag(&mut self, tag: &str) {
        if self.head.to.tag().is_none() {
            self.head.to.params.set("tag", Some(tag.to_owned()));
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("SIP/2.0 {} {}", self.code, self.reason);
        serialize(&start, &self.head, &self.body)
    }

    pub fn is_provisional(&self) -> bool {
        self.code < 200
    }
}

impl ReplyContext {
    /// The bytes of a response to a request that did not parse, copying the lines it had
    /// as received. `extra` lines (e.g. `Allow: ...`) are added as given.
    pub fn response_bytes(&self, code: u16, reason: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {code} {}\r\n", reason_phrase(reason));
        for via in &self.via {
            let _ = write!(out, "Via: {via}\r\n");
        }
        let copied = [
            ("From", &self.from),
            ("To", &self.to),
            ("Call-ID", &self.call_id),
            ("CSeq", &self.cseq),
        ];
        for (name, value) in copied {
            if let Some(value) = value {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        for (name, value) in extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }
}

/// Typed headers in the order RFC 3261 §7.3.1 recommends (Via first), then the rest as
/// kept, then the body with a Content-Length always present (required on streams, §18.3).
fn serialize(start: &str, head: &Head, body: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(512 + body.len());
    let _ = write!(out, "{start}\r\n");
    for via in &head.via {
        let _ = write!(out, "Via: {via}\r\n");
    }
    if let Some(max_forwards) = head.max_forwards {
        let _ = write!(out, "Max-Forwards: {max_forwards}\r\n");
    }
    let _ = write!(out, "From: {}\r\nTo: {}\r\n", head.from, head.to);
    let _ = write!(out, "Call-ID: {}\r\nCSeq: {}\r\n", head.call_id, head.cseq);
    for contact in &head.contact {
        let _ = write!(out, "Contact: {contact}\r\n");
    }
    for (name, value) in head.other.iter() {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if let Some(content_type) = &head.content_type {
        let _ = write!(out, "Content-Type: {content_type}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}
