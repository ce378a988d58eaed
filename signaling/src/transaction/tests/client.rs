//! Client transaction timers: A/B, E/F, D, K (RFC 3261 §17.1.1.2, §17.1.2.2), exact to the
//! millisecond on the virtual clock.

use super::*;
use crate::message::Method;

fn is_timeout(event: &Event) -> bool {
    matches!(event, Event::Timeout { .. })
}

/// Nothing reaches the UAS: every request is lost.
fn black_hole(pair: &mut Pair) {
    pair.faults(|p| {
        if p.from == UAC {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
}

#[test]
fn timer_a_doubles_until_timer_b() {
    let mut pair = Pair::new(Transport::Udp);
    black_hole(&mut pair);
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    // The original, then A at 0.5, 1, 2, 4, 8 and 16 s intervals: 6 retransmissions.
    assert_eq!(
        pair.sent("INVITE", "INVITE"),
        [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]
    );
    assert_eq!(pair.uac.when(is_timeout), [32_000]);
    assert_eq!(pair.uac.terminated(false), [32_000]);
    assert!(pair.uac.layer.is_empty());
}

#[test]
fn reliable_transport_never_retransmits() {
    for transport in [Transport::Tcp, Transport::Tls] {
        let mut pair = Pair::new(transport);
        black_hole(&mut pair);
        pair.send(request("INVITE", "z9hG4bK1", transport, None));
        pair.send(request("OPTIONS", "z9hG4bK2", transport, None));
        pair.run();
        assert_eq!(pair.sent("INVITE", "INVITE"), [0]);
        assert_eq!(pair.sent("OPTIONS", "OPTIONS"), [0]);
        // Timers B and F still bound the wait.
        assert_eq!(pair.uac.when(is_timeout), [32_000, 32_000]);
    }
}

#[test]
fn timer_e_doubles_to_t2_until_timer_f() {
    let mut pair = Pair::new(Transport::Udp);
    black_hole(&mut pair);
    pair.send(request("OPTIONS", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    assert_eq!(
        pair.sent("OPTIONS", "OPTIONS"),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(pair.uac.when(is_timeout), [32_000]);
    assert_eq!(pair.uac.terminated(false), [32_000]);
}

#[test]
fn timer_e_after_a_provisional_is_t2() {
    let mut pair = Pair::new(Transport::Udp);
    // The UAS TU says 100 and never more: each retransmission gets the 100 again.
    pair.uas_hook(answers(&[100]));
    pair.send(request("OPTIONS", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(40_000);
    assert_eq!(
        pair.sent("OPTIONS", "OPTIONS"),
        [0, 500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500]
    );
    assert_eq!(pair.sent("SIP/2.0 100", "OPTIONS").len(), 9);
    // Further provisionals in Proceeding are passed up (§17.1.2.2), then F fires.
    assert_eq!(pair.uac.responses(), [100; 9]);
    assert_eq!(pair.uac.when(is_timeout), [32_000]);
}

#[test]
fn timer_k_absorbs_retransmitted_finals() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    // Every response arrives twice.
    pair.faults(|p| {
        if p.from == UAS {
            Fate::Duplicate
        } else {
            Fate::Deliver
        }
    });
    pair.send(request("OPTIONS", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    assert_eq!(pair.uac.responses(), [200]);
    // K = T4 on the client, J = 64·T1 on the server.
    assert_eq!(pair.uac.terminated(false), [5_000]);
    assert_eq!(pair.uas.terminated(true), [32_000]);
    assert_eq!(pair.sent("OPTIONS", "OPTIONS"), [0]);
}

#[test]
fn lost_non_invite_final_is_recovered_by_retransmission() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    let mut first = true;
    pair.faults(move |p| {
        if p.is("SIP/2.0 200", "OPTIONS") && std::mem::take(&mut first) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.send(request("OPTIONS", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    // E retransmits at 0.5 s; the server (Completed, J) answers it with the same 200.
    assert_eq!(pair.sent("OPTIONS", "OPTIONS"), [0, 500]);
    assert_eq!(pair.sent("SIP/2.0 200", "OPTIONS"), [0, 500]);
    assert_eq!(pair.uas.when(|e| matches!(e, Event::Request { .. })), [0]);
    assert_eq!(
        pair.uac.when(|e| matches!(e, Event::Response { .. })),
        [500]
    );
    assert_eq!(pair.uac.terminated(false), [5_500]);
    assert_eq!(pair.uas.terminated(true), [32_000]);
}

#[test]
fn timer_d_absorbs_retransmitted_errors_and_lost_ack_is_resent() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[486]));
    let mut first = true;
    pair.faults(move |p| {
        if p.is("ACK", "ACK") && std::mem::take(&mut first) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    // The first ACK is lost; G re-sends the 486 at 0.5 s and the client ACKs it again
    // without telling its TU.
    assert_eq!(pair.sent("SIP/2.0 486", "INVITE"), [0, 500]);
    assert_eq!(pair.sent("ACK", "ACK"), [0, 500]);
    assert_eq!(pair.uac.responses(), [486]);
    // The transaction's own ACK: the INVITE's branch, the 486's To tag.
    let ack = pair.log().iter().find(|p| p.is("ACK", "ACK")).unwrap();
    assert_eq!(ack.line, format!("ACK sip:bob@{UAS} SIP/2.0"));
    // D = 32 s after the 486; I = T4 after the ACK; no "no ACK".
    assert_eq!(pair.uac.terminated(false), [32_000]);
    assert_eq!(pair.uas.terminated(true), [5_500]);
    assert!(
        pair.uas
            .when(|e| matches!(e, Event::NoAck { .. }))
            .is_empty()
    );
}

#[test]
fn reliable_invite_error_ends_at_once() {
    let mut pair = Pair::new(Transport::Tcp);
    pair.uas_hook(answers(&[486]));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Tcp, None));
    pair.run();
    assert_eq!(pair.sent("ACK", "ACK"), [0]);
    assert_eq!(pair.sent("SIP/2.0 486", "INVITE"), [0]);
    // D and I are zero on reliable transports.
    assert_eq!(pair.uac.terminated(false), [0]);
    assert_eq!(pair.uas.terminated(true), [0]);
}

#[test]
fn client_ack_copies_what_section_17_1_1_3_requires() {
    let mut layer = TransactionLayer::new(Timers::default(), 7);
    let now = Instant::now();
    let mut invite = request("INVITE", "z9hG4bKx", Transport::Udp, None);
    invite
        .head
        .other
        .push("Route", "<sip:proxy.example.com;lr>");
    layer
        .send_request(now, invite.clone(), UAS, Transport::Udp)
        .unwrap();
    layer.poll_transmit().unwrap();
    layer.handle_response(now, reply(&invite, 603), Transport::Udp);
    let ack = layer.poll_transmit().unwrap();
    let Message::Request(ack) = parse_message(&ack.bytes, &Limits::default()).unwrap() else {
        panic!("not a request");
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(ack.head.via, invite.head.via);
    assert_eq!(ack.head.from, invite.head.from);
    assert_eq!(ack.head.to.tag(), Some("b1"));
    assert_eq!(ack.head.call_id, invite.head.call_id);
    assert_eq!(ack.head.cseq.seq, 1);
    assert_eq!(ack.head.cseq.method, Method::Ack);
    assert_eq!(
        ack.head.other.get("Route"),
        Some("<sip:proxy.example.com;lr>")
    );
}
