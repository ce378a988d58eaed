//! An inbound call's set-up on a virtual clock against a scripted phone and room: every
//! set-up row of docs/OUTCOMES.md ("Inbound INVITE refused", "Inbound call with a PIN", the
//! delayed offer's rows), in milliseconds.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipbridge_signaling::message::{NameAddr, Request, SipUri, Uri};
use sipbridge_signaling::outcome::{
    DisconnectReason, Ending, EstablishedEnd, InboundRejection, PinEnd, SetupFailure,
};
use sipbridge_signaling::sdp::{Codec, CodecPreferences, LocalSession};
use sipbridge_signaling::transaction::ServerTxId;

use super::{Params, Setup};
use crate::call::machine::{Action, CallMachine, Input, PhoneEnd, action_names};
use crate::call::scripted_phone;
use crate::inbound::pin::PinCheck;

pub(super) const OFFER: &str = "v=0\no=phone 1 1 IN IP4 198.51.100.7\ns=-\nc=IN IP4 198.51.100.7\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";
const SRTP_ONLY: &str = "v=0\no=phone 1 1 IN IP4 198.51.100.7\ns=-\nc=IN IP4 198.51.100.7\nt=0 0\nm=audio 4000 RTP/SAVP 0\na=rtpmap:0 PCMU/8000\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\n";
const INVITE_TX: ServerTxId = ServerTxId::from_raw(1);

/// The phone's INVITE with `body` (an offer, or nothing: a delayed offer).
pub(super) fn invite(body: &str, contact: bool) -> Request {
    let contact = if contact {
        "Contact: <sip:phone@198.51.100.7:5060>\n"
    } else {
        ""
    };
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\n"
    };
    scripted_phone::invite(&format!("{contact}{content_type}"), body)
}

/// An in-dialog request of the phone (after our tag is known).
pub(super) fn in_dialog(method: &str, cseq: u32, extra: &str, body: &str) -> Request {
    scripted_phone::in_dialog(method, cseq, "ourtag", extra, body)
}

/// Past the media, ringing while the caller joins; then `input`.
fn joining(call: &mut Setup, t0: Instant, input: Input) {
    call.handle_input(t0, Input::MediaStarted);
    call.handle_input(t0, input);
}

fn setup(invite: Request, pin: Option<PinCheck>, t0: Instant) -> Setup {
    setup_with(invite, pin, t0, |_| {})
}

/// A set-up whose parameters `adjust` changes first.
pub(super) fn setup_with(
    invite: Request,
    pin: Option<PinCheck>,
    t0: Instant,
    adjust: impl FnOnce(&mut Params),
) -> Setup {
    let contact = NameAddr::new(Uri::Sip(
        SipUri::parse("sip:bridge@192.0.2.10:5060").unwrap(),
    ));
    let params = Params {
        invite,
        id: INVITE_TX,
        local_tag: "ourtag".into(),
        contact,
        server: "sipbridge".into(),
        warning_host: "192.0.2.10".into(),
        pin,
        pin_timeout: Duration::from_secs(30),
        listener_timeout: None,
        early_media: false,
    };
    let mut params = params;
    adjust(&mut params);
    let rtp: SocketAddr = "192.0.2.10:20000".parse().unwrap();
    let session = LocalSession::new(1, rtp, CodecPreferences::new(&[Codec::Pcmu], true).unwrap());
    Setup::new(params, session, t0)
}

pub(super) fn steps(setup: &mut Setup) -> Vec<String> {
    action_names(setup)
}

/// The end the set-up came to.
pub(super) fn ended(setup: &mut Setup) -> (Ending, PhoneEnd) {
    std::iter::from_fn(|| setup.poll_action())
        .find_map(|action| match action {
            Action::End { ending, phone, .. } => Some((ending, phone)),
            _ => None,
        })
        .expect("an end")
}

#[test]
fn a_call_rings_while_the_caller_joins_then_is_answered_with_our_sdp() {
    let t0 = Instant::now();
    let mut call = setup(invite(OFFER, true), None, t0);
    assert_eq!(steps(&mut call), ["media"]);
    call.handle_input(t0, Input::MediaStarted);
    assert_eq!(steps(&mut call), ["180", "join"]);
    call.handle_input(t0, Input::RoomJoined);
    let actions: Vec<Action> = std::iter::from_fn(|| call.poll_action()).collect();
    let Some(Action::Respond { response, .. }) = actions.first() else {
        panic!("{actions:?}");
    };
    assert_eq!(response.code, 200);
    assert!(String::from_utf8_lossy(&response.body).contains("RTP/AVP 0"));
    assert!(matches!(actions[1], Action::Ready));
    assert!(
        matches!(&actions[2], Action::SetAttributes(status) if status["sip.callStatus"] == "active")
    );
    assert!(call.into_handover().is_some());
}

