//! An answered call's decisions, in either direction, sans-IO: SIP in-dialog requests and
//! responses, room and media signals, transfer orders and the clock go in
//! ([`CallMachine::handle_input`], [`CallMachine::handle_timeout`] with `now`); what to send
//! and do comes out ([`CallMachine::poll_action`]), in `call::machine`'s words. It ends
//! exactly once, with an [`EstablishedEnd`] (docs/OUTCOMES.md, "An established call"). The
//! one driver (`call::driver`) runs it; the tests drive it on a virtual clock against a
//! scripted phone (`tests.rs`).

mod transfer;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use sipbridge_signaling::dialog::{Dialog, DialogEvent, OutgoingRequest, Verdict};
use sipbridge_signaling::message::{Method, Request, Response, sdp_body};
use sipbridge_signaling::outcome::{EstablishedEnd, SipStatus};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::{ServerTxId, Transport};

use crate::call::machine::{Action, CallMachine, Handover, Input, PhoneEnd};
use crate::sip::local::LocalAddresses;
pub use transfer::TransferState;

/// An answered call.
#[derive(Debug)]
pub struct Answered {
    dialog: Dialog,
    session: LocalSession,
    local: LocalAddresses,
    transport: Transport,
    /// `max_call_duration` from the answer.
    deadline: Option<Instant>,
    /// For a call we placed: the ACK of the answer, repeated for each retransmitted 2xx.
    ack: Option<OutgoingRequest>,
    /// Our 200 to a re-INVITE without SDP carried an offer: its ACK brings the answer.
    answer_due: bool,
    transfer: TransferState,
    actions: VecDeque<Action>,
    ended: bool,
}

/// What an answered call starts with.
#[derive(Debug)]
pub struct Setup {
    pub dialog: Dialog,
    pub session: LocalSession,
    pub local: LocalAddresses,
    pub transport: Transport,
    pub max_duration: Option<std::time::Duration>,
    pub ack: Option<OutgoingRequest>,
}

impl Answered {
    pub fn new(setup: Setup, now: Instant) -> Self {
        Self {
            dialog: setup.dialog,
            session: setup.session,
            local: setup.local,
            transport: setup.transport,
            deadline: setup.max_duration.map(|max| now + max),
            ack: setup.ack,
            answer_due: false,
            transfer: TransferState::default(),
            actions: VecDeque::new(),
            ended: false,
        }
    }
}

impl CallMachine for Answered {
    fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        Some(&mut self.dialog)
    }

    /// Whether the call has ended (its [`Action::End`] is out or queued).
    fn is_done(&self) -> bool {
        self.ended
    }

    fn into_handover(self) -> Option<Handover> {
        None
    }

    /// The phone's media runs for the whole call (keys, the media timeout).
    fn pumps_media(&self) -> bool {
        true
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.deadline,
            self.dialog.poll_timeout(),
            self.transfer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            return self.end(EstablishedEnd::MaxDuration);
        }
        self.transfer_timers(now);
        if let Some(status) = self.transfer.leaving(now) {
            return self.end(EstablishedEnd::Transferred(status));
        }
        self.dialog.handle_timeout(now);
        while let Some(event) = self.dialog.poll_event() {
            if event == DialogEvent::SessionExpired {
                return self.end(EstablishedEnd::SessionExpired);
            }
        }
    }

    fn handle_input(&mut self, now: Instant, input: Input) {
        if self.ended {
            // Late requests still get an answer: the dialog is over (RFC 3261 §15).
            if let Input::Request { id, request } = input
                && request.method != Method::Ack
            {
                let gone = Response::to(&request, 481, None);
                self.actions
                    .push_back(Action::Respond { id, response: gone });
            }
            return;
        }
        match input {
            Input::Request { id, request } => self.request(now, id, request),
            Input::Ack(ack) => {
                if std::mem::take(&mut self.answer_due) {
                    self.apply_answer(&ack);
                }
            }
            Input::NoAck => self.end(EstablishedEnd::NoAck),
            Input::Response(response) => self.response(now, &response),
            Input::RequestFailed {
                method,
                cseq,
                failure,
            } => self.transfer_response(now, &method, cseq, failure.status()),
            Input::Renegotiated {
                id,
                request,
                answer,
                applied,
            } => self.renegotiated(now, id, &request, answer, applied),
            Input::RoomEnded(reason) => self.end(EstablishedEnd::RoomEnded(reason)),
            Input::Key { code, key } => self.actions.push_back(Action::KeyToRoom {
                code: u32::from(code),
                digit: key.to_string(),
            }),
            Input::MediaTimeout => self.end(EstablishedEnd::MediaTimeout),
            Input::Transfer(plan) => self.start_transfer(now, *plan),
            Input::Shutdown => self.end(EstablishedEnd::Shutdown),
            // The set-up's business: a CANCEL after the answer needs nothing (RFC 3261 §9.2).
            Input::Cancelled
            | Input::RoomJoined
            | Input::RoomJoinFailed(_)
            | Input::MediaStarted
            | Input::MediaFailed(_)
            | Input::PinChecked(_)
            | Input::Subscribed
            | Input::ApiGone => {}
            Input::EndCall(headers) => self.end_by_rpc(headers),
        }
    }
}

