//! The answered call on a virtual clock against a scripted phone: every row of the
//! "established call" and "transfers" tables of docs/OUTCOMES.md, in milliseconds.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sipbridge_signaling::dialog::{Dialog, LocalParty, Tag, TimerConfig};
use sipbridge_signaling::message::{Method, NameAddr, Request, Response, SipUri, Uri};
use sipbridge_signaling::outcome::{
    DisconnectReason, Ending, EstablishedEnd, SipStatus, TransferReason,
};
use sipbridge_signaling::sdp::{CodecPreferences, LocalSession};
use sipbridge_signaling::transaction::{ServerTxId, Transport};

use super::{Answered, Setup};
use crate::call::machine::{Action, CallMachine, Failure, Input, PhoneEnd};
use crate::call::order::{TransferEnd, TransferPlan};
use crate::call::scripted_phone;
use crate::sip::local::LocalAddresses;

const OUR_TAG: &str = "b7e1c0de";
/// Lines end in `\n` here; messages get `\r\n` on the way to the parser.
const PHONE_OFFER: &str = "v=0\no=phone 1 1 IN IP4 198.51.100.7\ns=-\nc=IN IP4 198.51.100.7\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

/// The phone's side of the call: its INVITE, and the next CSeq of its in-dialog requests.
pub(super) struct Phone {
    cseq: u32,
    tx: u64,
}

impl Phone {
    /// A request of the phone in the dialog; `extra` header lines, then `body`.
    pub(super) fn in_dialog(
        &mut self,
        method: &str,
        extra: &str,
        body: &str,
    ) -> (ServerTxId, Request) {
        self.cseq += 1;
        self.tx += 1;
        let request = scripted_phone::in_dialog(method, self.cseq, OUR_TAG, extra, body);
        (ServerTxId::from_raw(self.tx), request)
    }
}

fn invite(extra: &str) -> Request {
    scripted_phone::invite(
        &format!("Contact: <sip:phone@198.51.100.7:5060>\n{extra}"),
        "",
    )
}

/// An answered inbound call at `t0`, with `extra` INVITE headers (session timers).
pub(super) fn answered(
    t0: Instant,
    extra: &str,
    max_duration: Option<Duration>,
) -> (Answered, Phone) {
    let invite = invite(extra);
    let mut ok = Response::to(&invite, 200, None);
    let local = LocalParty {
        tag: Tag(OUR_TAG.into()),
        contact: NameAddr::new(Uri::Sip(
            SipUri::parse("sip:bridge@192.0.2.10:5060").unwrap(),
        )),
    };
    let timers = TimerConfig {
        we_refresh: false,
        ..TimerConfig::default()
    };
    let mut dialog = Dialog::new_uas(&invite, &mut ok, local, timers, t0).unwrap();
    dialog.respond(&invite, &mut ok, t0).unwrap();
    let rtp: SocketAddr = "192.0.2.10:20000".parse().unwrap();
    let codecs = [sipbridge_signaling::sdp::Codec::Pcmu];
    let mut session = LocalSession::new(1, rtp, CodecPreferences::new(&codecs, true).unwrap());
    session
        .answer(
            &sipbridge_signaling::sdp::parse(PHONE_OFFER.replace('\n', "\r\n").as_bytes()).unwrap(),
        )
        .unwrap();
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let setup = Setup {
        dialog,
        session,
        local: LocalAddresses {
            sip_ip: ip,
            hostname: None,
            udp_port: Some(5060),
            tcp_port: None,
            rtp_ip: ip,
        },
        transport: Transport::Udp,
        max_duration,
        ack: None,
    };
    (Answered::new(setup, t0), Phone { cseq: 1, tx: 0 })
}

fn actions(call: &mut Answered) -> Vec<Action> {
    std::iter::from_fn(|| call.poll_action()).collect()
}

/// The call's end, if it ended: what, and whether we hang up and leave the room.
fn ended(actions: &[Action]) -> Option<(EstablishedEnd, bool, bool)> {
    actions.iter().find_map(|action| match action {
        Action::End {
            ending: Ending::Established(end),
            phone,
            leave_room,
            ..
        } => Some((end.clone(), *phone == PhoneEnd::Bye, *leave_room)),
        _ => None,
    })
}

