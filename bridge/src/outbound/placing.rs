//! A call we place, sans-IO, from our INVITE to the answered call: the phone rings
//! (`sip.callStatus=ringing`), a 183's SDP starts early media, ringback plays in the room
//! with `play_dialtone`, the INVITE is withdrawn (CANCEL) when the ringing times out, the
//! room closes, the API caller goes away or the bridge shuts down; a 2xx is ACKed, its SDP
//! answer starts the media, and the call goes `active`. [`Dialer`] (in `signaling`) knows the
//! INVITE transaction; this machine adds the room, the media and the API caller to it. It
//! speaks `call::machine`'s words; the tests run every outbound row of docs/OUTCOMES.md on a
//! virtual clock.
//!
//! When the call ends before the INVITE's final response, the machine goes on for the
//! transaction (64·T1 at most): a provisional response gets the CANCEL that waited for it
//! (RFC 3261 §9.1) and a 2xx is ACKed and hung up at once (§15), so no call is left up at the
//! far end.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use livekit_protocol::SipHeaderOptions;
use sipbridge_signaling::dial::{CancelCause, DialStep, DialTimeout, Dialer};
use sipbridge_signaling::dialog::{Dialog, OutgoingRequest, TimerConfig};
use sipbridge_signaling::message::{Method, Response, sdp_body};
use sipbridge_signaling::outcome::{CallStatus, Ending, EstablishedEnd, OutboundEnd};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::Transport;

use crate::call::machine::{Action, CallMachine, Failure, Handover, Input, PhoneEnd};
use crate::room::attributes;
use crate::sip::local::LocalAddresses;

/// What placing a call starts from.
#[derive(Debug)]
pub(super) struct Params {
    pub session: LocalSession,
    /// For the Via of our ACK and BYE.
    pub local: LocalAddresses,
    pub transport: Transport,
    pub ringing_timeout: Duration,
    /// How long the far end has to answer our CANCEL before the call ends without it.
    pub cancel_grace: Duration,
    /// How long the INVITE transaction can outlive the call (64·T1).
    pub transaction_lifetime: Duration,
    pub play_dialtone: bool,
    /// The API caller waits for the answer (else only for the dialling).
    pub wait_until_answered: bool,
    /// Digits to send once answered.
    pub dtmf: String,
    /// The 2xx's headers that become attributes (the trunk's map) and those the API caller
    /// asked for (`include_headers`).
    pub headers_to_attributes: Vec<(String, String)>,
    pub include_headers: SipHeaderOptions,
}

#[derive(Debug)]
enum Phase {
    /// The INVITE is out; no final response yet.
    Dialing,
    /// The 2xx (`ok`) is ACKed; the media for its answer is being applied.
    Answering { ok: Box<Response> },
    /// [`Action::Ready`] is out.
    Ready,
    /// The call ended before the INVITE's final response: the transaction may still bring
    /// a late response until `until`.
    Lingering { until: Instant },
    /// Nothing left to do.
    Done,
}

/// An outbound call being placed.
#[derive(Debug)]
pub(super) struct Placing {
    params: Params,
    dialer: Dialer,
    phase: Phase,
    ringing: bool,
    /// Early media or the answer's media runs.
    media_running: bool,
    /// The room ended our participant: it is gone already.
    room_ended: bool,
    /// The outcome when something other than the dialler's rows withdraws the call
    /// (the bridge shutting down).
    overriding: Option<Ending>,
    dialog: Option<Dialog>,
    ack: Option<OutgoingRequest>,
    actions: VecDeque<Action>,
}

impl Placing {
    /// `dialer`'s INVITE (carrying `params.session`'s offer) goes out at `now`; ringback
    /// starts with `play_dialtone`; an API caller not waiting for the answer has its
    /// participant now.
    pub(super) fn new(params: Params, dialer: Dialer, now: Instant) -> Self {
        let dialer = dialer.with_timers(now, params.ringing_timeout, params.cancel_grace);
        let mut actions = VecDeque::new();
        actions.push_back(Action::SendRequest(Box::new(dialer.invite().clone())));
        if params.play_dialtone {
            actions.push_back(Action::Ringback(true));
        }
        if !params.wait_until_answered {
            actions.push_back(Action::AnswerApi);
        }
        Self {
            params,
            dialer,
            phase: Phase::Dialing,
            ringing: false,
            media_running: false,
            room_ended: false,
            overriding: None,
            dialog: None,
            ack: None,
            actions,
        }
    }