impl Answered {
    fn response(&mut self, now: Instant, response: &Response) {
        let cseq = &response.head.cseq;
        if cseq.method == Method::Invite && (200..300).contains(&response.code) {
            if let Some(ack) = &self.ack {
                self.actions.push_back(Action::SendAck(ack.clone()));
            }
            return;
        }
        let status = SipStatus::of(response);
        self.transfer_response(now, &cseq.method, cseq.seq, status);
    }

    fn request(&mut self, now: Instant, id: ServerTxId, request: Request) {
        match self.dialog.receive_request(&request, rand::random()) {
            Ok(Verdict::Accept) => {}
            Ok(Verdict::Reject(response)) => {
                let response = *response;
                return self.actions.push_back(Action::Respond { id, response });
            }
            Err(_) => {
                let response = Response::to(&request, 481, None);
                return self.actions.push_back(Action::Respond { id, response });
            }
        }
        let response = match request.method {
            Method::Ack => return,
            Method::Bye => Response::to(&request, 200, None),
            Method::Invite | Method::Update => match self.renegotiate(id, &request) {
                Some(response) => response,
                // The media decides first: answered on Input::Renegotiated.
                None => return,
            },
            Method::Info => self.info(&request),
            Method::Options => Response::to(&request, 200, None),
            // Transfers requested by the phone are not taken up.
            Method::Refer => Response::to(&request, 603, Some("Decline")),
            Method::Notify => self.notify(&request, now),
            _ => Response::to(&request, 501, None),
        };
        self.respond(now, id, &request, response);
        if request.method == Method::Bye {
            self.transfer_peer_bye(now);
            self.end(EstablishedEnd::RemoteBye);
        }
    }

    /// Answers `request` in the dialog (a 2xx to a re-INVITE starts its ACK wait).
    fn respond(&mut self, now: Instant, id: ServerTxId, request: &Request, mut response: Response) {
        if let Err(error) = self.dialog.respond(request, &mut response, now) {
            tracing::debug!(%error, "in-dialog response not applied to the dialog");
        }
        self.actions.push_back(Action::Respond { id, response });
    }

    /// A re-INVITE or UPDATE: its offer goes to the media first (hold, unhold, a new
    /// address), and is answered once applied; without one, our current session is offered
    /// (RFC 3264 §8; an UPDATE without a body is a session refresh, RFC 4028).
    fn renegotiate(&mut self, id: ServerTxId, request: &Request) -> Option<Response> {
        let Some(offer) = sdp_body(&request.head, &request.body) else {
            let mut response = Response::to(request, 200, None);
            if request.method == Method::Invite {
                response.head.content_type = Some("application/sdp".into());
                response.body = Bytes::from(self.session.offer());
                self.answer_due = true;
            }
            return Some(response);
        };
        match parse_sdp(offer).and_then(|offer| self.session.answer(&offer)) {
            Ok((answer, negotiated)) => {
                let reply = Some((id, Box::new(request.clone()), answer));
                self.actions
                    .push_back(Action::Renegotiate { negotiated, reply });
                None
            }
            Err(error) => {
                let (code, reason) = error
                    .sdp_rejection()
                    .map_or((488, "Not Acceptable Here"), |r| (r.status, r.reason));
                Some(Response::to(request, code, Some(reason)))
            }
        }
    }