fn responses(actions: &[Action]) -> Vec<(u16, String)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Respond { response, .. } => Some((response.code, response.reason.clone())),
            _ => None,
        })
        .collect()
}

/// The row an ending lands on, as (reason, code, phrase).
fn row(end: &EstablishedEnd) -> (DisconnectReason, u16, String) {
    let outcome = end.outcome();
    (outcome.reason, outcome.status.code, outcome.status.reason)
}

#[test]
fn the_phones_bye_is_answered_and_ends_the_call_without_our_bye() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let (id, bye) = phone.in_dialog("BYE", "", "");
    call.handle_input(t0, Input::Request { id, request: bye });
    let out = actions(&mut call);
    assert_eq!(responses(&out), [(200, "OK".to_owned())]);
    let (end, hang_up, leave_room) = ended(&out).unwrap();
    assert_eq!(
        row(&end),
        (
            DisconnectReason::ClientInitiated,
            200,
            "Remote hangup".into()
        )
    );
    assert!(!hang_up && leave_room);
    // A request after the end: the dialog is gone.
    let (id, options) = phone.in_dialog("OPTIONS", "", "");
    call.handle_input(
        t0,
        Input::Request {
            id,
            request: options,
        },
    );
    assert_eq!(
        responses(&actions(&mut call)),
        [(481, "Call/Transaction Does Not Exist".to_owned())]
    );
}

#[test]
fn the_room_ending_the_call_passes_the_servers_reason_and_we_hang_up() {
    for reason in [
        DisconnectReason::ParticipantRemoved,
        DisconnectReason::RoomDeleted,
        DisconnectReason::SignalClose,
    ] {
        let t0 = Instant::now();
        let (mut call, _) = answered(t0, "", None);
        call.handle_input(t0, Input::RoomEnded(reason));
        let (end, hang_up, leave_room) = ended(&actions(&mut call)).unwrap();
        assert_eq!(row(&end), (reason, 200, "Local hangup".into()));
        assert!(hang_up && !leave_room);
    }
}

/// `lk.sip.EndCall`: our BYE, carrying the headers the room member gave.
#[test]
fn end_call_from_the_room_hangs_up_with_its_headers_on_the_bye() {
    let t0 = Instant::now();
    let (mut call, _) = answered(t0, "", None);
    let headers = vec![("X-Reason".to_owned(), "done".to_owned())];
    call.handle_input(t0, Input::EndCall(headers.clone()));
    let actions = actions(&mut call);
    let (end, _, leave_room) = ended(&actions).unwrap();
    assert_eq!(
        row(&end),
        (
            DisconnectReason::ClientInitiated,
            200,
            "Ended by lk.sip.EndCall".into()
        )
    );
    assert!(leave_room);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::End { phone: PhoneEnd::ByeWith(h), .. } if *h == headers)),
        "{actions:?}"
    );
}

#[test]
fn media_timeout_shutdown_and_no_ack_end_the_call_from_our_side() {
    let cases = [
        (
            Input::MediaTimeout,
            DisconnectReason::MediaFailure,
            408,
            "Media timeout",
        ),
        (
            Input::Shutdown,
            DisconnectReason::ServerShutdown,
            503,
            "Shutting down",
        ),
        (
            Input::NoAck,
            DisconnectReason::ConnectionTimeout,
            408,
            "No ACK",
        ),
    ];
    for (input, reason, code, phrase) in cases {
        let t0 = Instant::now();
        let (mut call, _) = answered(t0, "", None);
        call.handle_input(t0, input);
        let (end, hang_up, leave_room) = ended(&actions(&mut call)).unwrap();
        assert_eq!(row(&end), (reason, code, phrase.into()));
        assert!(hang_up && leave_room);
        assert!(call.is_done());
    }
}

