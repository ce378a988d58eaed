//! Placing a call on a virtual clock against a scripted far end: every row of
//! docs/OUTCOMES.md's "Outbound INVITE" table, at the call's level (the room, the media and
//! the API caller included), in milliseconds.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use livekit_protocol::SipHeaderOptions;
use sipbridge_signaling::dial::{Dialer, InviteParams};
use sipbridge_signaling::message::{CallId, Method, NameAddr, Request, Response, SipUri, Uri, Via};
use sipbridge_signaling::outcome::{DisconnectReason, Ending, EstablishedEnd, OutboundEnd};
use sipbridge_signaling::sdp::{Codec, CodecPreferences, LocalSession};
use sipbridge_signaling::transaction::Transport;

use super::{Params, Placing};
use crate::call::machine::{Action, CallMachine, Failure, Input, PhoneEnd, action_names};
use crate::sip::local::LocalAddresses;

const RINGING: Duration = Duration::from_secs(20);
const GRACE: Duration = Duration::from_secs(4);
const LIFETIME: Duration = Duration::from_secs(32);
pub(super) const PCMU_ANSWER: &str = "v=0\r\no=far 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const PCMA_ONLY: &str = "v=0\r\no=far 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

fn uri(text: &str) -> Uri {
    Uri::Sip(SipUri::parse(text).unwrap())
}

/// How the API caller asked for the call.
pub(super) struct Ask {
    wait_until_answered: bool,
    play_dialtone: bool,
    dtmf: &'static str,
}

pub(super) const WAITING: Ask = Ask {
    wait_until_answered: true,
    play_dialtone: true,
    dtmf: "",
};

/// The call placed at `t0`: the machine, the INVITE it sent, and what it did first.
pub(super) fn placed(t0: Instant, ask: &Ask) -> (Placing, Request, Vec<String>) {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let local = LocalAddresses {
        sip_ip: ip,
        hostname: None,
        udp_port: Some(5060),
        tcp_port: None,
        rtp_ip: ip,
    };
    let rtp: SocketAddr = "192.0.2.10:20000".parse().unwrap();
    let preferences = CodecPreferences::new(&[Codec::Pcmu], true).unwrap();
    let mut session = LocalSession::new(1, rtp, preferences);
    let mut from = NameAddr::new(uri("sip:+15550100@192.0.2.10"));
    from.params.set("tag", Some("ourtag".into()));
    let invite = InviteParams {
        request_uri: uri("sip:+15557654321@198.51.100.7:5060"),
        from,
        to: NameAddr::new(uri("sip:+15557654321@198.51.100.7")),
        call_id: CallId("placing@192.0.2.10".into()),
        contact: local.contact(Transport::Udp),
        via: Via::new("UDP", "192.0.2.10:5060".parse().unwrap(), "z9hG4bKfirst"),
        sdp_offer: Bytes::from(session.offer()),
        headers: Vec::new(),
        credentials: None,
    };
    let params = Params {
        session,
        local,
        transport: Transport::Udp,
        ringing_timeout: RINGING,
        cancel_grace: GRACE,
        transaction_lifetime: LIFETIME,
        play_dialtone: ask.play_dialtone,
        wait_until_answered: ask.wait_until_answered,
        dtmf: ask.dtmf.into(),
        headers_to_attributes: vec![("X-Carrier-Id".into(), "carrier.id".into())],
        include_headers: SipHeaderOptions::SipXHeaders,
    };
    let mut call = Placing::new(params, Dialer::new(invite, 7), t0);
    let Some(Action::SendRequest(invite)) = call.poll_action() else {
        panic!("the INVITE first");
    };
    let rest = action_names(&mut call);
    (call, *invite, rest)
}

/// The far end's response to our INVITE: `sdp` as its body; a 2xx names its Contact
/// unless `contact` is false.
pub(super) fn reply(invite: &Request, code: u16, sdp: Option<&str>, contact: bool) -> Input {
    let mut response = Response::to(invite, code, None);
    if code > 100 {
        response.head.to.params.set("tag", Some("far".into()));
    }
    if contact {
        response.head.contact = vec![NameAddr::new(uri("sip:phone@198.51.100.7:5060"))];
    }
    response.head.other.push("X-Carrier-Id", "c-42");
    if let Some(sdp) = sdp {
        response.head.content_type = Some("application/sdp".into());
        response.body = Bytes::from(sdp.to_owned());
    }
    Input::Response(response)
}

fn ringing(invite: &Request) -> Input {
    reply(invite, 180, None, true)
}

/// The call's end: what, how the phone hears it, whether our participant leaves.
fn ended(call: &mut Placing) -> (Ending, PhoneEnd, bool) {
    std::iter::from_fn(|| call.poll_action())
        .find_map(|action| match action {
            Action::End {
                ending,
                phone,
                leave_room,
                ..
            } => Some((ending, phone, leave_room)),
            _ => None,
        })
        .expect("an end")
}

