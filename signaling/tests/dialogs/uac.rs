//! We call a carrier (RFC 3261 §12.1.2): forked early dialogs, the 2xx, the ACK, and the
//! responses to what we send in the dialog.

use std::time::Instant;

use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{
    Dialog, DialogEvent, DialogSet, DialogState, Role, Tag, TerminationCause, TimerConfig,
};
use sipbridge_signaling::message::Method;

use super::*;

/// Record-Route as the 200 lists it: the proxy next to the carrier first.
const RR: &str = "Record-Route: <sip:203.0.113.1;lr>\nRecord-Route: <sip:203.0.113.2;lr>\n";
const GW: &str = "Contact: <sip:gw@198.51.100.9:5060>\n";

fn confirmed(t0: Instant) -> (sipbridge_signaling::message::Request, Dialog) {
    let invite = our_invite("");
    let ok = carrier_answer("200 OK", "b1", "1 INVITE", &format!("{RR}{GW}"));
    let dialog = Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0).unwrap();
    (invite, dialog)
}

#[test]
fn a_200_forms_a_confirmed_dialog_with_the_route_set_reversed() {
    let (_, mut dialog) = confirmed(Instant::now());
    assert_eq!(dialog.state(), DialogState::Confirmed);
    assert_eq!(dialog.role(), Role::Uac);
    assert!(dialog.owns_call_id());
    assert_eq!(events(&mut dialog), [DialogEvent::Confirmed]);
    let routes: Vec<String> = dialog.route_set().iter().map(|r| r.to_string()).collect();
    assert_eq!(routes, ["<sip:203.0.113.2;lr>", "<sip:203.0.113.1;lr>"]);
    assert_eq!(dialog.local_cseq(), Some(1));
    assert_eq!(dialog.remote_cseq(), None);
    assert_eq!(dialog.id().local_tag, Tag("ourtag1".into()));
    assert_eq!(dialog.id().remote_tag, Tag("b1".into()));

    let bye = dialog
        .build_request(Method::Bye, via("z9hG4bKbye"), None)
        .unwrap();
    assert_eq!(bye.request.uri.to_string(), "sip:gw@198.51.100.9:5060");
    assert_eq!(
        header_values(&bye, "Route"),
        ["<sip:203.0.113.2;lr>", "<sip:203.0.113.1;lr>"]
    );
    assert_eq!(bye.next_hop.addr, Some(addr("203.0.113.2:5060")));
    assert_eq!(bye.request.head.cseq.seq, 2);
    assert_eq!(bye.request.head.from.tag(), Some("ourtag1"));
    assert_eq!(bye.request.head.to.tag(), Some("b1"));
}

#[test]
fn the_ack_for_a_2xx_reuses_the_invite_cseq_with_a_new_branch() {
    let (invite, mut dialog) = confirmed(Instant::now());
    let ok = carrier_answer("200 OK", "b1", "1 INVITE", &format!("{RR}{GW}"));
    let ack = dialog.build_ack(&ok, via("z9hG4bKack1"), None).unwrap();
    let head = &ack.request.head;
    assert_eq!(ack.request.method, Method::Ack);
    assert_eq!((head.cseq.seq, &head.cseq.method), (1, &Method::Ack));
    assert_eq!(head.cseq.seq, invite.head.cseq.seq);
    assert_ne!(head.via[0].branch(), invite.head.via[0].branch());
    assert_eq!(ack.request.uri.to_string(), "sip:gw@198.51.100.9:5060");
    assert_eq!(header_values(&ack, "Route").len(), 2);
    // The ACK used no new number: the next request is 2.
    assert_eq!(dialog.local_cseq(), Some(1));
    let info = dialog
        .build_request(Method::Info, via("z9hG4bKi"), None)
        .unwrap();
    assert_eq!(info.request.head.cseq.seq, 2);

    let busy = carrier_answer("486 Busy Here", "b1", "1 INVITE", "");
    assert!(matches!(
        dialog.build_ack(&busy, via("z9hG4bKx"), None),
        Err(Error::DialogMethod(_))
    ));
    let other = carrier_answer("200 OK", "b9", "1 INVITE", GW);
    assert_eq!(
        dialog.build_ack(&other, via("z9hG4bKx"), None),
        Err(Error::DialogMismatch)
    );
    assert!(matches!(
        dialog.build_request(Method::Ack, via("z9hG4bKx"), None),
        Err(Error::DialogMethod(_))
    ));
}

#[test]
fn forked_provisionals_are_early_dialogs_and_a_200_confirms_one() {
    let t0 = Instant::now();
    let invite = our_invite("");
    let mut set = DialogSet::new(TimerConfig::default());

    let trying = carrier_answer("100 Trying", "x", "1 INVITE", "");
    let mut trying = trying;
    trying.head.to.params.remove("tag");
    assert_eq!(set.on_response(&invite, &trying, t0, 0), Ok(None));

    let ringing = carrier_answer("180 Ringing", "b1", "1 INVITE", GW);
    let b1 = set.on_response(&invite, &ringing, t0, 0).unwrap().unwrap();
    // A 183 without Contact from a second branch: its target is the Request-URI for now.
    let progress = carrier_answer("183 Session Progress", "b2", "1 INVITE", "");
    let b2 = set.on_response(&invite, &progress, t0, 0).unwrap().unwrap();
    assert_ne!(b1, b2);
    assert_eq!(set.len(), 2);
    assert_eq!(set.get(&b1).unwrap().state(), DialogState::Early);
    assert_eq!(
        set.get(&b2).unwrap().remote_target().to_string(),
        "sip:+15559870000@carrier.example"
    );
    assert!(set.get(&b1).unwrap().route_set().is_empty());

    // The 200 confirms b1 and recomputes its route set from the 200 (§13.2.2.4).
    let ok = carrier_answer("200 OK", "b1", "1 INVITE", &format!("{RR}{GW}"));
    assert_eq!(set.on_response(&invite, &ok, t0, 0), Ok(Some(b1.clone())));
    assert_eq!(set.poll_event(), Some((b1.clone(), DialogEvent::Confirmed)));
    let dialog = set.get(&b1).unwrap();
    assert_eq!(dialog.state(), DialogState::Confirmed);
    assert_eq!(dialog.route_set().len(), 2);

    set.end_early(&invite.head.call_id, &Tag("ourtag1".into()), 200);
    assert_eq!(set.get(&b2).unwrap().state(), DialogState::Terminated);
    assert_eq!(set.get(&b1).unwrap().state(), DialogState::Confirmed);
}