#[test]
fn max_call_duration_ends_the_call_at_its_deadline() {
    let t0 = Instant::now();
    let max = Duration::from_secs(60);
    let (mut call, _) = answered(t0, "", Some(max));
    assert_eq!(call.poll_timeout(), Some(t0 + max));
    call.handle_timeout(t0 + max - Duration::from_millis(1));
    assert!(ended(&actions(&mut call)).is_none());
    call.handle_timeout(t0 + max);
    let (end, ..) = ended(&actions(&mut call)).unwrap();
    assert_eq!(
        row(&end),
        (
            DisconnectReason::ClientInitiated,
            200,
            "Max duration".into()
        )
    );
}

#[test]
fn a_session_timer_without_refresh_expires_the_call() {
    let t0 = Instant::now();
    let timer = "Supported: timer\nSession-Expires: 90;refresher=uac\n";
    let (mut call, _) = answered(t0, timer, None);
    let due = call.poll_timeout().expect("the session timer runs");
    assert!(due <= t0 + Duration::from_secs(90), "{:?}", due - t0);
    call.handle_timeout(t0 + Duration::from_secs(90));
    let (end, hang_up, _) = ended(&actions(&mut call)).unwrap();
    assert_eq!(
        row(&end),
        (
            DisconnectReason::ConnectionTimeout,
            408,
            "Session expired".into()
        )
    );
    assert!(hang_up);
}

#[test]
fn a_reinvite_is_answered_once_the_media_took_it_and_a_second_meanwhile_waits() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let sdp = "Content-Type: application/sdp\n";
    let (id, reinvite) = phone.in_dialog("INVITE", sdp, PHONE_OFFER);
    call.handle_input(
        t0,
        Input::Request {
            id,
            request: reinvite,
        },
    );
    let out = actions(&mut call);
    let Some(Action::Renegotiate {
        reply: Some((reply_id, request, answer)),
        ..
    }) = out.into_iter().next()
    else {
        panic!("the offer goes to the media first");
    };
    // Glare (RFC 3261 §14.2): a second re-INVITE while the first is unanswered.
    let (second_id, second) = phone.in_dialog("INVITE", sdp, PHONE_OFFER);
    call.handle_input(
        t0,
        Input::Request {
            id: second_id,
            request: second,
        },
    );
    let refused = responses(&actions(&mut call));
    assert_eq!(refused.len(), 1);
    assert!(matches!(refused[0].0, 491 | 500), "{refused:?}");
    call.handle_input(
        t0,
        Input::Renegotiated {
            id: reply_id,
            request,
            answer,
            applied: true,
        },
    );
    let out = actions(&mut call);
    let Some(Action::Respond { response, .. }) = out.first() else {
        panic!("{out:?}");
    };
    assert_eq!(response.code, 200);
    assert!(String::from_utf8_lossy(&response.body).contains("m=audio"));
    assert!(!call.is_done());
}

#[test]
fn a_reinvite_the_media_cannot_take_is_refused_and_the_call_goes_on() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let (id, reinvite) = phone.in_dialog("INVITE", "Content-Type: application/sdp\n", PHONE_OFFER);
    call.handle_input(
        t0,
        Input::Request {
            id,
            request: reinvite,
        },
    );
    let Some(Action::Renegotiate {
        reply: Some((id, request, answer)),
        ..
    }) = call.poll_action()
    else {
        panic!("the offer goes to the media first");
    };
    call.handle_input(
        t0,
        Input::Renegotiated {
            id,
            request,
            answer,
            applied: false,
        },
    );
    assert_eq!(responses(&actions(&mut call))[0].0, 488);
    assert!(!call.is_done());
}

#[test]
fn info_keys_reach_the_room_and_unknown_signals_are_refused() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let relay = "Content-Type: application/dtmf-relay\n";
    let (id, info) = phone.in_dialog("INFO", relay, "Signal=5\r\nDuration=160\r\n");
    call.handle_input(t0, Input::Request { id, request: info });
    let out = actions(&mut call);
    assert!(
        matches!(&out[0], Action::KeyToRoom { code: 5, digit } if digit == "5"),
        "{out:?}"
    );
    assert_eq!(responses(&out)[0].0, 200);
    let (id, info) = phone.in_dialog("INFO", relay, "Signal=X\r\n");
    call.handle_input(t0, Input::Request { id, request: info });
    let out = actions(&mut call);
    assert!(!out.iter().any(|a| matches!(a, Action::KeyToRoom { .. })));
    assert_eq!(responses(&out)[0].0, 400);
}

