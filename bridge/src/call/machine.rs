//! A call's decisions, as the machines that take them and the one driver that runs them
//! speak of them. A call is set up by one machine per direction, `inbound::setup::Setup`
//! (answer the phone, PIN, join the room) or `outbound::placing::Placing` (dial the phone,
//! ringing, early media, the answer), and once answered, in either direction, run by
//! `call::answered::Answered` (in-dialog requests, transfers, the timers). Each takes
//! [`Input`] with `now` and gives [`Action`]; `call::driver` carries the actions out for all
//! three. No machine does I/O, so their tests run on a virtual clock.

use std::collections::HashMap;
use std::time::Instant;

use sipbridge_media::tone::Progress;
use sipbridge_signaling::dialog::{Dialog, OutgoingRequest};
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{DisconnectReason, Ending, SipStatus};
use sipbridge_signaling::sdp::{LocalSession, Negotiated};
use sipbridge_signaling::transaction::ServerTxId;

use crate::call::order::{TransferEnd, TransferPlan};

/// What happened, for the machine to decide on.
#[derive(Debug)]
pub enum Input {
    /// An in-dialog request from the phone.
    Request {
        id: ServerTxId,
        request: Request,
    },
    /// The caller cancelled our INVITE's answer (the layer answered the CANCEL).
    Cancelled,
    /// The ACK of our 2xx (with the answer to our offer, when our 2xx carried one).
    Ack(Request),
    /// Our 2xx was never acknowledged (Timer H or L).
    NoAck,
    /// A response to a request we sent (our INVITE, its CANCEL, the REFER), or a
    /// retransmitted 2xx to our INVITE.
    Response(Response),
    /// A request we sent got no response, or could not be delivered; `method` and `cseq`
    /// say which.
    RequestFailed {
        method: Method,
        cseq: u32,
        failure: Failure,
    },
    /// Our participant is in the room ([`Action::JoinRoom`]), or could not join.
    RoomJoined,
    RoomJoinFailed(String),
    /// The room ended our participant (the room closed, the participant was removed).
    RoomEnded(DisconnectReason),
    /// Someone in the room subscribed to our participant's audio (the first time).
    Subscribed,
    /// A room member asked to end the call (`lk.sip.EndCall`), with headers for the BYE.
    EndCall(Vec<(String, String)>),
    /// The media asked for ([`Action::StartMedia`]) runs, or could not be made.
    MediaStarted,
    MediaFailed(String),
    /// A key pressed on the phone (RFC 4733 event `code`).
    Key {
        code: u8,
        key: char,
    },
    /// No RTP from the phone for `media_timeout`.
    MediaTimeout,
    /// The media applied ([`Action::Renegotiate`]) a re-INVITE's or UPDATE's negotiation,
    /// or could not (`applied: false`).
    Renegotiated {
        id: ServerTxId,
        request: Box<Request>,
        answer: String,
        applied: bool,
    },
    /// The verdict on [`Action::CheckPin`]: right or wrong, or why nobody could say.
    PinChecked(Result<bool, String>),
    /// The API asks for a transfer of the answered call.
    Transfer(Box<TransferPlan>),
    /// The API caller waiting for the answer went away.
    ApiGone,
    /// The bridge's drain period is over.
    Shutdown,
}

/// Why a request we sent has no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Timer B or F ran out.
    NoResponse,
    /// It could not be delivered; why.
    Transport(String),
}

impl Failure {
    /// The status the outcome table gives it.
    pub fn status(&self) -> SipStatus {
        match self {
            Self::NoResponse => SipStatus::no_response(),
            Self::Transport(detail) => SipStatus::transport_failure(detail),
        }
    }
}