#[test]
fn set_up_failures_get_the_final_response_of_their_row() {
    let t0 = Instant::now();
    type Script = fn(&mut Setup, Instant);
    let nothing: Script = |_, _| {};
    let media_failed: Script = |call, t0| call.handle_input(t0, Input::MediaFailed("opus".into()));
    let cancelled: Script = |call, t0| joining(call, t0, Input::Cancelled);
    let shutdown: Script = |call, t0| joining(call, t0, Input::Shutdown);
    let join_failed: Script = |call, t0| joining(call, t0, Input::RoomJoinFailed("refused".into()));
    let cases: [(Request, Script, Ending); 6] = [
        (
            invite(SRTP_ONLY, true),
            nothing,
            InboundRejection::BadOffer {
                code: 488,
                reason: "Not Acceptable Here - SRTP not supported",
            }
            .into(),
        ),
        (
            invite(OFFER, true),
            media_failed,
            SetupFailure::RoomJoinFailed.into(),
        ),
        (
            invite(OFFER, true),
            cancelled,
            InboundRejection::CallerCancelled.into(),
        ),
        (
            invite(OFFER, true),
            shutdown,
            EstablishedEnd::Shutdown.into(),
        ),
        (
            invite(OFFER, true),
            join_failed,
            SetupFailure::RoomJoinFailed.into(),
        ),
        (
            invite("", false),
            nothing,
            InboundRejection::NoDialog.into(),
        ),
    ];
    for (invite, script, expected) in cases {
        let mut call = setup(invite, None, t0);
        script(&mut call, t0);
        let (ending, phone) = ended(&mut call);
        assert_eq!(ending, expected);
        let PhoneEnd::Decline(headers) = phone else {
            panic!("{expected:?}: {phone:?}");
        };
        if matches!(expected, Ending::Refused(InboundRejection::BadOffer { .. })) {
            // RFC 3261 §20.43: the Warning names the fault for the carrier's logs.
            assert_eq!(
                headers,
                [(
                    "Warning",
                    "302 192.0.2.10 \"Not Acceptable Here - SRTP not supported\"".to_owned()
                )]
            );
        }
    }
}

#[test]
fn a_delayed_offer_gets_ours_in_the_200_and_the_answer_from_the_ack() {
    let t0 = Instant::now();
    let mut call = setup(invite("", true), None, t0);
    assert_eq!(steps(&mut call), ["180", "join"]);
    call.handle_input(t0, Input::RoomJoined);
    assert_eq!(steps(&mut call), ["200"]);
    // A request before the ACK waits for the answered call; a late CANCEL changes nothing.
    let options = in_dialog("OPTIONS", 2, "", "");
    call.handle_input(
        t0,
        Input::Request {
            id: ServerTxId::from_raw(2),
            request: options,
        },
    );
    call.handle_input(t0, Input::Cancelled);
    assert_eq!(steps(&mut call), ["defer OPTIONS"]);
    let ack = in_dialog("ACK", 1, "Content-Type: application/sdp\n", OFFER);
    call.handle_input(t0, Input::Ack(ack));
    assert_eq!(steps(&mut call), ["media"]);
    call.handle_input(t0, Input::MediaStarted);
    assert_eq!(steps(&mut call), ["ready", "status active"]);
}

#[test]
fn a_delayed_offer_without_an_answer_or_an_ack_is_hung_up() {
    let t0 = Instant::now();
    let answered = |input: Input| {
        let mut call = setup(invite("", true), None, t0);
        call.handle_input(t0, Input::RoomJoined);
        call.handle_input(t0, input);
        ended(&mut call)
    };
    let bare_ack = in_dialog("ACK", 1, "", "");
    assert_eq!(
        answered(Input::Ack(bare_ack)),
        (EstablishedEnd::NoUsableAnswer.into(), PhoneEnd::Bye)
    );
    assert_eq!(
        answered(Input::NoAck),
        (EstablishedEnd::NoAck.into(), PhoneEnd::Bye)
    );
    assert_eq!(
        answered(Input::Shutdown),
        (EstablishedEnd::Shutdown.into(), PhoneEnd::Bye)
    );
    // The room ending the caller's participant before the hand-over: the established row,
    // and our participant does not leave again.
    let mut call = setup(invite("", true), None, t0);
    call.handle_input(t0, Input::RoomJoined);
    call.handle_input(t0, Input::RoomEnded(DisconnectReason::RoomDeleted));
    let end = std::iter::from_fn(|| call.poll_action()).last();
    let Some(Action::End {
        ending,
        phone,
        leave_room,
        ..
    }) = end
    else {
        panic!("{end:?}");
    };
    assert_eq!(
        ending,
        EstablishedEnd::RoomEnded(DisconnectReason::RoomDeleted).into()
    );
    assert_eq!((phone, leave_room), (PhoneEnd::Bye, false));
}

/// A PIN call up to its dial tone.
fn pin_call(t0: Instant) -> Setup {
    pin_call_checked_by(PinCheck::Local("4321".into()), t0)
}

