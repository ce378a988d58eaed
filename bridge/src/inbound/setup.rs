//! An admitted inbound call's set-up, sans-IO: from the SDP answer to the caller in the room
//! with the call answered. It speaks `call::machine`'s words: what the phone, the room and the
//! media say goes in ([`CallMachine::handle_input`], [`CallMachine::handle_timeout`] with
//! `now`); what to send and do comes out ([`CallMachine::poll_action`]), ending in
//! [`Action::Ready`] (hand over to the answered call) or [`Action::End`] (one [`Ending`] and
//! how the phone hears it). The call's driver (`call::driver`) runs it; the tests
//! run every set-up row of docs/OUTCOMES.md on a virtual clock.
//!
//! Without a PIN: 180 while the caller joins the room, then 200; with a `listener_timeout`
//! (the rule's `ringing_timeout`) the 200 waits, the phone ringing, until someone in the room
//! subscribes to the caller's audio (180, or a 183 with ringback as early media). With a PIN:
//! 200 at once, dial tone and the PIN, then the room. An INVITE without an offer (RFC 3261
//! §13.2.1, "delayed offer") gets ours in the 200, and the phone's answer comes in the ACK.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipbridge_media::tone::Progress;
use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{Dialog, LocalParty, Tag, TimerConfig, Verdict};
use sipbridge_signaling::info_dtmf::parse_info_dtmf;
use sipbridge_signaling::message::{Method, NameAddr, Request, Response, sdp_body};
use sipbridge_signaling::outcome::{
    CallStatus, Ending, EstablishedEnd, InboundRejection, PinEnd, SetupFailure,
};
use sipbridge_signaling::screen::{ALLOWED_METHODS, SUPPORTED};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::ServerTxId;

use super::pin::{PinCheck, PinEntry, PinStep, Prompt};
use crate::call::machine::{Action, CallMachine, Handover, Input, PhoneEnd};
use crate::room::attributes;

/// What the set-up of one call starts from.
#[derive(Debug)]
pub(super) struct Params {
    pub(super) invite: Request,
    pub(super) id: ServerTxId,
    /// Our To tag, on every response.
    pub(super) local_tag: String,
    pub(super) contact: NameAddr,
    /// The `Server` header of our 200.
    pub(super) server: String,
    /// For a `Warning` on a refused offer (RFC 3261 §20.43).
    pub(super) warning_host: String,
    pub(super) pin: Option<PinCheck>,
    /// With a PIN: the time to enter it.
    pub(super) pin_timeout: Duration,
    /// Without a PIN: answer only once someone in the room subscribes to the caller, within
    /// this long; `None`: as soon as the caller is in the room.
    pub(super) listener_timeout: Option<Duration>,
    /// Ring with a 183 and a ringback tone as early media, instead of a 180.
    pub(super) early_media: bool,
}

/// RFC 3261 §13.3.1.1: a UAS that is not answering yet repeats its provisional response
/// every minute, so proxies on the way do not give up on the transaction (Timer C).
const PROVISIONAL_REPEAT: Duration = Duration::from_secs(60);

/// What comes once the media runs or the ACK is in.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// The first response and the dialog.
    Respond,
    /// Dial tone and PIN entry.
    Pin,
    /// The hand-over to the answered call.
    Ready,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for [`Input::MediaStarted`]; then `Next`.
    Media(Next),
    /// 180 (or 183) sent, joining the room.
    Joining,
    /// In the room with the phone ringing, until someone subscribes to the caller's audio.
    Waiting(Waiting),
    /// 200 sent with our offer: the ACK brings the answer; then `Next`.
    AwaitingAck(Next),
    /// Dial tone and PIN entry.
    Pin(PinEntry),
    /// The right PIN: joining the room.
    JoiningAfterPin,
    /// [`Action::Ready`] is out.
    Ready,
    /// [`Action::End`] is out.
    Ended,
}

/// The clocks of [`Phase::Waiting`].
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// No one subscribed by then: the call ends.
    deadline: Instant,
    /// The provisional response goes out again then.
    repeat: Instant,
}

