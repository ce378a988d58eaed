//! An answered call: RTP both ways through [`CallMedia`](super::media::CallMedia), the room
//! participant, and the SIP dialog, until one side ends it with an [`EstablishedEnd`]
//! (docs/OUTCOMES.md, "An established call"), delivered through `call::end`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipbridge_media::leg::MediaEvent;
use sipbridge_signaling::dialog::{Dialog, DialogEvent, OutgoingRequest, Verdict};
use sipbridge_signaling::info_dtmf::{ACCEPTED_TYPES, parse_info_dtmf};
use sipbridge_signaling::message::{Method, Request, Response, sdp_body};
use sipbridge_signaling::outcome::{Direction, DisconnectReason, EstablishedEnd, SipStatus};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::ServerTxId;
use tokio::sync::mpsc;

use super::context::CallContext;
use super::end::{ApiAnswer, CallSinks, PhoneClose, deliver};
use super::leg::MediaLeg;
use super::media::StreamStart;
use super::sip::{CallSip, outcome_reason};
use super::transfer::Transfers;
use crate::cdr::CallRecord;
use crate::inbound::LocalAddresses;
use crate::metrics::Metrics;
use crate::room::{Delivery, Payload, RoomEnd, RoomEvent, RoomHandle};
use crate::sip::link::CallInput;

/// Everything an answered call is made of.
#[derive(Debug)]
pub struct Established {
    pub sip: CallSip,
    pub dialog: Dialog,
    pub local: LocalAddresses,
    pub session: LocalSession,
    pub leg: MediaLeg,
    pub room: RoomHandle,
    pub room_events: mpsc::Receiver<RoomEvent>,
    pub max_duration: Option<Duration>,
    pub metrics: Arc<Metrics>,
    /// For a call we placed: the ACK of the answer, repeated for each retransmitted 2xx
    /// (RFC 3261 §13.2.2.4).
    pub ack: Option<OutgoingRequest>,
    /// Transfers the API asks for (`call/transfer.rs`).
    pub transfers: Transfers,
    /// Our 200 to a re-INVITE without SDP carried an offer: its ACK brings the answer.
    pub answer_due: bool,
}

/// How the loop ended, before the BYE and the departure.
#[derive(Debug)]
enum Ending {
    End(EstablishedEnd),
    /// A transfer succeeded (with this final sipfrag status) and the peer did not hang up
    /// within the grace.
    Transferred(SipStatus),
}

impl Established {
    /// Runs the answered call to its end: counted in `active_calls` meanwhile, its
    /// duration observed, its record written with the outcome.
    pub async fn run_to_end(self, context: &CallContext, direction: Direction, record: CallRecord) {
        self.run_to_end_with(context, direction, record, None).await;
    }

    /// [`Established::run_to_end`] for a call whose API caller may still be waiting (when
    /// the answer was not yet given, `api` hears the outcome).
    pub async fn run_to_end_with(
        mut self,
        context: &CallContext,
        direction: Direction,
        record: CallRecord,
        api: Option<ApiAnswer>,
    ) {
        let answered = Instant::now();
        context.metrics.active_calls.inc();
        let ending = self.run().await;
        context.metrics.active_calls.dec();
        context
            .metrics
            .call_duration
            .get_or_create(&vec![("direction", direction.as_str())])
            .observe(answered.elapsed().as_secs_f64());
        self.leg.finish(&self.metrics);
        self.abandon_transfer(Instant::now());
        let end = match ending {
            Ending::End(end) => end,
            Ending::Transferred(status) => EstablishedEnd::Transferred(status),
        };
        // After a successful transfer the outcome is the transfer's, whoever hangs up.
        let (phone_hung_up, room_gone) = (
            matches!(end, EstablishedEnd::RemoteBye),
            matches!(end, EstablishedEnd::RoomEnded(_)),
        );
        let end = self
            .transfers
            .completed()
            .map_or(end, EstablishedEnd::Transferred);
        let Established {
            sip,
            mut dialog,
            room,
            ..
        } = self;
        let phone = if phone_hung_up {
            PhoneClose::Nothing
        } else {
            PhoneClose::Bye(&mut dialog)
        };
        let sinks = CallSinks::new(context, direction, Some(&sip), record)
            .room((!room_gone).then_some(room))
            .api(api);
        deliver(&end.into(), "", phone, sinks).await;
    }

