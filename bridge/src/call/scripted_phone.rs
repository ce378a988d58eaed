//! The phone of the call-level tests: its INVITE and its in-dialog requests, as text a real
//! phone would send, parsed by the same parser as the wire.
#![allow(clippy::unwrap_used)]

use sipbridge_signaling::message::{Limits, Message, Request, parse_message};

/// The Call-ID of every scripted call.
pub(crate) const CALL_ID: &str = "call-1@198.51.100.7";

/// Parses `text` (lines ending in `\n`) as a request off the wire.
pub(crate) fn request(text: &str) -> Request {
    let wire = text.trim_start().replace('\n', "\r\n");
    match parse_message(wire.as_bytes(), &Limits::default()).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => panic!("not a request"),
    }
}

/// The length of `body` once its `\n` are `\r\n`.
fn wire_len(body: &str) -> usize {
    body.len() + body.matches('\n').count()
}

/// The phone's INVITE: `extra` header lines (each ending in `\n`), then `body`.
pub(crate) fn invite(extra: &str, body: &str) -> Request {
    request(&format!(
        "INVITE sip:+15559870000@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKinvite
Max-Forwards: 70
From: <sip:+15551230000@carrier.example>;tag=phone1
To: <sip:+15559870000@bridge.example>
Call-ID: {CALL_ID}
CSeq: 1 INVITE
{extra}Content-Length: {}

{body}",
        wire_len(body)
    ))
}

/// A request of the phone in the dialog whose To tag (ours) is `our_tag`.
pub(crate) fn in_dialog(
    method: &str,
    cseq: u32,
    our_tag: &str,
    extra: &str,
    body: &str,
) -> Request {
    request(&format!(
        "{method} sip:bridge@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKphone{cseq}
Max-Forwards: 70
From: <sip:+15551230000@carrier.example>;tag=phone1
To: <sip:+15559870000@bridge.example>;tag={our_tag}
Call-ID: {CALL_ID}
CSeq: {cseq} {method}
Contact: <sip:phone@198.51.100.7:5060>
{extra}Content-Length: {}

{body}",
        wire_len(body)
    ))
}