    fn renegotiated(
        &mut self,
        now: Instant,
        id: ServerTxId,
        request: &Request,
        answer: String,
        applied: bool,
    ) {
        let response = if applied {
            let mut ok = Response::to(request, 200, None);
            ok.head.content_type = Some("application/sdp".into());
            ok.body = Bytes::from(answer);
            ok
        } else {
            Response::to(request, 488, Some("Not Acceptable Here"))
        };
        self.respond(now, id, request, response);
    }

    /// The answer in the ACK to the offer in our 200 (RFC 3264 §8): the phone may pick
    /// another codec, address or direction, which the media follows. An ACK without one
    /// leaves the session as it was.
    fn apply_answer(&mut self, ack: &Request) {
        let Some(answer) = sdp_body(&ack.head, &ack.body) else {
            tracing::info!("the ACK brings no answer to our offer; media unchanged");
            return;
        };
        match parse_sdp(answer).and_then(|answer| self.session.handle_answer(&answer)) {
            Ok(negotiated) => self.actions.push_back(Action::Renegotiate {
                negotiated,
                reply: None,
            }),
            Err(error) => tracing::warn!(%error, "the answer in the ACK was not applied"),
        }
    }

    /// SIP INFO DTMF: a key for the room, or a 4xx saying what was wrong with the body.
    fn info(&mut self, request: &Request) -> Response {
        if request.body.is_empty() {
            // Some UAs send an empty INFO as a keep-alive.
            return Response::to(request, 200, None);
        }
        let content_type = request.head.content_type.as_deref();
        match sipbridge_signaling::info_dtmf::parse_info_dtmf(content_type, &request.body) {
            Ok(dtmf) => {
                self.actions.push_back(Action::KeyToRoom {
                    code: u32::from(dtmf.code),
                    digit: dtmf.key.to_string(),
                });
                Response::to(request, 200, None)
            }
            Err(error) => {
                tracing::debug!(%error, "SIP INFO refused");
                let (code, reason) = error.info_dtmf_rejection().unwrap_or((400, "Bad Request"));
                let mut response = Response::to(request, code, Some(reason));
                if code == 415 {
                    // RFC 3261 §21.4.13: a 415 lists the body types we accept.
                    let accepted = sipbridge_signaling::info_dtmf::ACCEPTED_TYPES;
                    response.head.other.push("Accept", accepted);
                }
                response
            }
        }
    }

    /// `lk.sip.EndCall`: the one end, with the headers the room member gave on its BYE.
    fn end_by_rpc(&mut self, headers: Vec<(String, String)>) {
        self.end(EstablishedEnd::EndCallRpc);
        if let Some(Action::End { phone, .. }) = self.actions.back_mut()
            && *phone == PhoneEnd::Bye
        {
            *phone = PhoneEnd::ByeWith(headers);
        }
    }

    /// The one end: a transfer that succeeded decides the outcome whoever hangs up, and a
    /// transfer still in flight is abandoned.
    fn end(&mut self, end: EstablishedEnd) {
        if self.ended {
            return;
        }
        self.ended = true;
        let hang_up = !matches!(end, EstablishedEnd::RemoteBye);
        let leave_room = !matches!(end, EstablishedEnd::RoomEnded(_));
        self.abandon_transfer();
        let end = self
            .transfer
            .completed()
            .map_or(end, EstablishedEnd::Transferred);
        let phone = if hang_up {
            PhoneEnd::Bye
        } else {
            PhoneEnd::Nothing
        };
        self.actions.push_back(Action::End {
            ending: end.into(),
            detail: String::new(),
            phone,
            leave_room,
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "random_tests.rs"]
mod random_tests;
