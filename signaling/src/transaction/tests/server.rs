//! Server transaction timers: automatic 100 Trying, G/H, I, J, and the 2xx retransmission
//! until ACK with Timer L (RFC 3261 §17.2.1, §17.2.2, §13.3.1.4, RFC 6026 §8.5).

use super::*;

fn is_no_ack(event: &Event) -> bool {
    matches!(event, Event::NoAck { .. })
}

fn is_ack_received(event: &Event) -> bool {
    matches!(event, Event::AckReceived { .. })
}

/// Every ACK is lost.
fn lose_acks(pair: &mut Pair) {
    pair.faults(|p| {
        if p.is("ACK", "ACK") {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
}

#[test]
fn trying_goes_out_at_200_ms_when_the_tu_is_silent() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut pair = Pair::new(transport);
        pair.send(request("INVITE", "z9hG4bK1", transport, None));
        pair.run_until(1_000);
        assert_eq!(pair.sent("SIP/2.0 100", "INVITE"), [200]);
        // The 100 stopped Timer A before its first retransmission at 0.5 s.
        assert_eq!(pair.sent("INVITE", "INVITE"), [0]);
        assert_eq!(pair.uac.responses(), [100]);
        let id = pair.uas.request_id();
        pair.respond(id, reply_to_invite(&pair, 486));
        pair.run();
        assert_eq!(pair.uac.responses(), [100, 486]);
        assert!(pair.uac.layer.is_empty() && pair.uas.layer.is_empty());
    }
}

/// The INVITE the UAS TU was given, answered with `code`.
fn reply_to_invite(pair: &Pair, code: u16) -> Response {
    let request = pair
        .uas
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::Request { request, .. } => Some(request),
            _ => None,
        })
        .unwrap();
    reply(request, code)
}

#[test]
fn no_trying_when_the_tu_rang_first() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[180]));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(5_000);
    assert!(pair.sent("SIP/2.0 100", "INVITE").is_empty());
    assert_eq!(pair.sent("SIP/2.0 180", "INVITE"), [0]);
    assert_eq!(pair.uac.responses(), [180]);
}

#[test]
fn retransmitted_invite_gets_the_last_provisional() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[180]));
    // The UAS's responses are all lost, so the UAC keeps retransmitting.
    pair.faults(|p| {
        if p.from == UAS {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(4_000);
    assert_eq!(pair.sent("INVITE", "INVITE"), [0, 500, 1_500, 3_500]);
    assert_eq!(pair.sent("SIP/2.0 180", "INVITE"), [0, 500, 1_500, 3_500]);
    assert_eq!(pair.uas.when(|e| matches!(e, Event::Request { .. })), [0]);
}

#[test]
fn timer_g_doubles_to_t2_until_timer_h_reports_no_ack() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[486]));
    lose_acks(&mut pair);
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    let schedule = [
        0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ];
    assert_eq!(pair.sent("SIP/2.0 486", "INVITE"), schedule);
    // The client ACKs each one and tells its TU once.
    assert_eq!(pair.sent("ACK", "ACK"), schedule);
    assert_eq!(pair.uac.responses(), [486]);
    assert_eq!(pair.uas.when(is_no_ack), [32_000]);
    assert_eq!(pair.uas.terminated(true), [32_000]);
}

#[test]
fn two_xx_is_retransmitted_until_the_ack() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    pair.uac_hook(acks_2xx(Transport::Udp));
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
    assert_eq!(pair.sent("SIP/2.0 200", "INVITE"), [0, 500]);
    // Each 2xx reaches the UAC's TU, which ACKs it (RFC 6026 §8.4).
    assert_eq!(pair.uac.responses(), [200, 200]);
    assert_eq!(pair.sent("ACK", "ACK"), [0, 500]);
    assert_eq!(pair.uas.when(is_ack_received), [500]);
    assert!(pair.uas.when(is_no_ack).is_empty());
    // L and M: 64·T1 after the 2xx.
    assert_eq!(pair.uas.terminated(true), [32_000]);
    assert_eq!(pair.uac.terminated(false), [32_000]);
}

#[test]
fn two_xx_whose_acks_are_all_lost_reports_no_ack() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    pair.uac_hook(acks_2xx(Transport::Udp));
    lose_acks(&mut pair);
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    assert_eq!(
        pair.sent("SIP/2.0 200", "INVITE"),
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(pair.uas.when(is_no_ack), [32_000]);
    assert!(pair.uas.when(is_ack_received).is_empty());
}

#[test]
fn reliable_two_xx_is_sent_once() {
    let mut pair = Pair::new(Transport::Tcp);
    pair.uas_hook(answers(&[180, 200]));
    pair.uac_hook(acks_2xx(Transport::Tcp));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Tcp, None));
    pair.run();
    assert_eq!(pair.sent("SIP/2.0 200", "INVITE"), [0]);
    assert_eq!(pair.uac.responses(), [180, 200]);
    assert_eq!(pair.uas.when(is_ack_received), [0]);
    // L still runs on TCP: INVITE retransmissions cannot come, but it bounds the ACK wait.
    assert_eq!(pair.uas.terminated(true), [32_000]);
}

#[test]
fn ack_received_carries_the_ack() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    pair.uac_hook(acks_2xx(Transport::Udp));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    let id = pair.uas.request_id();
    let acks: Vec<&Request> = pair
        .uas
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::AckReceived { id: acked, ack } if *acked == id => Some(ack),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].head.via[0].branch(), Some("z9hG4bKack1"));
    assert_eq!(acks[0].head.to.tag(), Some("b1"));
}

#[test]
fn an_abandoned_invite_gets_no_answer_and_its_retransmissions_none_either() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(|now, event, layer| {
        if let Event::Request { id, .. } = event {
            layer.abandon(now, *id).unwrap();
        }
    });
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(40_000);
    // Timer A retransmitted the INVITE into silence until Timer B (64·T1 = 32 s).
    assert!(pair.sent("INVITE", "INVITE").len() > 3);
    assert!(
        pair.uac.responses().is_empty(),
        "{:?}",
        pair.uac.responses()
    );
    // One request for the TU: the retransmissions started nothing new.
    let requests = pair
        .uas
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Request { .. }))
        .count();
    assert_eq!(requests, 1);
    pair.run();
    assert!(pair.uas.layer.is_empty(), "the abandoned transaction ended");
}

#[test]
fn a_request_answered_already_cannot_be_abandoned() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[180]));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(100);
    let id = pair.uas.request_id();
    let now = pair.now;
    assert!(matches!(
        pair.uas.layer.abandon(now, id),
        Err(crate::Error::AbandonAfterResponse)
    ));
}
