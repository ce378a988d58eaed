//! Message builders and scripted transaction users for the tests.

use std::time::Instant;

use super::{UAC, UAS};
use crate::message::{Limits, Message, Method, Request, Response, parse_message};
use crate::transaction::{Event, TransactionLayer, Transport};

/// A request from the UAC (`alice`, From tag `a1`) to the UAS, outside any dialog unless
/// `to_tag` is given.
pub(super) fn request(
    method: &str,
    branch: &str,
    transport: Transport,
    to_tag: Option<&str>,
) -> Request {
    request_in(method, branch, transport, "call-1", 1, to_tag)
}

pub(super) fn request_in(
    method: &str,
    branch: &str,
    transport: Transport,
    call_id: &str,
    seq: u32,
    to_tag: Option<&str>,
) -> Request {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let via = format!("SIP/2.0/{} {UAC}", transport.via_name());
    let branch = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    let text = format!(
        "{method} sip:bob@{UAS} SIP/2.0\r\nVia: {via}{branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{UAC}>;tag=a1\r\nTo: <sip:bob@{UAS}>{to_tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: {seq} {method}\r\nContact: <sip:alice@{UAC}>\r\nContent-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes(), &Limits::default()).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!(),
    }
}

/// The UAS TU's response, with its To tag `b1` (none on 100).
pub(super) fn reply(request: &Request, code: u16) -> Response {
    let mut response = Response::to(request, code, None);
    if code > 100 {
        response.head.to.params.set("tag", Some("b1".into()));
    }
    response
}

/// The ACK a UAC's dialog sends for a 2xx (§13.2.2.4): a new branch, the 2xx's To.
fn ack_for_2xx(response: &Response, branch: &str, transport: Transport) -> Request {
    let mut ack = request_in(
        "ACK",
        branch,
        transport,
        &response.head.call_id.0,
        response.head.cseq.seq,
        None,
    );
    ack.head.to = response.head.to.clone();
    ack
}

/// A UAS TU that answers every new request at once with `codes`, in order.
pub(super) fn answers(codes: &'static [u16]) -> impl FnMut(Instant, &Event, &mut TransactionLayer) {
    move |now, event, layer| {
        if let Event::Request { id, request, .. } = event {
            for &code in codes {
                layer.respond(now, *id, reply(request, code)).unwrap();
            }
        }
    }
}

/// A UAC TU that ACKs every 2xx to INVITE, each ACK on a new branch.
pub(super) fn acks_2xx(transport: Transport) -> impl FnMut(Instant, &Event, &mut TransactionLayer) {
    let mut count = 0;
    move |_, event, layer| {
        if let Event::Response { response, .. } | Event::StrayResponse { response, .. } = event
            && (200..300).contains(&response.code)
            && response.head.cseq.method == Method::Invite
        {
            count += 1;
            let ack = ack_for_2xx(response, &format!("z9hG4bKack{count}"), transport);
            layer.send_ack(&ack, UAS, transport);
        }
    }
}