/// How the phone hears of the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneEnd {
    /// The INVITE's final response, with these extra headers.
    Decline(Vec<(&'static str, String)>),
    /// No answer at all.
    Silence,
    /// BYE in the dialog the machine holds (the call was answered).
    Bye,
    /// The same BYE with these extra headers (`lk.sip.EndCall`'s).
    ByeWith(Vec<(String, String)>),
    /// Nothing (the phone hung up, or our INVITE never got a final answer).
    Nothing,
}

/// What to do.
#[derive(Debug)]
pub enum Action {
    /// Answer a request (the INVITE's 180 and 200 of a call we answer, in-dialog requests).
    Respond { id: ServerTxId, response: Response },
    /// Send a request outside any dialog (outbound: the INVITE, its CANCEL); a failure
    /// comes back as [`Input::RequestFailed`].
    SendRequest(Box<Request>),
    /// Send a request of the dialog (the REFER; the BYE for a 2xx nobody wants any more).
    Send(OutgoingRequest),
    /// ACK a 2xx to our INVITE.
    SendAck(OutgoingRequest),
    /// Start the phone's media for this negotiation (or apply it to the media that runs);
    /// report [`Input::MediaStarted`] or [`Input::MediaFailed`] before anything else.
    StartMedia(Negotiated),
    /// Apply a new negotiation to the running media. With `reply`, report the result back
    /// as [`Input::Renegotiated`] so the request gets its answer.
    Renegotiate {
        negotiated: Negotiated,
        reply: Option<(ServerTxId, Box<Request>, String)>,
    },
    /// Join the room; report [`Input::RoomJoined`] or [`Input::RoomJoinFailed`].
    JoinRoom,
    /// Have livekit-server check these keys as the rule's PIN; report
    /// [`Input::PinChecked`]. The right PIN also says which room to join.
    CheckPin(String),
    /// Play a tone to the phone instead of the room (`None`: the room again).
    Prompt(Option<Progress>),
    /// Play ringback into the room (`true`), or stop it.
    Ringback(bool),
    /// Set these attributes on our participant (`sip.callStatus` and the like).
    SetAttributes(HashMap<String, String>),
    /// The API caller waiting gets its participant now (outbound).
    AnswerApi,
    /// Send these digits to the phone (RFC 4733) once the media runs.
    SendDigits(String),
    /// A key from the phone, for the room (SIP INFO or RFC 4733).
    KeyToRoom { code: u32, digit: String },
    /// A transfer ended: the API caller's answer, its record and its count.
    TransferEnded {
        transfer_id: String,
        end: TransferEnd,
        label: &'static str,
    },
    /// A request that came before the ACK: for the answered call, in order.
    Defer { id: ServerTxId, request: Request },
    /// The call is answered and in the room: the answered call takes over
    /// ([`CallMachine::into_handover`]) once the actions queued after this one are done.
    Ready,
    /// The call is over. `leave_room`: our participant leaves (the room did not end it).
    /// After this, a machine may still need SIP inputs until [`CallMachine::is_done`] (a
    /// late 2xx to ACK and hang up).
    End {
        ending: Ending,
        detail: String,
        phone: PhoneEnd,
        leave_room: bool,
    },
}

/// What the answered call takes over from its set-up.
#[derive(Debug)]
pub struct Handover {
    pub dialog: Dialog,
    pub session: LocalSession,
    /// For a call we placed: the ACK of the answer, repeated for each retransmitted 2xx.
    pub ack: Option<OutgoingRequest>,
}

/// A machine, as the driver sees it.
pub trait CallMachine {
    fn handle_input(&mut self, now: Instant, input: Input);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_action(&mut self) -> Option<Action>;
    /// Whether the phone's media is pumped now (keys and the media timeout come back).
    fn pumps_media(&self) -> bool;
    /// The dialog, for a BYE at the end.
    fn dialog_mut(&mut self) -> Option<&mut Dialog>;
    /// After [`Action::Ready`]: what the answered call starts with (`None` from the
    /// answered call itself).
    fn into_handover(self) -> Option<Handover>;
    /// Nothing is left to do, not even for a transaction still running after the end.
    fn is_done(&self) -> bool;
}

/// The ends and hand-overs (`Action::Ready`) among a machine's actions, counted as they are
/// drained: what the random-interleaving tests check (one of them, once).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct EndsSeen {
    pub(crate) ends: usize,
    pub(crate) hand_overs: usize,
}

#[cfg(test)]
impl EndsSeen {
    pub(crate) fn take(&mut self, machine: &mut impl CallMachine) {
        while let Some(action) = machine.poll_action() {
            match action {
                Action::End { .. } => self.ends += 1,
                Action::Ready => self.hand_overs += 1,
                _ => {}
            }
        }
    }
}

/// What a set-up machine did, in a form tests compare: responses and requests by code and
/// method, the rest by name.
#[cfg(test)]
pub(crate) fn action_names(machine: &mut impl CallMachine) -> Vec<String> {
    std::iter::from_fn(|| machine.poll_action())
        .map(|action| match action {
            Action::Respond { response, .. } => response.code.to_string(),
            Action::SendRequest(request) => format!("send {}", request.method.as_str()),
            Action::Send(request) => format!("send {}", request.request.method.as_str()),
            Action::SendAck(_) => "send ACK".into(),
            Action::StartMedia(_) => "media".into(),
            Action::JoinRoom => "join".into(),
            Action::CheckPin(keys) => format!("check pin {keys}"),
            Action::Prompt(Some(tone)) => format!("{tone:?}"),
            Action::Prompt(None) => "quiet".into(),
            Action::Ringback(on) => format!("ringback {}", if on { "on" } else { "off" }),
            Action::SetAttributes(attributes) => {
                let status = attributes.get(crate::room::attributes::CALL_STATUS);
                format!("status {}", status.map_or("-", String::as_str))
            }
            Action::AnswerApi => "api answered".into(),
            Action::SendDigits(digits) => format!("digits {digits}"),
            Action::Renegotiate { .. } => "renegotiate".into(),
            Action::KeyToRoom { digit, .. } => format!("key {digit}"),
            Action::TransferEnded { label, .. } => format!("transfer {label}"),
            Action::Defer { request, .. } => format!("defer {}", request.method.as_str()),
            Action::Ready => "ready".into(),
            Action::End { ending, phone, .. } => {
                let outcome = ending.outcome();
                format!(
                    "end {} {} {phone:?}",
                    outcome.status.code, outcome.status.reason
                )
            }
        })
        .collect()
}