fn pin_call_checked_by(check: PinCheck, t0: Instant) -> Setup {
    let mut call = setup(invite(OFFER, true), Some(check), t0);
    assert_eq!(steps(&mut call), ["media"]);
    call.handle_input(t0, Input::MediaStarted);
    assert_eq!(steps(&mut call), ["200", "Dial"]);
    assert!(call.pumps_media());
    call
}

fn keys(call: &mut Setup, t0: Instant, keys: &str) {
    for key in keys.chars() {
        call.handle_input(t0, Input::Key { code: 0, key });
    }
}

#[test]
fn the_right_pin_lets_the_caller_into_the_room() {
    let t0 = Instant::now();
    let mut call = pin_call(t0);
    keys(&mut call, t0, "4321");
    assert_eq!(
        steps(&mut call),
        ["quiet", "quiet", "quiet", "quiet", "join"]
    );
    call.handle_input(t0, Input::RoomJoined);
    assert_eq!(steps(&mut call), ["ready", "status active"]);
}

/// Cluster mode: livekit-server checks the keys; a wrong verdict is a wrong PIN, no
/// verdict at all ends the call.
#[test]
fn a_pin_livekit_server_checks_goes_there_on_hash() {
    let t0 = Instant::now();
    let mut call = pin_call_checked_by(PinCheck::Remote, t0);
    keys(&mut call, t0, "99#");
    assert_eq!(steps(&mut call), ["quiet", "quiet", "check pin 99"]);
    call.handle_input(t0, Input::PinChecked(Ok(false)));
    assert_eq!(steps(&mut call), ["Busy"]);
    keys(&mut call, t0, "4321#");
    assert_eq!(steps(&mut call).last().unwrap(), "check pin 4321");
    call.handle_input(t0, Input::PinChecked(Ok(true)));
    assert_eq!(steps(&mut call), ["quiet", "join"]);
    call.handle_input(t0, Input::RoomJoined);
    assert_eq!(steps(&mut call), ["ready", "status active"]);

    let mut cut_off = pin_call_checked_by(PinCheck::Remote, t0);
    keys(&mut cut_off, t0, "1#");
    cut_off.handle_input(t0, Input::PinChecked(Err("redis down".into())));
    assert_eq!(
        ended(&mut cut_off),
        (SetupFailure::RoutingUnavailable.into(), PhoneEnd::Bye)
    );
}

#[test]
fn pin_rows_end_the_answered_call_with_bye() {
    let t0 = Instant::now();
    let mut wrong = pin_call(t0);
    keys(&mut wrong, t0, "1111#2222#3333#");
    assert_eq!(ended(&mut wrong), (PinEnd::Wrong.into(), PhoneEnd::Bye));
    let mut slow = pin_call(t0);
    assert_eq!(slow.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    slow.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(ended(&mut slow), (PinEnd::Timeout.into(), PhoneEnd::Bye));
    let mut silent = pin_call(t0);
    silent.handle_input(t0, Input::MediaTimeout);
    assert_eq!(
        ended(&mut silent),
        (EstablishedEnd::MediaTimeout.into(), PhoneEnd::Bye)
    );
    let mut lonely = pin_call(t0);
    keys(&mut lonely, t0, "4321");
    lonely.handle_input(t0, Input::RoomJoinFailed("refused".into()));
    assert_eq!(
        ended(&mut lonely),
        (SetupFailure::RoomJoinFailed.into(), PhoneEnd::Bye)
    );
}

#[test]
fn the_phone_hanging_up_during_pin_entry_gets_its_200_and_no_bye() {
    let t0 = Instant::now();
    let mut call = pin_call(t0);
    let bye = in_dialog("BYE", 2, "", "");
    call.handle_input(
        t0,
        Input::Request {
            id: ServerTxId::from_raw(2),
            request: bye,
        },
    );
    assert_eq!(steps(&mut call), ["200", "end 200 Remote hangup Nothing"]);
    // A re-INVITE during PIN entry waits (RFC 3261 §14.2).
    let mut busy = pin_call(t0);
    let reinvite = in_dialog("INVITE", 2, "", "");
    busy.handle_input(
        t0,
        Input::Request {
            id: ServerTxId::from_raw(2),
            request: reinvite,
        },
    );
    assert_eq!(steps(&mut busy), ["500"]);
}

#[test]
fn pin_keys_may_come_as_sip_info() {
    let t0 = Instant::now();
    let mut call = pin_call(t0);
    let relay = "Content-Type: application/dtmf-relay\n";
    for (cseq, key) in (2..).zip("4321".chars()) {
        let info = in_dialog("INFO", cseq, relay, &format!("Signal={key}\n"));
        let id = ServerTxId::from_raw(u64::from(cseq));
        call.handle_input(t0, Input::Request { id, request: info });
    }
    let steps = steps(&mut call);
    assert_eq!(steps.iter().filter(|s| *s == "200").count(), 4, "{steps:?}");
    assert_eq!(steps.last().map(String::as_str), Some("join"), "{steps:?}");
}