/// An inbound call being set up.
#[derive(Debug)]
pub(super) struct Setup {
    params: Params,
    session: LocalSession,
    /// Our SDP for the 200: the answer, or our offer.
    our_sdp: String,
    dialog: Option<Dialog>,
    /// The 180 or 183 the phone rings with, to repeat while waiting.
    provisional: Option<Response>,
    answered: bool,
    phase: Phase,
    actions: VecDeque<Action>,
}

impl Setup {
    /// Starts at `now`: the offer is answered (or ours made) and the media asked for.
    pub(super) fn new(params: Params, mut session: LocalSession, now: Instant) -> Self {
        let invite = &params.invite;
        let answered = match sdp_body(&invite.head, &invite.body) {
            None => Ok((session.offer(), None)),
            Some(offer) => parse_sdp(offer)
                .and_then(|offer| session.answer(&offer))
                .map(|(answer, negotiated)| (answer, Some(negotiated))),
        };
        let mut setup = Self {
            params,
            session,
            our_sdp: String::new(),
            dialog: None,
            provisional: None,
            answered: false,
            // Every path below sets the phase.
            phase: Phase::Ended,
            actions: VecDeque::new(),
        };
        match answered {
            Err(error) => setup.refuse_offer(&error),
            Ok((sdp, negotiated)) => {
                setup.our_sdp = sdp;
                match negotiated {
                    // Media first: an offer we cannot use is refused before anyone joins.
                    Some(negotiated) => {
                        setup.phase = Phase::Media(Next::Respond);
                        setup.actions.push_back(Action::StartMedia(negotiated));
                    }
                    None => setup.phase = setup.respond(now),
                }
            }
        }
        setup
    }
}

impl CallMachine for Setup {
    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// While the PIN is collected the phone's media runs (dial tone, keys, media timeout),
    /// and while the phone rings with early media (the ringback tone).
    fn pumps_media(&self) -> bool {
        match self.phase {
            Phase::Pin(_) => true,
            Phase::Joining | Phase::Waiting(_) => self.rings_with_early_media(),
            _ => false,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Pin(entry) => Some(entry.poll_timeout()),
            Phase::Waiting(waiting) => Some(waiting.deadline.min(waiting.repeat)),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Pin(entry) => {
                let step = entry.handle_timeout(now);
                self.pin_step(step);
            }
            Phase::Waiting(waiting) if now >= waiting.deadline => {
                let waited = self.params.listener_timeout.unwrap_or_default();
                let detail = format!("no one in the room subscribed to the caller in {waited:?}");
                self.end(InboundRejection::NoOneListened, detail);
            }
            Phase::Waiting(waiting) if now >= waiting.repeat => {
                waiting.repeat = now + PROVISIONAL_REPEAT;
                if let Some(provisional) = self.provisional.clone() {
                    self.send(provisional);
                }
            }
            _ => {}
        }
    }

    fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        self.dialog.as_mut()
    }

    fn into_handover(self) -> Option<Handover> {
        Some(Handover {
            dialog: self.dialog?,
            session: self.session,
            ack: None,
        })
    }

    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Ready | Phase::Ended)
    }

    fn handle_input(&mut self, now: Instant, input: Input) {
        if self.is_done() {
            return;
        }
        match input {
            Input::Shutdown => {
                return self.end(EstablishedEnd::Shutdown, "shut down during set-up");
            }
            Input::NoAck if self.answered => return self.end(EstablishedEnd::NoAck, "no ACK"),
            // Answered, the caller in the room, the ACK not in yet: hang up.
            Input::EndCall(_) if self.answered => {
                return self.end(EstablishedEnd::EndCallRpc, "lk.sip.EndCall");
            }
            Input::RoomEnded(reason) if self.answered => {
                // The caller joined and the room ended it before the hand-over.
                let ending = EstablishedEnd::RoomEnded(reason).into();
                return self.finish(ending, String::new(), PhoneEnd::Bye, false);
            }
            _ => {}
        }
        self.next_phase(now, input);
    }
}

