//! Max-Forwards at an endpoint (RFC 3261 §8.2, §16.3): a new call that arrives with no hops
//! left is looping between trunks and gets 483; anything else is answered as usual. The
//! RFC 4475 table covers OPTIONS with Max-Forwards 0 (`zeromf`).
#![allow(clippy::unwrap_used)]

use sipbridge_signaling::message::{Limits, Message, Request, parse_message};
use sipbridge_signaling::screen::screen_request;

/// An INVITE with this Max-Forwards and, for a re-INVITE, a To tag.
fn invite(max_forwards: u32, to_tag: Option<&str>) -> Request {
    let to_tag = to_tag.map(|tag| format!(";tag={tag}")).unwrap_or_default();
    let text = format!(
        "INVITE sip:+15550100@192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-loop-{max_forwards}\r\n\
Max-Forwards: {max_forwards}\r\n\
To: <sip:+15550100@192.0.2.10>{to_tag}\r\n\
From: <sip:+15550199@192.0.2.20>;tag=8812\r\n\
Call-ID: hop-limit@192.0.2.20\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15550199@192.0.2.20>\r\n\
Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes(), &Limits::default()).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!("an INVITE parses as a request"),
    }
}

#[test]
fn a_new_call_with_no_hops_left_gets_483() {
    let rejection = screen_request(&invite(0, None)).unwrap_err();
    assert_eq!(
        (rejection.code, rejection.reason.as_str()),
        (483, "Too Many Hops")
    );
}

#[test]
fn a_new_call_with_one_hop_left_is_accepted() {
    assert_eq!(screen_request(&invite(1, None)), Ok(()));
}

#[test]
fn a_re_invite_with_no_hops_left_is_for_us_and_accepted() {
    // In a dialog the request is addressed to us; there is no next hop to protect.
    assert_eq!(screen_request(&invite(0, Some("bridge-1"))), Ok(()));
}