#[test]
fn a_call_rings_hears_early_media_and_goes_active_with_the_answers_headers() {
    let t0 = Instant::now();
    let ask = Ask {
        dtmf: "1234#",
        ..WAITING
    };
    let (mut call, invite, first) = placed(t0, &ask);
    assert_eq!(first, ["ringback on"]);
    call.handle_input(t0, ringing(&invite));
    assert_eq!(action_names(&mut call), ["status ringing"]);
    // The phone's own tones replace our ringback.
    call.handle_input(t0, reply(&invite, 183, Some(PCMU_ANSWER), true));
    assert_eq!(action_names(&mut call), ["media"]);
    call.handle_input(t0, Input::MediaStarted);
    assert_eq!(action_names(&mut call), ["ringback off"]);
    call.handle_input(t0, reply(&invite, 200, Some(PCMU_ANSWER), true));
    assert_eq!(action_names(&mut call), ["send ACK", "media"]);
    call.handle_input(t0, Input::MediaStarted);
    let actions: Vec<Action> = std::iter::from_fn(|| call.poll_action()).collect();
    assert!(matches!(actions[0], Action::Ready), "{actions:?}");
    let Action::SetAttributes(active) = &actions[1] else {
        panic!("{actions:?}");
    };
    assert_eq!(active["sip.callStatus"], "active");
    assert_eq!(active["carrier.id"], "c-42");
    assert_eq!(active["sip.h.x-carrier-id"], "c-42");
    assert!(matches!(actions[2], Action::AnswerApi));
    assert!(matches!(&actions[3], Action::SendDigits(d) if d == "1234#"));
    assert!(call.is_done());
    let answered = call.into_handover().unwrap();
    assert!(
        answered.ack.is_some(),
        "the ACK, for the 2xx's retransmissions"
    );
}

#[test]
fn an_api_caller_not_waiting_has_its_participant_while_the_phone_is_dialled() {
    let ask = Ask {
        wait_until_answered: false,
        play_dialtone: false,
        dtmf: "",
    };
    let (_, _, first) = placed(Instant::now(), &ask);
    assert_eq!(first, ["api answered"]);
}

#[test]
fn a_refusal_ends_with_the_status_as_received_and_our_participant_leaves() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, ringing(&invite));
    call.handle_input(t0, reply(&invite, 603, None, false));
    let (ending, phone, leave_room) = ended(&mut call);
    let outcome = ending.outcome();
    assert_eq!(outcome.reason, DisconnectReason::UserRejected);
    assert_eq!(
        (outcome.status.code, outcome.status.reason.as_str()),
        (603, "Decline")
    );
    assert_eq!((phone, leave_room), (PhoneEnd::Nothing, true));
    assert!(
        call.is_done(),
        "a final response ends the INVITE transaction"
    );
}

#[test]
fn a_2xx_that_cannot_form_a_dialog_is_502_unusable() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, reply(&invite, 200, Some(PCMU_ANSWER), false));
    let (ending, phone, _) = ended(&mut call);
    assert_eq!(ending, OutboundEnd::UnusableAnswer.into());
    assert_eq!(phone, PhoneEnd::Nothing, "no dialog to send BYE in");
}

#[test]
fn an_answer_the_media_cannot_take_is_acked_hung_up_and_488() {
    let t0 = Instant::now();
    // No codec in common; no SDP in the 2xx and no early media before it.
    let answers: [fn(&Request) -> Input; 2] = [
        |invite| reply(invite, 200, Some(PCMA_ONLY), true),
        |invite| reply(invite, 200, None, true),
    ];
    for answer in answers {
        let (mut call, invite, _) = placed(t0, &WAITING);
        call.handle_input(t0, answer(&invite));
        let steps = action_names(&mut call);
        assert_eq!(steps[0], "send ACK");
        assert_eq!(
            steps.last().unwrap(),
            "end 488 No common codec Bye",
            "{steps:?}"
        );
    }
    // The pipeline refusing the negotiated codec is the same row.
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, reply(&invite, 200, Some(PCMU_ANSWER), true));
    call.handle_input(t0, Input::MediaFailed("no encoder".into()));
    let (ending, phone, _) = ended(&mut call);
    assert_eq!(ending, OutboundEnd::NoCommonCodec.into());
    assert_eq!(phone, PhoneEnd::Bye);
}

#[test]
fn the_api_caller_leaving_or_the_room_closing_cancels_a_ringing_call_487() {
    let t0 = Instant::now();
    for (input, leaves) in [
        (Input::ApiGone, true),
        (Input::RoomEnded(DisconnectReason::RoomDeleted), false),
    ] {
        let (mut call, invite, _) = placed(t0, &WAITING);
        call.handle_input(t0, ringing(&invite));
        action_names(&mut call);
        call.handle_input(t0, input);
        assert_eq!(action_names(&mut call), ["ringback off", "send CANCEL"]);
        call.handle_input(t0, reply(&invite, 487, None, false));
        let (ending, _, leave_room) = ended(&mut call);
        let outcome = ending.outcome();
        assert_eq!(outcome.reason, DisconnectReason::ClientInitiated);
        assert_eq!(outcome.status.code, 487);
        assert_eq!(leave_room, leaves, "a room that closed has no one to leave");
    }
}