impl Setup {
    fn next_phase(&mut self, now: Instant, input: Input) {
        let phase = std::mem::replace(&mut self.phase, Phase::Ended);
        self.phase = match (phase, input) {
            (Phase::Media(next), Input::MediaStarted) => self.then(now, next),
            (Phase::Media(_), Input::MediaFailed(detail)) => {
                return self.end(SetupFailure::RoomJoinFailed, detail);
            }
            (Phase::Joining, Input::RoomJoined) => self.joined(now),
            (Phase::Waiting(_), Input::Subscribed) => self.answer_after_join(now),
            (Phase::Waiting(_), Input::EndCall(_)) => {
                return self.end(InboundRejection::EndCallRpc, "declined by a room member");
            }
            (Phase::Waiting(_), Input::RoomEnded(reason)) => {
                let ending = InboundRejection::RoomEndedWhileRinging(reason).into();
                let phone = PhoneEnd::Decline(Vec::new());
                return self.finish(ending, String::new(), phone, false);
            }
            (phase @ Phase::Waiting(_), Input::Request { id, request }) => {
                self.phase = phase;
                return self.request_before_room(now, id, &request);
            }
            (Phase::Joining | Phase::JoiningAfterPin, Input::RoomJoinFailed(detail)) => {
                return self.end(SetupFailure::RoomJoinFailed, detail);
            }
            (Phase::Joining | Phase::Waiting(_), Input::Cancelled) => {
                // RFC 3261 §9.2: the INVITE gets its 487.
                return self.end(InboundRejection::CallerCancelled, "");
            }
            (Phase::AwaitingAck(next), Input::Ack(ack)) => self.ack(&ack, next),
            (Phase::AwaitingAck(next), Input::Request { id, request }) => {
                self.actions.push_back(Action::Defer { id, request });
                Phase::AwaitingAck(next)
            }
            (Phase::Pin(mut entry), Input::Key { key, .. }) => {
                let step = entry.handle_key(now, key);
                self.phase = Phase::Pin(entry);
                return self.pin_step(step);
            }
            (Phase::Pin(mut entry), Input::PinChecked(verdict)) => {
                let right = match verdict {
                    Ok(right) => right,
                    Err(detail) => return self.end(SetupFailure::RoutingUnavailable, detail),
                };
                let step = entry.checked(now, right);
                self.phase = Phase::Pin(entry);
                return self.pin_step(step);
            }
            (Phase::Pin(_), Input::MediaTimeout) => {
                return self.end(EstablishedEnd::MediaTimeout, "no RTP during PIN entry");
            }
            (phase @ (Phase::Pin(_) | Phase::JoiningAfterPin), Input::Request { id, request }) => {
                self.phase = phase;
                return self.request_before_room(now, id, &request);
            }
            (Phase::JoiningAfterPin, Input::RoomJoined) => self.ready(),
            // Retransmissions, a CANCEL after our 200, keys before the PIN: nothing to do.
            (phase, _) => phase,
        };
    }

    /// The first response that forms the dialog (RFC 3261 §12.1.1): the 180 (or the 183
    /// with early media), or with a PIN to collect, the 200 at once.
    fn respond(&mut self, now: Instant) -> Phase {
        let mut first = if self.params.pin.is_some() {
            self.ok_response()
        } else if self.rings_with_early_media() {
            let mut progress = Response::to(&self.params.invite, 183, None);
            progress.head.content_type = Some("application/sdp".into());
            progress.body = Bytes::from(self.our_sdp.clone());
            progress
        } else {
            Response::to(&self.params.invite, 180, None)
        };
        let local = LocalParty {
            tag: Tag(self.params.local_tag.clone()),
            contact: self.params.contact.clone(),
        };
        let timers = TimerConfig {
            we_refresh: false,
            ..TimerConfig::default()
        };
        match Dialog::new_uas(&self.params.invite, &mut first, local, timers, now) {
            Ok(dialog) => self.dialog = Some(dialog),
            Err(error) => {
                self.end(InboundRejection::NoDialog, error.to_string());
                return Phase::Ended;
            }
        }
        if self.params.pin.is_some() {
            self.send(first);
            self.answered = true;
            self.after_answer(now, Next::Pin)
        } else {
            self.provisional = Some(first.clone());
            self.send(first);
            if self.rings_with_early_media() {
                self.actions
                    .push_back(Action::Prompt(Some(Progress::Ringback)));
            }
            self.actions.push_back(Action::JoinRoom);
            Phase::Joining
        }
    }