// Transfers.

pub(super) fn plan(id: &str, timeout: Duration) -> Box<TransferPlan> {
    Box::new(TransferPlan {
        transfer_id: id.into(),
        room: "room".into(),
        identity: "sip_1".into(),
        transfer_to: "tel:+15550001111".into(),
        refer_to: "<sip:+15550001111@carrier.example>".into(),
        headers: Vec::new(),
        play_dialtone: false,
        ringing_timeout: timeout,
    })
}

/// Starts a transfer; returns the REFER we sent.
fn refer(call: &mut Answered, t0: Instant, id: &str) -> Request {
    call.handle_input(t0, Input::Transfer(plan(id, Duration::from_secs(30))));
    let out = actions(call);
    out.into_iter()
        .find_map(|action| match action {
            Action::Send(refer) => Some(refer.request),
            _ => None,
        })
        .expect("a REFER")
}

pub(super) fn notify(
    phone: &mut Phone,
    refer: &Request,
    state: &str,
    sipfrag: &str,
) -> (ServerTxId, Request) {
    let event = format!(
        "Event: refer;id={}\nSubscription-State: {state}\nContent-Type: message/sipfrag;version=2.0\n",
        refer.head.cseq.seq
    );
    phone.in_dialog("NOTIFY", &event, sipfrag)
}

fn transfer_ends(actions: &[Action]) -> Vec<(String, TransferEnd, &'static str)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::TransferEnded {
                transfer_id,
                end,
                label,
            } => Some((transfer_id.clone(), end.clone(), *label)),
            _ => None,
        })
        .collect()
}

fn failed(code: u16, phrase: &str) -> impl Fn(&TransferEnd) -> bool + '_ {
    move |end| matches!(end, TransferEnd::Failed(f) if f.status == SipStatus::new(code, phrase))
}

#[test]
fn a_completed_transfer_answers_the_api_then_hangs_up_after_the_grace() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let refer = refer(&mut call, t0, "STF_1");
    assert_eq!(refer.method, Method::Refer);
    assert!(refer.head.other.get("Refer-To").is_some());
    call.handle_input(t0, Input::Response(Response::to(&refer, 202, None)));
    let (id, trying) = notify(
        &mut phone,
        &refer,
        "active;expires=60",
        "SIP/2.0 100 Trying",
    );
    call.handle_input(
        t0,
        Input::Request {
            id,
            request: trying,
        },
    );
    assert!(transfer_ends(&actions(&mut call)).is_empty());
    let (id, done) = notify(
        &mut phone,
        &refer,
        "terminated;reason=noresource",
        "SIP/2.0 200 OK",
    );
    call.handle_input(t0, Input::Request { id, request: done });
    let out = actions(&mut call);
    let [(transfer_id, end, "completed")] = &transfer_ends(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!(transfer_id, "STF_1");
    assert_eq!(
        *end,
        TransferEnd::Succeeded {
            reason: TransferReason::Completed,
            status: Some(SipStatus::new(200, "OK"))
        }
    );
    assert!(
        ended(&out).is_none(),
        "the phone gets a second to hang up itself"
    );
    call.handle_timeout(t0 + super::transfer::LEAVE_GRACE);
    let (end, hang_up, _) = ended(&actions(&mut call)).unwrap();
    assert_eq!(
        row(&end),
        (DisconnectReason::ClientInitiated, 200, "OK".into())
    );
    assert!(hang_up);
}

#[test]
fn a_completed_transfer_is_the_outcome_when_the_phone_hangs_up_first() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    let refer = refer(&mut call, t0, "STF_1");
    let (id, done) = notify(&mut phone, &refer, "terminated", "SIP/2.0 200 OK");
    call.handle_input(t0, Input::Request { id, request: done });
    actions(&mut call);
    let (id, bye) = phone.in_dialog("BYE", "", "");
    call.handle_input(t0, Input::Request { id, request: bye });
    let (end, hang_up, _) = ended(&actions(&mut call)).unwrap();
    assert_eq!(end, EstablishedEnd::Transferred(SipStatus::new(200, "OK")));
    assert!(!hang_up);
}

