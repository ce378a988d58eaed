//! We answer the carrier's INVITE (RFC 3261 §12.1.1) and live in that dialog.

use std::time::Instant;

use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{
    Dialog, DialogEvent, DialogSet, DialogState, Incoming, Role, TerminationCause, TimerConfig,
    Verdict,
};
use sipbridge_signaling::message::{Method, Response};

use super::*;

const LOOSE: [&str; 2] = [
    "<sip:203.0.113.2;lr>",
    "<sip:203.0.113.1;lr;ftag=a73kszlfl>",
];

#[test]
fn invite_through_two_proxies_forms_an_early_then_confirmed_dialog() {
    let t0 = Instant::now();
    let invite = carrier_invite(&LOOSE, "");
    let mut ringing = Response::to(&invite, 180, None);
    let mut dialog = Dialog::new_uas(
        &invite,
        &mut ringing,
        our_party(),
        TimerConfig::default(),
        t0,
    )
    .unwrap();

    // The 180 carries our tag, our Contact and the Record-Route in the order received.
    assert_eq!(ringing.head.to.tag(), Some("b7e1c0de"));
    assert_eq!(
        ringing.head.contact[0].uri.to_string(),
        "sip:bridge@192.0.2.10:5060"
    );
    let copied: Vec<&str> = ringing.head.other.all("Record-Route").collect();
    assert_eq!(copied, LOOSE);
    assert_eq!(dialog.state(), DialogState::Early);
    assert_eq!(dialog.role(), Role::Uas);
    assert!(!dialog.owns_call_id());
    assert_eq!(dialog.id().remote_tag.as_str(), "a73kszlfl");
    assert_eq!(dialog.remote_cseq(), Some(10));
    assert_eq!(dialog.local_cseq(), None);
    assert!(!dialog.is_secure());

    let mut ok = Response::to(&invite, 200, None);
    dialog.respond(&invite, &mut ok, t0).unwrap();
    assert_eq!(dialog.state(), DialogState::Confirmed);
    assert_eq!(events(&mut dialog), [DialogEvent::Confirmed]);
    assert_eq!(ok.head.to.tag(), Some("b7e1c0de"));
    assert_eq!(ok.head.other.all("Record-Route").count(), 2);

    // §12.1.1: the UAS keeps the Record-Route order.
    let routes: Vec<String> = dialog.route_set().iter().map(|r| r.to_string()).collect();
    assert_eq!(routes, LOOSE);
}

#[test]
fn our_bye_follows_the_loose_route_set() {
    let (_, mut dialog) = uas_dialog(&LOOSE, "", Instant::now());
    assert_eq!(events(&mut dialog), [DialogEvent::Confirmed]);
    let bye = dialog
        .build_request(Method::Bye, via("z9hG4bKbye1"), None)
        .unwrap();
    let head = &bye.request.head;
    assert_eq!(bye.request.uri.to_string(), "sip:alice@198.51.100.7:5060");
    assert_eq!(header_values(&bye, "Route"), LOOSE);
    assert_eq!(bye.next_hop.addr, Some(addr("203.0.113.2:5060")));
    assert_eq!(bye.next_hop.transport, "udp");
    // From is our side (the INVITE's To plus our tag), To is theirs.
    assert_eq!(
        head.from.to_string(),
        "<sip:+15559870000@bridge.example>;tag=b7e1c0de"
    );
    assert_eq!(
        head.to.to_string(),
        "\"Alice\" <sip:+15551230000@carrier.example>;tag=a73kszlfl"
    );
    assert_eq!(head.call_id.0, "1j9FpLxk3uxtm8tn@198.51.100.7");
    assert_eq!((head.cseq.seq, &head.cseq.method), (1, &Method::Bye));
    assert_eq!(head.max_forwards, Some(70));
    assert!(head.contact.is_empty());
    assert_eq!(head.via[0].branch(), Some("z9hG4bKbye1"));
    assert_eq!(dialog.state(), DialogState::Terminated);
    assert_eq!(
        events(&mut dialog),
        [DialogEvent::Terminated(TerminationCause::LocalBye)]
    );

    // What goes on the wire, in the order of §7.3.1.
    let wire = String::from_utf8(bye.request.to_bytes()).unwrap();
    assert!(wire.starts_with("BYE sip:alice@198.51.100.7:5060 SIP/2.0\r\n"));
    assert!(
        wire.contains(
            "Route: <sip:203.0.113.2;lr>\r\nRoute: <sip:203.0.113.1;lr;ftag=a73kszlfl>\r\n"
        )
    );
    // The request parses back as it was built.
    assert_eq!(request(&wire.replace("\r\n", "\n")), bye.request);
}