    /// Early media needs our SDP answer in the 183: not for a delayed offer, whose offer
    /// (ours) cannot ride in an unreliable provisional response.
    fn rings_with_early_media(&self) -> bool {
        let invite = &self.params.invite;
        self.params.early_media
            && self.params.pin.is_none()
            && sdp_body(&invite.head, &invite.body).is_some()
    }

    /// The caller is in the room: the 200 now, or once someone subscribes to it.
    fn joined(&mut self, now: Instant) -> Phase {
        match self.params.listener_timeout {
            Some(timeout) => Phase::Waiting(Waiting {
                deadline: now + timeout,
                repeat: now + PROVISIONAL_REPEAT,
            }),
            None => self.answer_after_join(now),
        }
    }

    fn then(&mut self, now: Instant, next: Next) -> Phase {
        match next {
            Next::Respond => self.respond(now),
            Next::Pin => self.start_pin(now),
            Next::Ready => self.ready(),
        }
    }

    fn answer_after_join(&mut self, now: Instant) -> Phase {
        if self.rings_with_early_media() {
            self.actions.push_back(Action::Prompt(None));
        }
        self.provisional = None;
        let mut ok = self.ok_response();
        if let Some(dialog) = self.dialog.as_mut()
            && let Err(error) = dialog.respond(&self.params.invite, &mut ok, now)
        {
            tracing::warn!(%error, "200 OK not applied to the dialog");
        }
        self.send(ok);
        self.answered = true;
        self.after_answer(now, Next::Ready)
    }

    /// After our 200: the ACK first when it must bring the answer, else `next` now.
    fn after_answer(&mut self, now: Instant, next: Next) -> Phase {
        if sdp_body(&self.params.invite.head, &self.params.invite.body).is_none() {
            return Phase::AwaitingAck(next);
        }
        self.then(now, next)
    }

    /// The ACK of our 200 carrying the offer: its answer starts the media.
    fn ack(&mut self, ack: &Request, next: Next) -> Phase {
        let answered = match sdp_body(&ack.head, &ack.body) {
            None => Err("the ACK has no SDP answer to our offer".to_owned()),
            Some(answer) => parse_sdp(answer)
                .and_then(|answer| self.session.handle_answer(&answer))
                .map_err(|error| error.to_string()),
        };
        match answered {
            Ok(negotiated) => {
                self.actions.push_back(Action::StartMedia(negotiated));
                Phase::Media(next)
            }
            Err(detail) => {
                tracing::info!(%detail, "delayed offer: the phone's answer is unusable");
                self.end(EstablishedEnd::NoUsableAnswer, detail);
                Phase::Ended
            }
        }
    }

    /// Dial tone, and the PIN's time starts (only a call with a PIN comes here).
    fn start_pin(&mut self, now: Instant) -> Phase {
        self.actions.push_back(Action::Prompt(Some(Progress::Dial)));
        let pin = self.params.pin.clone().unwrap_or(PinCheck::Remote);
        Phase::Pin(PinEntry::new(pin, now, self.params.pin_timeout))
    }

    fn pin_step(&mut self, step: PinStep) {
        match step {
            PinStep::Waiting(None) => {}
            PinStep::Waiting(Some(prompt)) => self.actions.push_back(Action::Prompt(tone(prompt))),
            PinStep::Check(keys) => self.actions.push_back(Action::CheckPin(keys)),
            PinStep::Entered => {
                self.actions.push_back(Action::Prompt(None));
                self.actions.push_back(Action::JoinRoom);
                self.phase = Phase::JoiningAfterPin;
            }
            PinStep::Over(end) => {
                // The record's detail says which of the two it was.
                let detail = match end {
                    PinEnd::Timeout => "no right PIN keyed in time",
                    PinEnd::Wrong => "a wrong PIN three times",
                };
                self.end(end, detail);
            }
        }
    }

