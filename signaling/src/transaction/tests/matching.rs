//! Matching (§17.1.3, §17.2.3 with the RFC 2543 fallback), what the layer answers itself
//! (CANCEL §9.2, merged requests §8.2.2.2), stray responses, transport errors, API misuse.

use super::*;
use crate::Error;
use crate::message::Method;

#[test]
fn duplicates_and_reordering_are_absorbed() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[180, 486]));
    // Every packet twice, and the 180 overtaken by the 486.
    pair.faults(|p| {
        if p.is("SIP/2.0 180", "INVITE") {
            Fate::Delay(Duration::from_millis(100))
        } else {
            Fate::Duplicate
        }
    });
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    // The INVITE reaches the UAS TU once; its duplicate gets the 486 again.
    assert_eq!(pair.uas.when(|e| matches!(e, Event::Request { .. })), [0]);
    assert_eq!(pair.sent("SIP/2.0 486", "INVITE"), [0, 0]);
    // The late 180 is absorbed in Completed; each of the four 486 copies is ACKed and
    // only the first reaches the TU.
    assert_eq!(pair.uac.responses(), [486]);
    assert_eq!(pair.sent("ACK", "ACK"), [0, 0, 0, 0]);
    assert_eq!(pair.uas.terminated(true), [5_000]);
    assert!(
        pair.uas
            .when(|e| matches!(e, Event::NoAck { .. }))
            .is_empty()
    );
}

#[test]
fn cancel_gets_200_and_the_tu_answers_487() {
    let mut pair = Pair::new(Transport::Udp);
    // The TU rings, keeps the INVITE, and answers it 487 when told of the CANCEL.
    let mut invites = std::collections::HashMap::new();
    pair.uas_hook(move |now, event, layer| match event {
        Event::Request { id, request, .. } => {
            layer.respond(now, *id, reply(request, 180)).unwrap();
            invites.insert(*id, request.clone());
        }
        Event::Cancelled { id, cancel } => {
            assert_eq!(cancel.method, Method::Cancel);
            layer.respond(now, *id, reply(&invites[id], 487)).unwrap();
        }
        _ => {}
    });
    let invite = request("INVITE", "z9hG4bK1", Transport::Udp, None);
    let invite_id = pair.send(invite);
    pair.run_until(1_000);
    // CANCEL: the INVITE's branch, Request-URI, Call-ID, From, To and CSeq number (§9.1).
    let cancel_id = pair.send(request("CANCEL", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    assert_eq!(pair.sent("SIP/2.0 200", "CANCEL"), [1_000]);
    assert_eq!(pair.sent("SIP/2.0 487", "INVITE"), [1_000]);
    assert_eq!(pair.sent("ACK", "ACK"), [1_000]);
    let responses_of = |id: super::super::ClientTxId| -> Vec<(u16, Option<String>)> {
        pair.uac
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Response { id: of, response } if *of == id => {
                    Some((response.code, response.head.to.tag().map(str::to_owned)))
                }
                _ => None,
            })
            .collect()
    };
    let b1 = Some("b1".to_owned());
    assert_eq!(
        responses_of(invite_id),
        [(180, b1.clone()), (487, b1.clone())]
    );
    // The 200 to CANCEL repeats the tag the TU gave the INVITE's responses (§9.2).
    assert_eq!(responses_of(cancel_id), [(200, b1)]);
    assert_eq!(
        pair.uas.when(|e| matches!(e, Event::Cancelled { .. })),
        [1_000]
    );
    // The TU hears of the INVITE, not of the CANCEL's own transaction.
    assert_eq!(pair.uas.terminated(true).len(), 1);
}

#[test]
fn cancel_after_the_final_has_no_effect() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    pair.uac_hook(acks_2xx(Transport::Udp));
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    pair.run_until(100);
    pair.send(request("CANCEL", "z9hG4bK1", Transport::Udp, None));
    pair.run();
    assert_eq!(pair.sent("SIP/2.0 200", "CANCEL"), [100]);
    assert!(
        pair.uas
            .when(|e| matches!(e, Event::Cancelled { .. }))
            .is_empty()
    );
}