#[test]
fn a_strict_router_gets_the_request_uri_and_the_target_rides_last() {
    let strict = ["<sip:203.0.113.2;transport=tcp>", "<sip:203.0.113.1;lr>"];
    let (_, mut dialog) = uas_dialog(&strict, "", Instant::now());
    let bye = dialog
        .build_request(Method::Bye, via("z9hG4bKbye2"), None)
        .unwrap();
    assert_eq!(bye.request.uri.to_string(), "sip:203.0.113.2;transport=tcp");
    assert_eq!(
        header_values(&bye, "Route"),
        ["<sip:203.0.113.1;lr>", "<sip:alice@198.51.100.7:5060>"]
    );
    assert_eq!(bye.next_hop.addr, Some(addr("203.0.113.2:5060")));
    assert_eq!(bye.next_hop.transport, "tcp");
}

#[test]
fn without_record_route_requests_go_straight_to_the_contact() {
    let (_, mut dialog) = uas_dialog(&[], "", Instant::now());
    let info = dialog
        .build_request(Method::Info, via("z9hG4bKinfo"), None)
        .unwrap();
    assert!(header_values(&info, "Route").is_empty());
    assert_eq!(info.next_hop.addr, Some(addr("198.51.100.7:5060")));
    assert_eq!(dialog.state(), DialogState::Confirmed);
}

#[test]
fn an_accepted_reinvite_moves_where_the_bye_goes() {
    let t0 = Instant::now();
    let (_, mut dialog) = uas_dialog(&[], "", t0);
    events(&mut dialog);

    // Rejected target refresh: nothing changes (the target only moves on success).
    let moved = "Contact: <sip:alice@198.51.100.99:5070;transport=tcp>\n";
    let first = carrier_in_dialog("INVITE", 11, moved, "");
    assert_eq!(dialog.receive_request(&first, 0), Ok(Verdict::Accept));
    let mut refused = Response::to(&first, 488, None);
    dialog.respond(&first, &mut refused, t0).unwrap();
    assert_eq!(
        dialog.remote_target().to_string(),
        "sip:alice@198.51.100.7:5060"
    );

    let reinvite = carrier_in_dialog("INVITE", 12, moved, "");
    assert_eq!(dialog.receive_request(&reinvite, 0), Ok(Verdict::Accept));
    let mut ok = Response::to(&reinvite, 200, None);
    dialog.respond(&reinvite, &mut ok, t0).unwrap();
    assert_eq!(
        ok.head.contact.len(),
        1,
        "a 2xx to a target refresh has Contact"
    );
    assert_eq!(events(&mut dialog), [DialogEvent::TargetRefreshed]);
    assert_eq!(dialog.remote_cseq(), Some(12));

    let bye = dialog
        .build_request(Method::Bye, via("z9hG4bKbye3"), None)
        .unwrap();
    assert_eq!(
        bye.request.uri.to_string(),
        "sip:alice@198.51.100.99:5070;transport=tcp"
    );
    assert_eq!(bye.next_hop.addr, Some(addr("198.51.100.99:5070")));
    assert_eq!(bye.next_hop.transport, "tcp");
}

#[test]
fn a_request_with_a_lower_cseq_is_out_of_order() {
    let (_, mut dialog) = uas_dialog(&[], "", Instant::now());
    let later = carrier_in_dialog("INFO", 14, "", "");
    assert_eq!(dialog.receive_request(&later, 0), Ok(Verdict::Accept));
    let earlier = carrier_in_dialog("INFO", 13, "", "");
    let Ok(Verdict::Reject(response)) = dialog.receive_request(&earlier, 0) else {
        panic!("accepted an out-of-order request");
    };
    assert_eq!(response.code, 500);
    assert_eq!(dialog.remote_cseq(), Some(14));
    // ACK reuses its INVITE's number and is never "out of order".
    let ack = carrier_in_dialog("ACK", 10, "", "");
    assert_eq!(dialog.receive_request(&ack, 0), Ok(Verdict::Accept));
}

#[test]
fn unknown_dialogs_get_481_and_stray_acks_are_dropped() {
    let t0 = Instant::now();
    let (invite, dialog) = uas_dialog(&[], "", t0);
    let mut set = DialogSet::new(TimerConfig::default());
    let id = set.insert(dialog);

    let info = carrier_in_dialog("INFO", 11, "", "");
    assert_eq!(set.receive(&info, 0), Incoming::Dialog(id.clone()));

    let mut bye = carrier_in_dialog("BYE", 12, "", "");
    bye.head.to.params.set("tag", Some("nosuchtag".into()));
    let Incoming::Reject(response) = set.receive(&bye, 0) else {
        panic!("no 481");
    };
    assert_eq!(response.code, 481);
    assert_eq!(response.head.to.tag(), Some("nosuchtag"));

    let mut ack = carrier_in_dialog("ACK", 10, "", "");
    ack.head.call_id.0 = "other-call".into();
    assert_eq!(set.receive(&ack, 0), Incoming::Drop);

    // No To tag: a new request for the caller (a retransmitted INVITE, OPTIONS…).
    assert_eq!(set.receive(&invite, 0), Incoming::OutOfDialog);
}