#[test]
fn shutdown_while_the_phone_rings_cancels_and_ends_503_shutting_down() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, ringing(&invite));
    action_names(&mut call);
    call.handle_input(t0, Input::Shutdown);
    assert_eq!(action_names(&mut call), ["ringback off", "send CANCEL"]);
    call.handle_input(t0, reply(&invite, 487, None, false));
    assert_eq!(ended(&mut call).0, EstablishedEnd::Shutdown.into());
}

#[test]
fn shutdown_before_any_response_ends_at_once_and_a_late_180_still_gets_its_cancel() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, Input::Shutdown);
    assert_eq!(ended(&mut call).0, EstablishedEnd::Shutdown.into());
    call.handle_input(t0, ringing(&invite));
    assert_eq!(action_names(&mut call), ["send CANCEL"]);
    call.handle_input(t0, reply(&invite, 487, None, false));
    assert!(call.is_done());
}

#[test]
fn the_ringing_timeout_cancels_and_a_missing_487_ends_the_call_after_the_grace() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, ringing(&invite));
    action_names(&mut call);
    assert_eq!(call.poll_timeout(), Some(t0 + RINGING));
    call.handle_timeout(t0 + RINGING);
    assert_eq!(action_names(&mut call), ["ringback off", "send CANCEL"]);
    call.handle_timeout(t0 + RINGING);
    let give_up = call.poll_timeout().unwrap();
    assert_eq!(give_up, t0 + RINGING + GRACE);
    call.handle_timeout(give_up);
    assert_eq!(action_names(&mut call), ["end 408 Ringing timeout Nothing"]);
    // The transaction goes on: a 2xx that still comes is ACKed and hung up (RFC 3261 §15).
    assert!(!call.is_done());
    call.handle_input(give_up, reply(&invite, 200, Some(PCMU_ANSWER), true));
    assert_eq!(action_names(&mut call), ["send ACK", "send BYE"]);
    assert!(call.is_done());
}

#[test]
fn no_response_at_all_ends_at_the_ringing_timeout_and_a_late_180_gets_its_cancel() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_timeout(t0 + RINGING);
    let (ending, phone, _) = ended(&mut call);
    let outcome = ending.outcome();
    assert_eq!(outcome.reason, DisconnectReason::ConnectionTimeout);
    assert_eq!(
        (outcome.status.code, outcome.status.reason.as_str()),
        (408, "No response")
    );
    assert_eq!(
        phone,
        PhoneEnd::Nothing,
        "no CANCEL before a provisional response"
    );
    call.handle_input(t0 + RINGING, ringing(&invite));
    assert_eq!(action_names(&mut call), ["send CANCEL"]);
    // The transaction's lifetime over, nothing is left to do.
    assert_eq!(call.poll_timeout(), Some(t0 + RINGING + LIFETIME));
    call.handle_timeout(t0 + RINGING + LIFETIME);
    assert!(call.is_done());
}

#[test]
fn a_2xx_crossing_our_cancel_is_acked_and_hung_up() {
    let t0 = Instant::now();
    let (mut call, invite, _) = placed(t0, &WAITING);
    call.handle_input(t0, ringing(&invite));
    call.handle_input(t0, Input::ApiGone);
    action_names(&mut call);
    call.handle_input(t0, reply(&invite, 200, Some(PCMU_ANSWER), true));
    assert_eq!(
        action_names(&mut call),
        ["send ACK", "end 487 Request Terminated Bye"]
    );
    assert!(
        call.dialog_mut().is_some(),
        "the BYE goes in the 2xx's dialog"
    );
}

#[test]
fn an_invite_undelivered_or_unanswered_ends_503_or_408() {
    let t0 = Instant::now();
    let cases = [
        (
            Failure::Transport("connection refused".into()),
            "end 503 Transport failure: connection refused Nothing",
        ),
        (Failure::NoResponse, "end 408 No response Nothing"),
    ];
    for (failure, expected) in cases {
        let (mut call, _, _) = placed(t0, &WAITING);
        let method = Method::Invite;
        call.handle_input(
            t0,
            Input::RequestFailed {
                method,
                cseq: 1,
                failure,
            },
        );
        assert_eq!(action_names(&mut call), [expected]);
        assert!(call.is_done());
    }
}

#[test]
fn shutdown_or_the_room_ending_between_the_2xx_and_active_hangs_up() {
    let t0 = Instant::now();
    let cases = [
        (Input::Shutdown, EstablishedEnd::Shutdown),
        (
            Input::RoomEnded(DisconnectReason::ParticipantRemoved),
            EstablishedEnd::RoomEnded(DisconnectReason::ParticipantRemoved),
        ),
    ];
    for (input, expected) in cases {
        let (mut call, invite, _) = placed(t0, &WAITING);
        call.handle_input(t0, reply(&invite, 200, Some(PCMU_ANSWER), true));
        call.handle_input(t0, input);
        let (ending, phone, _) = ended(&mut call);
        assert_eq!((ending, phone), (expected.into(), PhoneEnd::Bye));
    }
}
