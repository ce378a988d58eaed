//! A rule's `ringing_timeout` without a PIN, on a virtual clock: the phone rings while the
//! caller waits in the room, the 200 comes when someone subscribes to the caller, and the
//! waiting rows of docs/OUTCOMES.md end it otherwise.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sipbridge_signaling::outcome::{DisconnectReason, Ending, InboundRejection};
use sipbridge_signaling::transaction::ServerTxId;

use super::Setup;
use super::tests::{OFFER, ended, in_dialog, invite, setup_with, steps};
use crate::call::machine::{Action, CallMachine, Input, PhoneEnd};

const WAIT: Duration = Duration::from_secs(20);

/// In the room and ringing: past the media, the first response and the join.
fn waiting(body: &str, early_media: bool, t0: Instant) -> (Setup, Vec<String>) {
    let mut call = setup_with(invite(body, true), None, t0, |params| {
        params.listener_timeout = Some(WAIT);
        params.early_media = early_media;
    });
    let mut seen = steps(&mut call);
    call.handle_input(t0, Input::MediaStarted);
    seen.extend(steps(&mut call));
    call.handle_input(t0, Input::RoomJoined);
    seen.extend(steps(&mut call));
    (call, seen)
}

#[test]
fn the_phone_rings_until_someone_in_the_room_subscribes() {
    let t0 = Instant::now();
    let (mut call, seen) = waiting(OFFER, false, t0);
    assert_eq!(seen, ["media", "180", "join"], "no 200 before a listener");
    assert!(
        !call.pumps_media(),
        "no early media without the rule asking"
    );
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    call.handle_input(t0 + Duration::from_secs(3), Input::Subscribed);
    assert_eq!(steps(&mut call), ["200", "ready", "status active"]);
    assert!(call.into_handover().is_some());
}

#[test]
fn with_early_media_the_phone_hears_ringback_in_a_183_until_the_200() {
    let t0 = Instant::now();
    let (mut call, seen) = waiting(OFFER, true, t0);
    assert_eq!(seen, ["media", "183", "Ringback", "join"]);
    assert!(call.pumps_media(), "the ringback tone is media");
    call.handle_input(t0, Input::Subscribed);
    assert_eq!(steps(&mut call), ["quiet", "200", "ready", "status active"]);
}

#[test]
fn the_183_carries_our_answer_and_a_delayed_offer_rings_with_a_180() {
    let t0 = Instant::now();
    let mut call = setup_with(invite(OFFER, true), None, t0, |params| {
        params.listener_timeout = Some(WAIT);
        params.early_media = true;
    });
    call.handle_input(t0, Input::MediaStarted);
    let actions: Vec<Action> = std::iter::from_fn(|| call.poll_action()).collect();
    let Some(Action::Respond { response, .. }) =
        actions.iter().find(|a| matches!(a, Action::Respond { .. }))
    else {
        panic!("{actions:?}");
    };
    assert_eq!(response.code, 183);
    assert!(String::from_utf8_lossy(&response.body).contains("RTP/AVP 0"));
    // Our offer cannot ride in an unreliable 183.
    let (_, seen) = waiting("", true, t0);
    assert_eq!(seen, ["180", "join"]);
}

#[test]
fn no_one_subscribing_in_time_ends_the_call_with_480() {
    let t0 = Instant::now();
    let (mut call, _) = waiting(OFFER, false, t0);
    // The provisional response is repeated each minute (RFC 3261 §13.3.1.1); 20 s is less.
    call.handle_timeout(t0 + Duration::from_secs(19));
    assert!(steps(&mut call).is_empty());
    call.handle_timeout(t0 + WAIT);
    let (ending, phone) = ended(&mut call);
    assert_eq!(ending, InboundRejection::NoOneListened.into());
    assert_eq!(phone, PhoneEnd::Decline(Vec::new()));
    let outcome = ending.outcome();
    assert_eq!(
        (
            outcome.reason,
            outcome.status.code,
            outcome.status.reason.as_str()
        ),
        (
            DisconnectReason::UserUnavailable,
            480,
            "No one answered in the room"
        )
    );
}

#[test]
fn a_long_wait_repeats_the_180_each_minute() {
    let t0 = Instant::now();
    let mut call = setup_with(invite(OFFER, true), None, t0, |params| {
        params.listener_timeout = Some(Duration::from_secs(150));
    });
    call.handle_input(t0, Input::MediaStarted);
    call.handle_input(t0, Input::RoomJoined);
    steps(&mut call);
    for minute in [1, 2] {
        let now = t0 + Duration::from_secs(60 * minute);
        assert_eq!(call.poll_timeout(), Some(now));
        call.handle_timeout(now);
        assert_eq!(steps(&mut call), ["180"]);
    }
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(150)));
}

#[test]
fn the_room_ending_the_waiting_caller_refuses_the_invite() {
    let t0 = Instant::now();
    let (mut call, _) = waiting(OFFER, false, t0);
    call.handle_input(t0, Input::RoomEnded(DisconnectReason::ParticipantRemoved));
    let actions: Vec<Action> = std::iter::from_fn(|| call.poll_action()).collect();
    let [
        Action::End {
            ending,
            phone,
            leave_room,
            ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}");
    };
    let expected = InboundRejection::RoomEndedWhileRinging(DisconnectReason::ParticipantRemoved);
    assert_eq!(*ending, Ending::from(expected));
    assert_eq!(*phone, PhoneEnd::Decline(Vec::new()));
    assert!(!leave_room, "the room ended the participant already");
}

#[test]
fn cancel_or_bye_while_waiting_ends_the_invite_with_487() {
    let t0 = Instant::now();
    let (mut call, _) = waiting(OFFER, false, t0);
    call.handle_input(t0, Input::Cancelled);
    assert_eq!(ended(&mut call).0, InboundRejection::CallerCancelled.into());

    // RFC 3261 §15: the caller may send BYE in the early dialog.
    let (mut call, _) = waiting(OFFER, false, t0);
    let bye = in_dialog("BYE", 2, "", "");
    let id = ServerTxId::from_raw(2);
    call.handle_input(t0, Input::Request { id, request: bye });
    let seen = steps(&mut call);
    assert_eq!(seen[0], "200", "{seen:?}");
    assert!(seen[1].starts_with("end 487"), "{seen:?}");
}

#[test]
fn keys_and_a_quiet_phone_do_not_end_the_wait() {
    let t0 = Instant::now();
    let (mut call, _) = waiting(OFFER, true, t0);
    call.handle_input(t0, Input::MediaTimeout);
    call.handle_input(t0, Input::Key { code: 1, key: '1' });
    assert!(steps(&mut call).is_empty());
    assert!(!call.is_done());
}

/// `lk.sip.EndCall` while the caller waits: the INVITE is declined.
#[test]
fn end_call_from_the_room_while_waiting_declines_the_invite() {
    let t0 = Instant::now();
    let (mut call, _) = waiting(OFFER, false, t0);
    call.handle_input(t0, Input::EndCall(Vec::new()));
    let (ending, phone) = ended(&mut call);
    assert_eq!(ending, InboundRejection::EndCallRpc.into());
    assert_eq!(phone, PhoneEnd::Decline(Vec::new()));
    assert_eq!(ending.outcome().status.code, 603);
}