#[test]
fn bye_ends_the_dialog_and_later_requests_get_481() {
    let (_, dialog) = uas_dialog(&[], "", Instant::now());
    let mut set = DialogSet::new(TimerConfig::default());
    let id = set.insert(dialog);
    set.poll_event();

    let bye = carrier_in_dialog("BYE", 11, "", "");
    assert_eq!(set.receive(&bye, 0), Incoming::Dialog(id.clone()));
    assert_eq!(
        set.poll_event(),
        Some((
            id.clone(),
            DialogEvent::Terminated(TerminationCause::RemoteBye)
        ))
    );
    let dialog = set.get_mut(&id).unwrap();
    assert_eq!(dialog.state(), DialogState::Terminated);
    let mut ok = Response::to(&bye, 200, None);
    dialog.respond(&bye, &mut ok, Instant::now()).unwrap();
    assert_eq!(
        dialog.build_request(Method::Info, via("z9hG4bKx"), None),
        Err(Error::DialogTerminated)
    );

    let info = carrier_in_dialog("INFO", 12, "", "");
    assert!(matches!(set.receive(&info, 0), Incoming::Reject(r) if r.code == 481));
}

#[test]
fn a_final_rejection_ends_the_early_dialog() {
    let t0 = Instant::now();
    let invite = carrier_invite(&LOOSE, "");
    let mut ringing = Response::to(&invite, 180, None);
    let mut dialog = Dialog::new_uas(
        &invite,
        &mut ringing,
        our_party(),
        TimerConfig::default(),
        t0,
    )
    .unwrap();
    let mut busy = Response::to(&invite, 486, None);
    dialog.respond(&invite, &mut busy, t0).unwrap();
    assert_eq!(busy.head.to.tag(), Some("b7e1c0de"), "same tag as the 180");
    assert!(busy.head.contact.is_empty());
    assert_eq!(
        dialog.termination_cause(),
        Some(TerminationCause::Rejected(486))
    );
}

#[test]
fn invites_that_cannot_form_a_dialog_are_error_values() {
    let t0 = Instant::now();
    let config = TimerConfig::default();
    let form = |invite: &sipbridge_signaling::message::Request| {
        let mut ok = Response::to(invite, 200, None);
        Dialog::new_uas(invite, &mut ok, our_party(), config, t0)
    };
    let bad_route = carrier_invite(&["<sip:203.0.113.2;lr"], "");
    assert!(matches!(
        form(&bad_route),
        Err(Error::InvalidHeader {
            header: "Record-Route",
            ..
        })
    ));
    let tel_route = carrier_invite(&["<tel:+15551230000>"], "");
    assert!(form(&tel_route).is_err());

    let mut tel_contact = carrier_invite(&[], "");
    tel_contact.head.contact[0].uri = sipbridge_signaling::message::Uri::Tel {
        raw: "tel:+15551230000".into(),
        number: "+15551230000".into(),
    };
    assert!(matches!(form(&tel_contact), Err(Error::DialogContact(_))));

    let mut no_contact = carrier_invite(&[], "");
    no_contact.head.contact.clear();
    assert_eq!(
        form(&no_contact).err(),
        Some(Error::DialogContact("missing"))
    );

    let invite = carrier_invite(&[], "");
    let mut trying = Response::to(&invite, 100, None);
    assert!(matches!(
        Dialog::new_uas(&invite, &mut trying, our_party(), config, t0),
        Err(Error::NotDialogForming { code: 100, .. })
    ));
}

#[test]
fn a_reinvite_with_an_unusable_contact_gets_400() {
    let (_, mut dialog) = uas_dialog(&[], "", Instant::now());
    let two = "Contact: <sip:a@198.51.100.7>, <sip:b@198.51.100.7>\n";
    let reinvite = carrier_in_dialog("INVITE", 11, two, "");
    let Ok(Verdict::Reject(response)) = dialog.receive_request(&reinvite, 0) else {
        panic!("accepted two Contacts");
    };
    assert_eq!(response.code, 400);
    assert!(response.reason.contains("Contact"), "{}", response.reason);
}