#[test]
fn cancel_for_nothing_gets_481() {
    let mut pair = Pair::new(Transport::Udp);
    // Lose the first 481: the CANCEL's retransmission gets the same answer.
    let mut first = true;
    pair.faults(move |p| {
        if p.is("SIP/2.0 481", "CANCEL") && std::mem::take(&mut first) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    pair.send(request("CANCEL", "z9hG4bKnone", Transport::Udp, None));
    pair.run();
    assert_eq!(pair.sent("SIP/2.0 481", "CANCEL"), [0, 500]);
    assert_eq!(pair.uac.responses(), [481]);
    assert!(pair.uas.events.is_empty());
    assert!(pair.uas.layer.is_empty());
}

#[test]
fn merged_request_gets_482() {
    let mut pair = Pair::new(Transport::Udp);
    pair.send(request("INVITE", "z9hG4bK1", Transport::Udp, None));
    // The same INVITE forked back to us by another path: same From tag, Call-ID, CSeq.
    pair.send(request("INVITE", "z9hG4bK2", Transport::Udp, None));
    pair.run_until(1_000);
    assert_eq!(pair.sent("SIP/2.0 482", "INVITE"), [0]);
    assert_eq!(pair.uac.responses(), [482, 100]);
    // The 482 is ACKed into its own (silent) transaction; the TU saw one INVITE.
    assert_eq!(pair.sent("ACK", "ACK"), [0]);
    let id = pair.uas.request_id();
    pair.respond(id, reply_to(&pair, 603));
    pair.run();
    assert!(pair.uas.layer.is_empty() && pair.uac.layer.is_empty());
}

fn reply_to(pair: &Pair, code: u16) -> Response {
    pair.uas
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::Request { request, .. } => Some(reply(request, code)),
            _ => None,
        })
        .unwrap()
}

/// The events of a bare layer, drained.
fn events(layer: &mut TransactionLayer) -> Vec<Event> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

