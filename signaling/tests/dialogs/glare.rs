//! Glare (RFC 3261 §14.1, §14.2; RFC 3311 §5.2) in both directions.

use std::time::{Duration, Instant};

use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{Body, Dialog, DialogEvent, TimerConfig, Verdict};
use sipbridge_signaling::message::Method;

use super::*;

const SDP: &str =
    "v=0\no=- 1 2 IN IP4 198.51.100.7\ns=-\nc=IN IP4 198.51.100.7\nt=0 0\nm=audio 4000 RTP/AVP 0\n";

fn sdp_body() -> Option<Body> {
    Some(Body {
        content_type: "application/sdp".into(),
        data: SDP.as_bytes().to_vec().into(),
    })
}

fn rejected_with(verdict: Result<Verdict, Error>) -> u16 {
    match verdict {
        Ok(Verdict::Reject(response)) => response.code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_reinvite_crossing_ours_gets_491_and_an_update_without_offer_passes() {
    let t0 = Instant::now();
    let (_, mut dialog) = uas_dialog(&[], "", t0);
    let ours = dialog
        .build_request(Method::Invite, via("z9hG4bKours"), sdp_body())
        .unwrap();
    assert_eq!(
        ours.request.head.content_type.as_deref(),
        Some("application/sdp")
    );

    let theirs = carrier_in_dialog("INVITE", 11, "", "");
    assert_eq!(rejected_with(dialog.receive_request(&theirs, 0)), 491);
    let offer = "Content-Type: application/sdp\n";
    let update = carrier_in_dialog("UPDATE", 12, offer, SDP);
    assert_eq!(rejected_with(dialog.receive_request(&update, 0)), 491);
    let keepalive = carrier_in_dialog("UPDATE", 13, "", "");
    assert_eq!(dialog.receive_request(&keepalive, 0), Ok(Verdict::Accept));

    // Once ours is answered, theirs is welcome again.
    let ok = response(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKours
From: <sip:+15559870000@bridge.example>;tag=b7e1c0de
To: \"Alice\" <sip:+15551230000@carrier.example>;tag=a73kszlfl
Call-ID: 1j9FpLxk3uxtm8tn@198.51.100.7
CSeq: 1 INVITE
Contact: <sip:alice@198.51.100.7:5060>
Content-Length: 0

",
    );
    dialog.on_response(&ours.request, &ok, t0, 0).unwrap();
    let again = carrier_in_dialog("INVITE", 14, "", "");
    assert_eq!(dialog.receive_request(&again, 0), Ok(Verdict::Accept));
    // …and while theirs is pending we may not start another (§14.1).
    assert_eq!(
        dialog
            .build_request(Method::Invite, via("z9hG4bKx"), None)
            .err(),
        Some(Error::OfferPending)
    );
}

#[test]
fn a_second_reinvite_before_we_answered_the_first_gets_500_with_retry_after() {
    let t0 = Instant::now();
    let (_, mut dialog) = uas_dialog(&[], "", t0);
    let first = carrier_in_dialog("INVITE", 11, "", "");
    assert_eq!(dialog.receive_request(&first, 0), Ok(Verdict::Accept));
    let second = carrier_in_dialog("INVITE", 12, "", "");
    let Ok(Verdict::Reject(response)) = dialog.receive_request(&second, 27) else {
        panic!("second re-INVITE accepted");
    };
    assert_eq!(response.code, 500);
    let retry: u32 = response
        .head
        .other
        .get("Retry-After")
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry <= 10);
    assert_eq!(retry, 27 % 11);
    // Answering the first frees the dialog.
    let mut ok = sipbridge_signaling::message::Response::to(&first, 200, None);
    dialog.respond(&first, &mut ok, t0).unwrap();
    let third = carrier_in_dialog("INVITE", 13, "", "");
    assert_eq!(dialog.receive_request(&third, 0), Ok(Verdict::Accept));
}

#[test]
fn a_reinvite_before_the_initial_invite_is_answered_gets_500() {
    let t0 = Instant::now();
    let invite = carrier_invite(&[], "");
    let mut ringing = sipbridge_signaling::message::Response::to(&invite, 180, None);
    let mut dialog = Dialog::new_uas(
        &invite,
        &mut ringing,
        our_party(),
        TimerConfig::default(),
        t0,
    )
    .unwrap();
    let early = carrier_in_dialog("INVITE", 11, "", "");
    assert_eq!(rejected_with(dialog.receive_request(&early, 3)), 500);
}

/// Our re-INVITE meets 491; the retry is due after the §14.1 back-off, exactly.
fn retry_after_491(owner: bool, random: u32) -> Duration {
    let t0 = Instant::now();
    let (mut dialog, request, pending) = if owner {
        let invite = our_invite("");
        let ok = carrier_answer(
            "200 OK",
            "b1",
            "1 INVITE",
            "Contact: <sip:gw@198.51.100.9:5060>\n",
        );
        let mut dialog = Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0).unwrap();
        let reinvite = dialog
            .build_request(Method::Invite, via("z9hG4bKre"), sdp_body())
            .unwrap();
        let pending = carrier_answer("491 Request Pending", "b1", "2 INVITE", "");
        (dialog, reinvite.request, pending)
    } else {
        let (_, mut dialog) = uas_dialog(&[], "", t0);
        let reinvite = dialog
            .build_request(Method::Invite, via("z9hG4bKre"), sdp_body())
            .unwrap();
        let mut pending = sipbridge_signaling::message::Response::to(&reinvite.request, 491, None);
        pending.head.to.params.set("tag", Some("a73kszlfl".into()));
        (dialog, reinvite.request, pending)
    };
    events(&mut dialog);
    dialog.on_response(&request, &pending, t0, random).unwrap();
    let due = dialog.poll_timeout().unwrap();
    dialog.handle_timeout(due - Duration::from_millis(1));
    assert!(events(&mut dialog).is_empty());
    dialog.handle_timeout(due);
    assert_eq!(
        events(&mut dialog),
        [DialogEvent::GlareRetryDue(Method::Invite)]
    );
    assert_eq!(dialog.poll_timeout(), None);
    // The retry may go out now, with a new CSeq.
    let retry = dialog
        .build_request(Method::Invite, via("z9hG4bKre2"), sdp_body())
        .unwrap();
    assert_eq!(retry.request.head.cseq.seq, request.head.cseq.seq + 1);
    due - t0
}

#[test]
fn after_491_the_call_id_owner_waits_2_1_to_4_seconds() {
    for random in [0, 95, 190, 4_000_000_000] {
        let wait = retry_after_491(true, random);
        assert!(
            (Duration::from_millis(2100)..=Duration::from_secs(4)).contains(&wait),
            "{wait:?}"
        );
    }
    assert_eq!(retry_after_491(true, 0), Duration::from_millis(2100));
}

#[test]
fn after_491_the_other_side_waits_0_to_2_seconds() {
    for random in [0, 100, 200, 4_000_000_000] {
        let wait = retry_after_491(false, random);
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
    }
    assert_eq!(retry_after_491(false, 200), Duration::from_secs(2));
}