    /// A response to our INVITE or CANCEL.
    fn on_response(&mut self, now: Instant, response: Response) {
        match &self.phase {
            Phase::Dialing => self.dialing_response(now, response),
            Phase::Answering { .. } if (200..300).contains(&response.code) => {
                // The 2xx again: our ACK was lost (RFC 3261 §13.2.2.4).
                if let Some(ack) = &self.ack {
                    self.actions.push_back(Action::SendAck(ack.clone()));
                }
            }
            Phase::Lingering { .. } => self.late_response(now, &response),
            Phase::Answering { .. } | Phase::Ready | Phase::Done => {}
        }
    }

    fn dialing_response(&mut self, now: Instant, response: Response) {
        match self.dialer.on_response(&response, rand::random()) {
            DialStep::Nothing => {}
            DialStep::Send(request) => self.actions.push_back(Action::SendRequest(request)),
            DialStep::Progress { sdp, .. } => self.progress(sdp.as_deref()),
            DialStep::Answered => self.answered(now, response),
            DialStep::AnsweredTooLate(end) => {
                // RFC 3261 §15: a 2xx is acknowledged even when we no longer want the call.
                let phone = if self.acknowledge(now, &response).is_ok() {
                    PhoneEnd::Bye
                } else {
                    PhoneEnd::Nothing
                };
                let ending = self.ending(end);
                self.end(ending, String::new(), phone);
            }
            DialStep::Ended(end) => {
                let ending = self.ending(end);
                self.end(ending, String::new(), PhoneEnd::Nothing);
            }
        }
    }

    /// The phone rings; a 183's SDP starts early media, and the phone's own tones then
    /// replace our ringback.
    fn progress(&mut self, sdp: Option<&[u8]>) {
        if !self.ringing {
            self.ringing = true;
            let status = attributes::call_status(CallStatus::Ringing);
            self.actions.push_back(Action::SetAttributes(status));
        }
        let Some(sdp) = sdp.filter(|_| !self.media_running) else {
            return;
        };
        match parse_sdp(sdp).and_then(|answer| self.params.session.handle_answer(&answer)) {
            Ok(negotiated) => self.actions.push_back(Action::StartMedia(negotiated)),
            Err(error) => tracing::info!(%error, "early media SDP not usable"),
        }
    }

    /// A 2xx: ACK it, and the media for its answer (a 2xx without SDP keeps what the 183
    /// negotiated: RFC 3264 offers no second answer).
    fn answered(&mut self, now: Instant, response: Response) {
        if let Err(detail) = self.acknowledge(now, &response) {
            let ending = OutboundEnd::UnusableAnswer.into();
            return self.end(ending, detail, PhoneEnd::Nothing);
        }
        let answer = sdp_body(&response.head, &response.body).map(|sdp| {
            parse_sdp(sdp)
                .and_then(|answer| self.params.session.handle_answer(&answer))
                .map_err(|error| error.to_string())
        });
        match answer {
            Some(Ok(negotiated)) => {
                self.actions.push_back(Action::StartMedia(negotiated));
                self.phase = Phase::Answering {
                    ok: Box::new(response),
                };
            }
            None if self.media_running => self.go_active(&response),
            None => self.unusable_answer("the answer has no SDP and no early media ran"),
            Some(Err(detail)) => self.unusable_answer(&detail),
        }
    }

    /// Forms the dialog of a 2xx and ACKs it (RFC 3261 §13.2.2.4); the error says why the
    /// 2xx cannot form a dialog.
    fn acknowledge(&mut self, now: Instant, response: &Response) -> Result<(), String> {
        let timers = TimerConfig {
            we_refresh: false,
            ..TimerConfig::default()
        };
        let invite = self.dialer.invite();
        let dialog = Dialog::new_uac(invite, response, timers, now)
            .map_err(|error| format!("the 2xx cannot form a dialog: {error}"))?;
        let via = self.params.local.via(self.params.transport);
        let ack = dialog
            .build_ack(response, via, None)
            .map_err(|error| format!("cannot build the ACK: {error}"))?;
        self.actions.push_back(Action::SendAck(ack.clone()));
        self.dialog = Some(dialog);
        self.ack = Some(ack);
        Ok(())
    }