fn transmits(layer: &mut TransactionLayer) -> Vec<String> {
    std::iter::from_fn(|| layer.poll_transmit())
        .map(|t| {
            String::from_utf8_lossy(&t.bytes)
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn rfc_2543_requests_match_without_the_cookie() {
    for branch in ["1a2b3c", ""] {
        let mut uas = TransactionLayer::new(Timers::default(), 3);
        let now = Instant::now();
        let invite = request("INVITE", branch, Transport::Udp, None);
        uas.handle_request(now, invite.clone(), UAC, Transport::Udp);
        uas.handle_request(now, invite.clone(), UAC, Transport::Udp);
        let seen = events(&mut uas);
        assert_eq!(seen.len(), 1, "{branch:?}: {seen:?}");
        let Event::Request {
            id, request: got, ..
        } = &seen[0]
        else {
            panic!("{seen:?}")
        };
        uas.respond(now, *id, reply(got, 486)).unwrap();
        assert_eq!(transmits(&mut uas), ["SIP/2.0 486 Busy Here"]);
        uas.handle_request(now, invite.clone(), UAC, Transport::Udp);
        assert_eq!(transmits(&mut uas), ["SIP/2.0 486 Busy Here"]);
        // The ACK carries our To tag; one with another tag is not ours.
        let mut stranger = request("ACK", branch, Transport::Udp, Some("other"));
        stranger.head.cseq.seq = 1;
        uas.handle_request(now, stranger, UAC, Transport::Udp);
        uas.handle_timeout(now + Duration::from_millis(500));
        assert_eq!(transmits(&mut uas), ["SIP/2.0 486 Busy Here"]);
        let ack = request("ACK", branch, Transport::Udp, Some("b1"));
        uas.handle_request(now, ack, UAC, Transport::Udp);
        // Confirmed: G stops, I ends the transaction T4 later.
        uas.handle_timeout(now + Duration::from_millis(1_500));
        assert!(transmits(&mut uas).is_empty());
        uas.handle_timeout(now + Duration::from_millis(5_500));
        assert!(uas.is_empty());
        assert!(
            events(&mut uas)
                .iter()
                .all(|e| matches!(e, Event::Terminated { .. }))
        );
    }
}

#[test]
fn stray_responses() {
    let mut uac = TransactionLayer::new(Timers::default(), 4);
    let now = Instant::now();
    let invite = request("INVITE", "z9hG4bKgone", Transport::Udp, None);
    uac.handle_response(now, reply(&invite, 200), Transport::Udp);
    uac.handle_response(now, reply(&invite, 486), Transport::Udp);
    let options = request("OPTIONS", "z9hG4bKgone", Transport::Udp, None);
    uac.handle_response(now, reply(&options, 200), Transport::Udp);
    // Only the 2xx to INVITE goes up (it may be a fork's); nothing is sent for any.
    let seen = events(&mut uac);
    assert!(
        matches!(&seen[..], [Event::StrayResponse { response, transport: Transport::Udp }] if response.code == 200),
        "{seen:?}"
    );
    assert!(transmits(&mut uac).is_empty());
    assert!(uac.is_empty());
}

#[test]
fn transport_error_ends_the_transactions_to_that_destination() {
    let mut uac = TransactionLayer::new(Timers::default(), 5);
    let now = Instant::now();
    let elsewhere: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    let lost = uac
        .send_request(
            now,
            request("INVITE", "z9hG4bK1", Transport::Tcp, None),
            UAS,
            Transport::Tcp,
        )
        .unwrap();
    let kept = uac
        .send_request(
            now,
            request("OPTIONS", "z9hG4bK2", Transport::Udp, None),
            elsewhere,
            Transport::Udp,
        )
        .unwrap();
    uac.handle_transport_error(now, UAS, "refused");
    let lost = TxId::Client(lost);
    assert_eq!(
        events(&mut uac),
        [
            Event::TransportError {
                id: lost,
                detail: "refused".into()
            },
            Event::Terminated { id: lost }
        ]
    );
    assert_eq!(uac.len(), 1);
    uac.handle_transport_error(now, elsewhere, "unreachable");
    assert_eq!(
        events(&mut uac)[0],
        Event::TransportError {
            id: TxId::Client(kept),
            detail: "unreachable".into()
        }
    );
    assert!(uac.is_empty());
    assert_eq!(uac.poll_timeout(), None);
}

#[test]
fn the_tu_cannot_break_the_rules() {
    let mut layer = TransactionLayer::new(Timers::default(), 6);
    let now = Instant::now();
    let send = |layer: &mut TransactionLayer, request| {
        layer.send_request(now, request, UAS, Transport::Udp)
    };
    assert_eq!(
        send(&mut layer, request("OPTIONS", "old", Transport::Udp, None)),
        Err(Error::MissingBranch)
    );
    assert_eq!(
        send(&mut layer, request("ACK", "z9hG4bK1", Transport::Udp, None)),
        Err(Error::AckInTransaction)
    );
    send(
        &mut layer,
        request("OPTIONS", "z9hG4bK1", Transport::Udp, None),
    )
    .unwrap();
    assert_eq!(
        send(
            &mut layer,
            request("OPTIONS", "z9hG4bK1", Transport::Udp, None)
        ),
        Err(Error::DuplicateTransaction)
    );
    let options = request("OPTIONS", "z9hG4bK9", Transport::Udp, None);
    layer.handle_request(now, options.clone(), UAC, Transport::Udp);
    let Some(Event::Request { id, .. }) = layer.poll_event() else {
        panic!("no request")
    };
    assert_eq!(
        layer.respond(now, id, reply(&options, 99)),
        Err(Error::ResponseNotAllowed(99))
    );
    layer.respond(now, id, reply(&options, 200)).unwrap();
    assert_eq!(
        layer.respond(now, id, reply(&options, 180)),
        Err(Error::ResponseNotAllowed(180))
    );
    assert_eq!(
        layer.respond(now, ServerTxId(999), reply(&options, 200)),
        Err(Error::UnknownTransaction)
    );
}

#[test]
fn a_thousand_transactions_leave_nothing_behind() {
    let mut pair = Pair::new(Transport::Udp);
    pair.uas_hook(answers(&[200]));
    for n in 0..1_000 {
        let call_id = format!("call-{n}");
        pair.send(request_in(
            "OPTIONS",
            &format!("z9hG4bK{n}"),
            Transport::Udp,
            &call_id,
            1,
            None,
        ));
    }
    pair.run();
    assert_eq!(pair.uac.responses().len(), 1_000);
    assert!(pair.uac.layer.is_empty() && pair.uas.layer.is_empty());
    assert_eq!(pair.uas.terminated(true).len(), 1_000);
}