    /// A BYE ends the call; other in-dialog requests wait until the caller is in the room
    /// (RFC 3261 §14.2: 500 with Retry-After for a re-INVITE now). Before our 200 (ringing
    /// while waiting for a listener) the dialog is early, and a BYE from the caller ends the
    /// INVITE as a CANCEL would (RFC 3261 §15.1.2: 487).
    fn request_before_room(&mut self, now: Instant, id: ServerTxId, request: &Request) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let mut response = match dialog.receive_request(request, rand::random()) {
            Ok(Verdict::Accept) => match request.method {
                Method::Ack => return,
                Method::Bye | Method::Options | Method::Info => Response::to(request, 200, None),
                _ => {
                    let mut busy = Response::to(request, 500, None);
                    busy.head.other.push("Retry-After", "2");
                    busy
                }
            },
            Ok(Verdict::Reject(response)) => *response,
            Err(_) => Response::to(request, 481, None),
        };
        let bye = request.method == Method::Bye && response.code == 200;
        let _ = dialog.respond(request, &mut response, now);
        self.actions.push_back(Action::Respond { id, response });
        if bye && !self.answered {
            return self.end(InboundRejection::CallerCancelled, "BYE before the answer");
        }
        if bye {
            let ending = EstablishedEnd::RemoteBye.into();
            return self.finish(ending, String::new(), PhoneEnd::Nothing, true);
        }
        // A key sent as SIP INFO counts like an RFC 4733 one (the INFO is answered 200
        // either way: a PIN attempt is not a protocol error).
        let content_type = request.head.content_type.as_deref();
        if request.method == Method::Info
            && let Ok(dtmf) = parse_info_dtmf(content_type, &request.body)
        {
            let (code, key) = (dtmf.code, dtmf.key);
            self.handle_input(now, Input::Key { code, key });
        }
    }

    /// The hand-over, then `sip.callStatus=active` (the call is found for a transfer before
    /// anyone sees it active).
    fn ready(&mut self) -> Phase {
        self.actions.push_back(Action::Ready);
        let active = attributes::call_status(CallStatus::Active);
        self.actions.push_back(Action::SetAttributes(active));
        Phase::Ready
    }

    /// An offer we cannot take: 488 (or what the SDP fault calls for) with a Warning saying
    /// which problem it was (RFC 3261 §20.43), for the carrier's logs.
    fn refuse_offer(&mut self, error: &Error) {
        tracing::info!(%error, "inbound offer refused");
        let rejection = error.sdp_rejection();
        let mut headers = Vec::new();
        if let Some(r) = rejection
            && let Some(code) = r.warning
        {
            let warning = format!("{code} {} \"{}\"", self.params.warning_host, r.reason);
            headers.push(("Warning", warning));
        }
        let ending = InboundRejection::bad_offer(rejection).into();
        self.finish(ending, error.to_string(), PhoneEnd::Decline(headers), true);
    }

    /// Ends the set-up: a final response while unanswered, BYE once answered.
    fn end(&mut self, ending: impl Into<Ending>, detail: impl Into<String>) {
        let phone = if self.answered {
            PhoneEnd::Bye
        } else {
            PhoneEnd::Decline(Vec::new())
        };
        self.finish(ending.into(), detail.into(), phone, true);
    }

    /// `leave_room`: our participant (if it joined) leaves; not when the room ended it.
    fn finish(&mut self, ending: Ending, detail: String, phone: PhoneEnd, leave_room: bool) {
        self.phase = Phase::Ended;
        self.actions.push_back(Action::End {
            ending,
            detail,
            phone,
            leave_room,
        });
    }

    fn send(&mut self, response: Response) {
        let id = self.params.id;
        self.actions.push_back(Action::Respond { id, response });
    }

    /// The 200 OK with our SDP (answer, or offer when the INVITE had none) and what we
    /// support.
    fn ok_response(&self) -> Response {
        let mut ok = Response::to(&self.params.invite, 200, None);
        let headers = &mut ok.head.other;
        headers.push("Allow", ALLOWED_METHODS);
        headers.push("Supported", SUPPORTED.join(", "));
        headers.push("Server", self.params.server.clone());
        ok.head.content_type = Some("application/sdp".into());
        ok.body = Bytes::from(self.our_sdp.clone());
        ok
    }
}

fn tone(prompt: Prompt) -> Option<Progress> {
    match prompt {
        Prompt::Dial => Some(Progress::Dial),
        Prompt::Busy => Some(Progress::Busy),
        Prompt::Silence => None,
    }
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "setup_waiting_tests.rs"]
mod waiting_tests;

#[cfg(test)]
#[path = "setup_random_tests.rs"]
mod random_tests;