    fn unusable_answer(&mut self, detail: &str) {
        tracing::info!(%detail, "the answer's SDP is not usable");
        let ending = OutboundEnd::NoCommonCodec.into();
        self.end(ending, detail.to_owned(), PhoneEnd::Bye);
    }

    /// `sip.callStatus=active` (only now: never before the 200), with the 200's headers the
    /// trunk maps and those the request asked for; the API caller's answer; the digits.
    fn go_active(&mut self, response: &Response) {
        // First, so the call can be found for a transfer before anyone sees it active.
        self.actions.push_back(Action::Ready);
        let attributes = active_attributes(&self.params, response);
        self.actions.push_back(Action::SetAttributes(attributes));
        self.actions.push_back(Action::AnswerApi);
        if !self.params.dtmf.is_empty() {
            let digits = std::mem::take(&mut self.params.dtmf);
            self.actions.push_back(Action::SendDigits(digits));
        }
        self.phase = Phase::Ready;
    }

    /// Withdraws the INVITE; the room stops hearing it ring.
    fn withdraw(&mut self, now: Instant, cause: CancelCause) {
        self.actions.push_back(Action::Ringback(false));
        if let Some(cancel) = self.dialer.cancel(cause) {
            self.actions
                .push_back(Action::SendRequest(Box::new(cancel)));
        }
        // Starts the CANCEL's grace.
        self.handle_timeout(now);
    }

    /// After the call ended without the INVITE's final response: a provisional response
    /// gets its CANCEL, a 2xx its ACK and our BYE.
    fn late_response(&mut self, now: Instant, response: &Response) {
        if response.head.cseq.method != Method::Invite {
            return;
        }
        if (200..300).contains(&response.code) {
            tracing::info!("a 2xx after the call ended: ACK and BYE");
            if self.acknowledge(now, response).is_ok() {
                self.send_bye();
            }
            self.phase = Phase::Done;
        } else if response.code >= 300 {
            self.phase = Phase::Done;
        } else if let DialStep::Send(cancel) = self.dialer.on_response(response, 0) {
            self.actions.push_back(Action::SendRequest(cancel));
        }
    }

    fn send_bye(&mut self) {
        let via = self.params.local.via(self.params.transport);
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        match dialog.build_request(Method::Bye, via, None) {
            Ok(bye) => self.actions.push_back(Action::Send(bye)),
            Err(error) => tracing::warn!(%error, "cannot build the BYE"),
        }
    }

    fn ending(&self, end: OutboundEnd) -> Ending {
        self.overriding.clone().unwrap_or_else(|| end.into())
    }

    /// The call ends.
    fn end(&mut self, ending: Ending, detail: String, phone: PhoneEnd) {
        self.actions.push_back(Action::End {
            ending,
            detail,
            phone,
            leave_room: !self.room_ended,
        });
        self.phase = Phase::Done;
    }

    /// While dialling: a CANCEL for the ringing timeout, or the end when time is up before
    /// the INVITE's final response.
    fn dialing_timeout(&mut self, now: Instant) {
        match self.dialer.handle_timeout(now) {
            DialTimeout::Nothing => {}
            DialTimeout::Cancel(cancel) => {
                tracing::info!(timeout = ?self.params.ringing_timeout, "no answer: cancelling the call");
                self.actions.push_back(Action::Ringback(false));
                self.actions.push_back(Action::SendRequest(cancel));
            }
            DialTimeout::GiveUp(end) => {
                tracing::info!(?end, "no final response in time: ending the call");
                let ending = self.ending(end);
                self.end(ending, String::new(), PhoneEnd::Nothing);
                // The INVITE transaction goes on without the call.
                self.phase = Phase::Lingering {
                    until: now + self.params.transaction_lifetime,
                };
            }
        }
    }

    /// Our INVITE got no response (Timer B) or could not be delivered.
    fn invite_failed(&mut self, failure: &Failure) {
        match self.phase {
            Phase::Dialing => {
                let end = match failure {
                    Failure::NoResponse => self.dialer.on_timeout(),
                    Failure::Transport(detail) => self.dialer.on_transport_error(detail),
                };
                let ending = self.ending(end);
                self.end(ending, String::new(), PhoneEnd::Nothing);
            }
            Phase::Lingering { .. } => self.phase = Phase::Done,
            _ => {}
        }
    }