    async fn run(&mut self) -> Ending {
        let started = Instant::now();
        let deadline = self.max_duration.map(|max| started + max);
        loop {
            let mut wake = self.leg.poll_timeout();
            let timers = [
                self.dialog.poll_timeout(),
                deadline,
                self.transfers.poll_timeout(),
            ];
            for timer in timers.into_iter().flatten() {
                wake = wake.min(timer);
            }
            tokio::select! {
                () = self.leg.receive() => {}
                () = tokio::time::sleep_until(wake.into()) => {}
                event = self.room_events.recv() => {
                    if let Some(ending) = self.handle_room_event(event) {
                        break ending;
                    }
                }
                input = self.sip.inputs.recv() => {
                    if let Some(ending) = self.handle_sip(input).await {
                        break ending;
                    }
                }
                command = self.transfers.command() => {
                    self.handle_command(command, Instant::now()).await;
                }
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                break Ending::End(EstablishedEnd::MaxDuration);
            }
            self.transfer_timers(now);
            if let Some(status) = self.transfers.leaving(now) {
                break Ending::Transferred(status);
            }
            if let Some(ending) = self.run_media(now).await {
                break ending;
            }
            self.dialog.handle_timeout(now);
            if let Some(ending) = self.dialog_events() {
                break ending;
            }
        }
    }

    /// Frames and packets out; DTMF from the phone to the room; the media timeout.
    async fn run_media(&mut self, now: Instant) -> Option<Ending> {
        let mut digits = Vec::new();
        for event in self.leg.pump(now, Some(&self.room), &self.metrics) {
            match event {
                MediaEvent::Dtmf(key) => digits.push(Payload::Dtmf {
                    code: u32::from(key.code),
                    digit: key.key.to_string(),
                }),
                MediaEvent::Timeout { .. } => {
                    return Some(Ending::End(EstablishedEnd::MediaTimeout));
                }
                MediaEvent::SourceChanged(_) | MediaEvent::Latched(_) => {}
            }
        }
        for payload in digits {
            if let Err(error) = self
                .room
                .send_data(payload, Delivery::Reliable, Vec::new())
                .await
            {
                tracing::debug!(%error, "DTMF not delivered to the room");
            }
        }
        None
    }

    fn handle_room_event(&mut self, event: Option<RoomEvent>) -> Option<Ending> {
        let now = Instant::now();
        match event {
            Some(RoomEvent::Audio(audio)) => self.leg.media.handle_room_audio(now, &audio),
            Some(RoomEvent::TrackRemoved { track_sid, .. }) => {
                self.leg.media.remove_track(&track_sid)
            }
            Some(RoomEvent::Data(data)) => {
                if let Payload::Dtmf { digit, .. } = &data.payload {
                    self.leg.media.send_dtmf(digit);
                }
            }
            Some(RoomEvent::Ended(RoomEnd::Removed { reason })) => {
                return Some(Ending::End(EstablishedEnd::RoomEnded(outcome_reason(
                    reason,
                ))));
            }
            Some(RoomEvent::Ended(RoomEnd::Lost(detail))) => {
                tracing::warn!(%detail, "lost the room connection");
                let reason = DisconnectReason::SignalClose;
                return Some(Ending::End(EstablishedEnd::RoomEnded(reason)));
            }
            Some(RoomEvent::Ended(RoomEnd::Left(_))) | None => {
                let reason = DisconnectReason::UnknownReason;
                return Some(Ending::End(EstablishedEnd::RoomEnded(reason)));
            }
            Some(_) => {}
        }
        None
    }

    async fn handle_sip(&mut self, input: Option<CallInput>) -> Option<Ending> {
        match input? {
            CallInput::Request { id, request } => self.handle_request(id, request).await,
            CallInput::NoAck { .. } => Some(Ending::End(EstablishedEnd::NoAck)),
            CallInput::Shutdown => Some(Ending::End(EstablishedEnd::Shutdown)),
            CallInput::Response { response, .. }
                if response.code >= 200
                    && response.code < 300
                    && response.head.cseq.method == Method::Invite =>
            {
                if let Some(ack) = &self.ack {
                    self.sip.send_ack(ack.clone()).await;
                }
                None
            }
            // Responses to our other in-dialog requests: only the REFER's matter.
            CallInput::Response { id, response } => {
                let status = SipStatus::of(&response);
                self.transfer_response(id, status, Instant::now());
                None
            }
            CallInput::Timeout { id } => {
                self.transfer_response(id, SipStatus::no_response(), Instant::now());
                None
            }
            CallInput::TransportError { id, detail } => {
                let status = SipStatus::transport_failure(&detail);
                self.transfer_response(id, status, Instant::now());
                None
            }
            CallInput::AckReceived { ack, .. } => {
                if std::mem::take(&mut self.answer_due) {
                    self.apply_answer(Instant::now(), &ack);
                }
                None
            }
            CallInput::Cancelled { .. } => None,
        }
    }

