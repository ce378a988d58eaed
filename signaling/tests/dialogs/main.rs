//! The dialog layer (RFC 3261 §12–§15, RFC 4028) driven with realistic messages on a
//! virtual clock: nothing here reads time beyond one base instant, nothing touches a socket.
#![allow(clippy::unwrap_used)]

mod glare;
mod timers;
mod uac;
mod uas;

use std::net::SocketAddr;
use std::time::Instant;

use sipbridge_signaling::dialog::{
    Dialog, DialogEvent, LocalParty, OutgoingRequest, Tag, TimerConfig,
};
use sipbridge_signaling::message::{
    Limits, Message, NameAddr, Request, Response, SipUri, Uri, Via, parse_message,
};

/// Our address, as sent-by in our Vias and host of our Contact.
pub(crate) const US: &str = "192.0.2.10:5060";

pub(crate) fn parse(text: &str) -> Message {
    let wire = text.trim_start().replace('\n', "\r\n");
    parse_message(wire.as_bytes(), &Limits::default()).unwrap()
}

pub(crate) fn request(text: &str) -> Request {
    match parse(text) {
        Message::Request(request) => request,
        Message::Response(_) => panic!("not a request"),
    }
}

pub(crate) fn response(text: &str) -> Response {
    match parse(text) {
        Message::Response(response) => response,
        Message::Request(_) => panic!("not a response"),
    }
}

pub(crate) fn via(branch: &str) -> Via {
    Via::new("UDP", US.parse().unwrap(), branch)
}

pub(crate) fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

pub(crate) fn our_party() -> LocalParty {
    let uri = SipUri::parse("sip:bridge@192.0.2.10:5060").unwrap();
    LocalParty {
        tag: Tag("b7e1c0de".into()),
        contact: NameAddr::new(Uri::Sip(uri)),
    }
}

pub(crate) fn events(dialog: &mut Dialog) -> Vec<DialogEvent> {
    std::iter::from_fn(|| dialog.poll_event()).collect()
}

/// Every value of a header in a request we built, in order.
pub(crate) fn header_values(out: &OutgoingRequest, name: &str) -> Vec<String> {
    out.request
        .head
        .other
        .all(name)
        .map(str::to_owned)
        .collect()
}

/// An INVITE from a carrier that reached us through two record-routing proxies, p2 (the
/// one next to us, on top) and p1. `extra` lines go before Content-Length.
pub(crate) fn carrier_invite(record_routes: &[&str], extra: &str) -> Request {
    let mut text = String::from(
        "INVITE sip:+15559870000@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKp2hop
Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKp1hop
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKalice1
Max-Forwards: 68
From: \"Alice\" <sip:+15551230000@carrier.example>;tag=a73kszlfl
To: <sip:+15559870000@bridge.example>
Call-ID: 1j9FpLxk3uxtm8tn@198.51.100.7
CSeq: 10 INVITE
Contact: <sip:alice@198.51.100.7:5060>
",
    );
    for route in record_routes {
        text.push_str(&format!("Record-Route: {route}\n"));
    }
    text.push_str(extra);
    text.push_str("Content-Length: 0\n\n");
    request(&text)
}

/// The carrier's INVITE answered 200 by a UAS dialog with the default timer policy.
pub(crate) fn uas_dialog(record_routes: &[&str], extra: &str, t0: Instant) -> (Request, Dialog) {
    let invite = carrier_invite(record_routes, extra);
    let mut ok = Response::to(&invite, 200, None);
    let dialog =
        Dialog::new_uas(&invite, &mut ok, our_party(), TimerConfig::default(), t0).unwrap();
    (invite, dialog)
}

/// A request the carrier sends in the dialog of [`carrier_invite`].
pub(crate) fn carrier_in_dialog(method: &str, cseq: u32, extra: &str, body: &str) -> Request {
    request(&format!(
        "{method} sip:bridge@192.0.2.10:5060 SIP/2.0
Via: SIP/2.0/UDP 203.0.113.2:5060;branch=z9hG4bKp2x{cseq}
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKax{cseq}
Max-Forwards: 69
From: \"Alice\" <sip:+15551230000@carrier.example>;tag=a73kszlfl
To: <sip:+15559870000@bridge.example>;tag=b7e1c0de
Call-ID: 1j9FpLxk3uxtm8tn@198.51.100.7
CSeq: {cseq} {method}
{extra}Content-Length: {}

{body}",
        body.len() + body.matches('\n').count()
    ))
}

/// The INVITE we send to a carrier (we are the UAC and own the Call-ID).
pub(crate) fn our_invite(extra: &str) -> Request {
    request(&format!(
        "INVITE sip:+15559870000@carrier.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv1
Max-Forwards: 70
From: <sip:bridge@192.0.2.10>;tag=ourtag1
To: <sip:+15559870000@carrier.example>
Call-ID: out-call-1@192.0.2.10
CSeq: 1 INVITE
Contact: <sip:bridge@192.0.2.10:5060>
{extra}Content-Length: 0

"
    ))
}

/// A response to [`our_invite`] (or, with another CSeq line, to a request in its dialog).
pub(crate) fn carrier_answer(status: &str, to_tag: &str, cseq: &str, extra: &str) -> Response {
    response(&format!(
        "SIP/2.0 {status}
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv1
From: <sip:bridge@192.0.2.10>;tag=ourtag1
To: <sip:+15559870000@carrier.example>;tag={to_tag}
Call-ID: out-call-1@192.0.2.10
CSeq: {cseq}
{extra}Content-Length: 0

"
    ))
}