    /// Something ended an answered call before it went active.
    fn end_answered(&mut self, end: EstablishedEnd) {
        self.end(end.into(), String::new(), PhoneEnd::Bye);
    }
}

impl CallMachine for Placing {
    fn handle_input(&mut self, now: Instant, input: Input) {
        let dialing = matches!(self.phase, Phase::Dialing);
        let answering = matches!(self.phase, Phase::Answering { .. });
        match input {
            Input::Response(response) => self.on_response(now, response),
            Input::RequestFailed {
                method: Method::Invite,
                failure,
                ..
            } => self.invite_failed(&failure),
            Input::MediaStarted if answering => {
                if let Phase::Answering { ok } = std::mem::replace(&mut self.phase, Phase::Ready) {
                    self.go_active(&ok);
                }
            }
            Input::MediaFailed(detail) if answering => self.unusable_answer(&detail),
            Input::MediaStarted if dialing => {
                self.media_running = true;
                self.actions.push_back(Action::Ringback(false));
            }
            Input::MediaFailed(detail) if dialing => {
                tracing::warn!(%detail, "early media not started");
            }
            Input::RoomEnded(reason) if dialing || answering => {
                tracing::info!("the participant left before the answer: cancelling the call");
                self.room_ended = true;
                if answering {
                    return self.end_answered(EstablishedEnd::RoomEnded(reason));
                }
                self.withdraw(now, CancelCause::Caller);
            }
            Input::EndCall(_) if dialing => {
                tracing::info!("lk.sip.EndCall before the answer: cancelling the call");
                self.withdraw(now, CancelCause::Caller);
            }
            Input::EndCall(_) if answering => self.end_answered(EstablishedEnd::EndCallRpc),
            Input::ApiGone if dialing => {
                tracing::info!("the API caller went away: cancelling the call");
                self.withdraw(now, CancelCause::Caller);
            }
            Input::Shutdown if dialing => {
                self.overriding = Some(EstablishedEnd::Shutdown.into());
                self.withdraw(now, CancelCause::Caller);
                if !self.dialer.provisional_received() && matches!(self.phase, Phase::Dialing) {
                    // Nothing came back yet, so no CANCEL may go (RFC 3261 §9.1), and the
                    // INVITE could wait for Timer B, beyond the shutdown's grace: the call
                    // ends now. The transaction goes on without it: a late provisional
                    // still gets its CANCEL, a late 2xx its ACK and BYE.
                    let ending = self.ending(OutboundEnd::Cancelled);
                    self.end(ending, String::new(), PhoneEnd::Nothing);
                    self.phase = Phase::Lingering {
                        until: now + self.params.transaction_lifetime,
                    };
                }
            }
            Input::Shutdown if answering => self.end_answered(EstablishedEnd::Shutdown),
            // Keys and a silent phone before the answer are normal; requests of the
            // dialog-to-be wait for the answered call.
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Dialing => self.dialing_timeout(now),
            Phase::Lingering { until } if now >= until => self.phase = Phase::Done,
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Dialing => self.dialer.poll_timeout(),
            Phase::Lingering { until } => Some(until),
            _ => None,
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn pumps_media(&self) -> bool {
        true
    }

    fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        self.dialog.as_mut()
    }

    fn into_handover(self) -> Option<Handover> {
        Some(Handover {
            dialog: self.dialog?,
            session: self.params.session,
            ack: self.ack,
        })
    }

    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Ready)
    }
}

/// The attributes of the call going active.
fn active_attributes(params: &Params, response: &Response) -> HashMap<String, String> {
    let mut attributes = attributes::call_status(CallStatus::Active);
    for (header, attribute) in &params.headers_to_attributes {
        if let Some(value) = response.head.other.get(header) {
            attributes.insert(attribute.clone(), value.to_owned());
        }
    }
    attributes.extend(attributes::included_headers(
        params.include_headers,
        response.head.other.iter(),
    ));
    attributes
}

#[cfg(test)]
#[path = "placing_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "placing_random_tests.rs"]
mod random_tests;