    async fn handle_request(&mut self, id: ServerTxId, request: Request) -> Option<Ending> {
        let now = Instant::now();
        match self.dialog.receive_request(&request, rand::random()) {
            Ok(Verdict::Accept) => {}
            Ok(Verdict::Reject(response)) => {
                self.sip.respond(id, *response).await;
                return None;
            }
            Err(_) => {
                self.sip
                    .respond(id, Response::to(&request, 481, None))
                    .await;
                return None;
            }
        }
        let mut response = match request.method {
            Method::Ack => return None,
            Method::Bye => Response::to(&request, 200, None),
            Method::Invite | Method::Update => self.renegotiate(now, &request),
            Method::Info => self.dtmf_info(&request).await,
            Method::Options => Response::to(&request, 200, None),
            // Transfers requested by the phone are not taken up.
            Method::Refer => Response::to(&request, 603, Some("Decline")),
            Method::Notify => self.notify(&request, now),
            _ => Response::to(&request, 501, None),
        };
        if let Err(error) = self.dialog.respond(&request, &mut response, now) {
            tracing::debug!(%error, "in-dialog response not applied to the dialog");
        }
        self.sip.respond(id, response).await;
        if request.method != Method::Bye {
            return None;
        }
        self.transfer_peer_bye(now);
        Some(Ending::End(EstablishedEnd::RemoteBye))
    }

    /// A re-INVITE or UPDATE: answer its offer (hold, unhold, a new address) or, without
    /// one, offer our current session (RFC 3264 §8; an UPDATE without a body is a session
    /// refresh, RFC 4028).
    fn renegotiate(&mut self, now: Instant, request: &Request) -> Response {
        let Some(offer) = sdp_body(&request.head, &request.body) else {
            let mut response = Response::to(request, 200, None);
            if request.method == Method::Invite {
                response.head.content_type = Some("application/sdp".into());
                response.body = Bytes::from(self.session.offer());
                self.answer_due = true;
            }
            return response;
        };
        let answered = parse_sdp(offer).and_then(|offer| self.session.answer(&offer));
        match answered {
            Ok((answer, negotiated)) => {
                let start = StreamStart::random();
                if let Err(error) = self.leg.media.renegotiate(now, &negotiated, start) {
                    tracing::warn!(%error, "re-INVITE media not applied");
                    return Response::to(request, 488, Some("Not Acceptable Here"));
                }
                let mut response = Response::to(request, 200, None);
                response.head.content_type = Some("application/sdp".into());
                response.body = Bytes::from(answer);
                response
            }
            Err(error) => {
                let (code, reason) = error
                    .sdp_rejection()
                    .map_or((488, "Not Acceptable Here"), |r| (r.status, r.reason));
                Response::to(request, code, Some(reason))
            }
        }
    }

    /// The answer in the ACK to the offer in our 200 (RFC 3264 §8: a re-INVITE without SDP,
    /// e.g. a PBX's session refresh): the phone may pick another codec, address or
    /// direction, which the media follows. An ACK without one leaves the session as it was
    /// (RFC 3261 §13.2.1 would have the phone hang up).
    fn apply_answer(&mut self, now: Instant, ack: &Request) {
        let Some(answer) = sdp_body(&ack.head, &ack.body) else {
            tracing::info!("the ACK brings no answer to our offer; media unchanged");
            return;
        };
        let negotiated = parse_sdp(answer).and_then(|answer| self.session.handle_answer(&answer));
        let applied = match negotiated {
            Ok(negotiated) => self
                .leg
                .media
                .renegotiate(now, &negotiated, StreamStart::random())
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = applied {
            tracing::warn!(%error, "the answer in the ACK was not applied");
        }
    }

    /// SIP INFO DTMF (`application/dtmf-relay`, `Signal=5`), as some PBXs send it.
    async fn dtmf_info(&mut self, request: &Request) -> Response {
        // An INFO without a body carries no key (some UAs send one to probe the dialog).
        if request.body.is_empty() {
            return Response::to(request, 200, None);
        }
        match parse_info_dtmf(request.head.content_type.as_deref(), &request.body) {
            Ok(dtmf) => {
                let payload = Payload::Dtmf {
                    code: u32::from(dtmf.code),
                    digit: dtmf.key.to_string(),
                };
                let _ = self
                    .room
                    .send_data(payload, Delivery::Reliable, Vec::new())
                    .await;
                Response::to(request, 200, None)
            }
            Err(error) => {
                tracing::debug!(%error, "INFO DTMF refused");
                let (code, reason) = error.info_dtmf_rejection().unwrap_or((400, "Bad Request"));
                let mut response = Response::to(request, code, Some(reason));
                if code == 415 {
                    // RFC 3261 §21.4.13: a 415 lists the body types we accept.
                    response.head.other.push("Accept", ACCEPTED_TYPES);
                }
                response
            }
        }
    }

    fn dialog_events(&mut self) -> Option<Ending> {
        while let Some(event) = self.dialog.poll_event() {
            if event == DialogEvent::SessionExpired {
                return Some(Ending::End(EstablishedEnd::SessionExpired));
            }
        }
        None
    }
}