#[test]
fn failed_transfers_keep_the_call_up() {
    type Script = fn(&mut Answered, &mut Phone, &Request, Instant);
    let refused: Script = |call, _, refer, t0| {
        let response = Response::to(refer, 403, Some("Forbidden"));
        call.handle_input(t0, Input::Response(response));
    };
    let busy: Script = |call, phone, refer, t0| {
        let (id, request) = notify(phone, refer, "terminated", "SIP/2.0 486 Busy Here");
        call.handle_input(t0, Input::Request { id, request });
    };
    let no_final: Script = |call, phone, refer, t0| {
        let (id, request) = notify(phone, refer, "terminated", "");
        call.handle_input(t0, Input::Request { id, request });
    };
    let timeout: Script = |call, _, _, t0| call.handle_timeout(t0 + Duration::from_secs(30));
    let no_response: Script = |call, _, refer, t0| {
        let failed = Input::RequestFailed {
            method: Method::Refer,
            cseq: refer.head.cseq.seq,
            failure: Failure::NoResponse,
        };
        call.handle_input(t0, failed);
    };
    let cases: [(Script, &str, u16, &str); 5] = [
        (refused, "refer_rejected", 403, "Forbidden"),
        (busy, "failed", 486, "Busy Here"),
        (
            no_final,
            "subscription_terminated",
            487,
            "Subscription terminated",
        ),
        (timeout, "timeout", 408, "Transfer timeout"),
        (no_response, "refer_rejected", 408, "No response"),
    ];
    for (script, label, code, phrase) in cases {
        let t0 = Instant::now();
        let (mut call, mut phone) = answered(t0, "", None);
        let refer = refer(&mut call, t0, "STF_1");
        script(&mut call, &mut phone, &refer, t0);
        let out = actions(&mut call);
        let ends = transfer_ends(&out);
        assert_eq!(ends.len(), 1, "{label}: {out:?}");
        assert_eq!(ends[0].2, label);
        assert!(failed(code, phrase)(&ends[0].1), "{label}: {:?}", ends[0].1);
        assert!(!call.is_done(), "{label}");
    }
}

#[test]
fn a_second_transfer_in_flight_is_refused_491() {
    let t0 = Instant::now();
    let (mut call, _) = answered(t0, "", None);
    refer(&mut call, t0, "STF_1");
    call.handle_input(t0, Input::Transfer(plan("STF_2", Duration::from_secs(30))));
    let ends = transfer_ends(&actions(&mut call));
    assert_eq!(ends.len(), 1);
    assert_eq!((ends[0].0.as_str(), ends[0].2), ("STF_2", "in_progress"));
    assert!(failed(491, "Transfer in progress")(&ends[0].1));
}

#[test]
fn the_phone_hanging_up_during_a_transfer_is_call_ended_never_completed() {
    let t0 = Instant::now();
    let (mut call, mut phone) = answered(t0, "", None);
    refer(&mut call, t0, "STF_1");
    let (id, bye) = phone.in_dialog("BYE", "", "");
    call.handle_input(t0, Input::Request { id, request: bye });
    let out = actions(&mut call);
    let ends = transfer_ends(&out);
    assert_eq!(ends[0].2, "call_ended");
    assert_eq!(
        ends[0].1,
        TransferEnd::Succeeded {
            reason: TransferReason::CallEnded,
            status: None
        }
    );
    let (end, ..) = ended(&out).unwrap();
    assert_eq!(end, EstablishedEnd::RemoteBye);
}

#[test]
fn a_call_ending_otherwise_abandons_the_transfer_in_flight() {
    let t0 = Instant::now();
    let (mut call, _) = answered(t0, "", None);
    refer(&mut call, t0, "STF_1");
    call.handle_input(t0, Input::MediaTimeout);
    let out = actions(&mut call);
    let ends = transfer_ends(&out);
    assert_eq!(ends[0].2, "abandoned");
    assert!(failed(487, "Call ended during transfer")(&ends[0].1));
    assert_eq!(ended(&out).unwrap().0, EstablishedEnd::MediaTimeout);
}