#[test]
fn a_final_failure_ends_every_early_dialog() {
    let t0 = Instant::now();
    let invite = our_invite("");
    let mut set = DialogSet::new(TimerConfig::default());
    for tag in ["b1", "b2"] {
        let ringing = carrier_answer("180 Ringing", tag, "1 INVITE", GW);
        set.on_response(&invite, &ringing, t0, 0).unwrap();
    }
    let busy = carrier_answer("486 Busy Here", "b3", "1 INVITE", "");
    assert_eq!(set.on_response(&invite, &busy, t0, 0), Ok(None));
    assert!(set.iter().all(|d| d.state() == DialogState::Terminated));
    assert!(
        set.iter()
            .all(|d| d.termination_cause() == Some(TerminationCause::Rejected(486)))
    );
}

#[test]
fn a_2xx_to_our_reinvite_refreshes_the_target() {
    let t0 = Instant::now();
    let (_, mut dialog) = confirmed(t0);
    events(&mut dialog);
    let reinvite = dialog
        .build_request(Method::Invite, via("z9hG4bKre"), None)
        .unwrap();
    let head = &reinvite.request.head;
    assert_eq!(head.cseq.seq, 2);
    assert_eq!(
        head.contact[0].uri.to_string(),
        "sip:bridge@192.0.2.10:5060"
    );
    assert!(head.other.has_item("Supported", "timer"));

    let moved = "Contact: <sip:gw@198.51.100.44:5080>\n";
    let ok = carrier_answer("200 OK", "b1", "2 INVITE", moved);
    dialog.on_response(&reinvite.request, &ok, t0, 0).unwrap();
    assert_eq!(events(&mut dialog), [DialogEvent::TargetRefreshed]);
    let bye = dialog
        .build_request(Method::Bye, via("z9hG4bKb"), None)
        .unwrap();
    assert_eq!(bye.request.uri.to_string(), "sip:gw@198.51.100.44:5080");
    // Loose routing: the first hop is still the first proxy.
    assert_eq!(bye.next_hop.addr, Some(addr("203.0.113.2:5060")));
}

#[test]
fn a_retransmitted_200_changes_nothing() {
    let t0 = Instant::now();
    let (invite, mut dialog) = confirmed(t0);
    events(&mut dialog);
    let again = carrier_answer(
        "200 OK",
        "b1",
        "1 INVITE",
        "Contact: <sip:x@198.51.100.1>\n",
    );
    dialog.on_response(&invite, &again, t0, 0).unwrap();
    assert!(events(&mut dialog).is_empty());
    assert_eq!(
        dialog.remote_target().to_string(),
        "sip:gw@198.51.100.9:5060"
    );
}

#[test]
fn a_481_or_408_to_an_in_dialog_request_ends_the_dialog() {
    for (status, code) in [
        ("481 Call/Transaction Does Not Exist", 481),
        ("408 Request Timeout", 408),
    ] {
        let t0 = Instant::now();
        let (_, mut dialog) = confirmed(t0);
        let info = dialog
            .build_request(Method::Info, via("z9hG4bKi"), None)
            .unwrap();
        let gone = carrier_answer(status, "b1", "2 INFO", "");
        dialog.on_response(&info.request, &gone, t0, 0).unwrap();
        assert_eq!(
            dialog.termination_cause(),
            Some(TerminationCause::RequestFailed(code))
        );
    }
}

#[test]
fn responses_that_cannot_form_or_confirm_a_dialog_are_error_values() {
    let t0 = Instant::now();
    let invite = our_invite("");
    let config = TimerConfig::default();
    let no_contact = carrier_answer("200 OK", "b1", "1 INVITE", "");
    assert_eq!(
        Dialog::new_uac(&invite, &no_contact, config, t0).err(),
        Some(Error::DialogContact("missing"))
    );
    let bad_rr = carrier_answer(
        "200 OK",
        "b1",
        "1 INVITE",
        &format!("Record-Route: sip:a@b, <\n{GW}"),
    );
    assert!(Dialog::new_uac(&invite, &bad_rr, config, t0).is_err());
    let mut untagged = carrier_answer("200 OK", "b1", "1 INVITE", GW);
    untagged.head.to.params.remove("tag");
    assert_eq!(
        Dialog::new_uac(&invite, &untagged, config, t0).err(),
        Some(Error::DialogMissingTag("To"))
    );
    let mut set = DialogSet::new(config);
    assert_eq!(
        set.on_response(&invite, &untagged, t0, 0),
        Err(Error::DialogMissingTag("To"))
    );

    // An early dialog whose 200 is unusable stays early.
    let ringing = carrier_answer("180 Ringing", "b1", "1 INVITE", GW);
    let id = set.on_response(&invite, &ringing, t0, 0).unwrap().unwrap();
    assert!(set.on_response(&invite, &no_contact, t0, 0).is_err());
    assert_eq!(set.get(&id).unwrap().state(), DialogState::Early);
}
