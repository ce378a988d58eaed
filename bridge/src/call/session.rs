//! The driver of an answered call: it moves what the sockets, the room, the endpoint and
//! the API say into [`Answered`] and carries out what it decides (`call::answered`), until
//! the call's one ending, delivered through `call::end`. No decisions are taken here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipbridge_media::leg::MediaEvent;
use sipbridge_signaling::dialog::{Dialog, OutgoingRequest};
use sipbridge_signaling::message::Method;
use sipbridge_signaling::outcome::{Direction, DisconnectReason, EstablishedEnd, SipStatus};
use sipbridge_signaling::sdp::LocalSession;
use sipbridge_signaling::transaction::ClientTxId;
use tokio::sync::mpsc;

use super::answered::{Action, Answered, Input, Setup};
use super::context::CallContext;
use super::end::{CallSinks, PhoneClose, deliver};
use super::leg::MediaLeg;
use super::media::StreamStart;
use super::sip::{CallSip, outcome_reason};
use super::transfer::TransferDesk;
use crate::cdr::CallRecord;
use crate::metrics::Metrics;
use crate::room::{Delivery, Payload, RoomEnd, RoomEvent, RoomHandle};
use crate::sip::link::CallInput;

/// Everything an answered call is made of.
#[derive(Debug)]
pub struct Established {
    call: Answered,
    sip: CallSip,
    leg: MediaLeg,
    room: RoomHandle,
    room_events: mpsc::Receiver<RoomEvent>,
    metrics: Arc<Metrics>,
    transfers: TransferDesk,
    /// Requests we sent in the dialog, by transaction: what a timeout or transport error
    /// is about (method and CSeq).
    sent: HashMap<ClientTxId, (Method, u32)>,
}

/// The dialog side of a call just answered, as its set-up leaves it.
#[derive(Debug)]
pub struct DialogParts {
    pub dialog: Dialog,
    pub session: LocalSession,
    pub max_duration: Option<Duration>,
    /// For a call we placed: the ACK of the answer, repeated for each retransmitted 2xx.
    pub ack: Option<OutgoingRequest>,
}

/// How the call ended: what, whether we hang up, whether our participant leaves.
type End = (EstablishedEnd, bool, bool);

impl Established {
    /// The answered call, its clock started now (its timers, `max_call_duration`).
    pub fn new(
        context: &CallContext,
        sip: CallSip,
        leg: MediaLeg,
        (room, room_events): (RoomHandle, mpsc::Receiver<RoomEvent>),
        transfers: TransferDesk,
        parts: DialogParts,
    ) -> Self {
        let setup = Setup {
            dialog: parts.dialog,
            session: parts.session,
            local: context.local.clone(),
            transport: sip.transport,
            max_duration: parts.max_duration,
            ack: parts.ack,
        };
        Self {
            call: Answered::new(setup, Instant::now()),
            sip,
            leg,
            room,
            room_events,
            metrics: context.metrics.clone(),
            transfers,
            sent: HashMap::new(),
        }
    }

    /// Runs the answered call to its end: counted in `active_calls` meanwhile, its
    /// duration observed, its one outcome delivered.
    pub async fn run_to_end(
        mut self,
        context: &CallContext,
        direction: Direction,
        record: CallRecord,
    ) {
        let answered = Instant::now();
        context.metrics.active_calls.inc();
        let (end, hang_up, leave_room) = self.run().await;
        context.metrics.active_calls.dec();
        context
            .metrics
            .call_duration
            .get_or_create(&vec![("direction", direction.as_str())])
            .observe(answered.elapsed().as_secs_f64());
        self.leg.finish(&self.metrics);
        let Established {
            mut call,
            sip,
            room,
            ..
        } = self;
        let phone = if hang_up {
            PhoneClose::Bye(call.dialog_mut())
        } else {
            PhoneClose::Nothing
        };
        let sinks =
            CallSinks::new(context, direction, Some(&sip), record).room(leave_room.then_some(room));
        deliver(&end.into(), "", phone, sinks).await;
    }

    async fn run(&mut self) -> End {
        loop {
            let wake = self
                .call
                .poll_timeout()
                .map_or(self.leg.poll_timeout(), |at| {
                    at.min(self.leg.poll_timeout())
                });
            tokio::select! {
                () = self.leg.receive() => {}
                () = tokio::time::sleep_until(wake.into()) => {}
                event = self.room_events.recv() => self.room_event(event),
                input = self.sip.inputs.recv() => self.sip_input(input),
                plan = self.transfers.order() => {
                    self.call.handle_input(Instant::now(), Input::Transfer(plan));
                }
            }
            let now = Instant::now();
            self.call.handle_timeout(now);
            self.pump_media(now);
            if let Some(end) = self.carry_out().await {
                return end;
            }
        }
    }

    /// Frames and packets out; keys from the phone and the media timeout to the call.
    fn pump_media(&mut self, now: Instant) {
        for event in self.leg.pump(now, Some(&self.room), &self.metrics) {
            let input = match event {
                MediaEvent::Dtmf(key) => Input::PhoneKey {
                    code: key.code,
                    key: key.key,
                },
                MediaEvent::Timeout { .. } => Input::MediaTimeout,
                MediaEvent::SourceChanged(_) | MediaEvent::Latched(_) => continue,
            };
            self.call.handle_input(now, input);
        }
    }

    fn room_event(&mut self, event: Option<RoomEvent>) {
        let now = Instant::now();
        let reason = match event {
            Some(RoomEvent::Audio(audio)) => return self.leg.media.handle_room_audio(now, &audio),
            Some(RoomEvent::TrackRemoved { track_sid, .. }) => {
                return self.leg.media.remove_track(&track_sid);
            }
            Some(RoomEvent::Data(data)) => {
                if let Payload::Dtmf { digit, .. } = &data.payload {
                    self.leg.media.send_dtmf(digit);
                }
                return;
            }
            Some(RoomEvent::Ended(RoomEnd::Removed { reason })) => outcome_reason(reason),
            Some(RoomEvent::Ended(RoomEnd::Lost(detail))) => {
                tracing::warn!(%detail, "lost the room connection");
                DisconnectReason::SignalClose
            }
            Some(RoomEvent::Ended(RoomEnd::Left(_))) | None => DisconnectReason::UnknownReason,
            Some(_) => return,
        };
        self.call.handle_input(now, Input::RoomEnded(reason));
    }

    fn sip_input(&mut self, input: Option<CallInput>) {
        let input = match input {
            Some(CallInput::Request { id, request }) => Input::Request { id, request },
            Some(CallInput::AckReceived { ack, .. }) => Input::Ack(ack),
            Some(CallInput::NoAck { .. }) => Input::NoAck,
            Some(CallInput::Shutdown) => Input::Shutdown,
            Some(CallInput::Response { id, response }) => {
                if response.code >= 200 {
                    self.sent.remove(&id);
                }
                Input::Response(response)
            }
            Some(CallInput::Timeout { id }) => {
                let Some(input) = self.failed(id, SipStatus::no_response()) else {
                    return;
                };
                input
            }
            Some(CallInput::TransportError { id, detail }) => {
                let Some(input) = self.failed(id, SipStatus::transport_failure(&detail)) else {
                    return;
                };
                input
            }
            // The call itself holds a sender, so the queue never closes; CANCEL after the
            // answer needs nothing (RFC 3261 §9.2).
            Some(CallInput::Cancelled { .. }) | None => return,
        };
        self.call.handle_input(Instant::now(), input);
    }

    /// A request we sent failed without a response; `None` for a transaction this call
    /// does not know.
    fn failed(&mut self, id: ClientTxId, status: SipStatus) -> Option<Input> {
        let (method, cseq) = self.sent.remove(&id)?;
        Some(Input::RequestFailed {
            method,
            cseq,
            status,
        })
    }

    /// Carries out the call's actions; the ending, once the call has one.
    async fn carry_out(&mut self) -> Option<End> {
        let mut end = None;
        while let Some(action) = self.call.poll_action() {
            let now = Instant::now();
            match action {
                Action::Respond { id, response } => self.sip.respond(id, response).await,
                Action::Send(request) => {
                    let head = &request.request.head;
                    let sent = (head.cseq.method.clone(), head.cseq.seq);
                    match self.sip.send(request).await {
                        Some(id) => drop(self.sent.insert(id, sent)),
                        None => {
                            let status = SipStatus::transport_failure("request not sent");
                            let (method, cseq) = sent;
                            let input = Input::RequestFailed {
                                method,
                                cseq,
                                status,
                            };
                            self.call.handle_input(now, input);
                        }
                    }
                }
                Action::SendAck(ack) => self.sip.send_ack(ack).await,
                Action::Renegotiate { negotiated, reply } => {
                    let applied =
                        self.leg
                            .media
                            .renegotiate(now, &negotiated, StreamStart::random());
                    if let Err(error) = &applied {
                        tracing::warn!(%error, "new media negotiation not applied");
                    }
                    if let Some((id, request, answer)) = reply {
                        let applied = applied.is_ok();
                        let input = Input::Renegotiated {
                            id,
                            request,
                            answer,
                            applied,
                        };
                        self.call.handle_input(now, input);
                    }
                }
                Action::Prompt(tone) => self.leg.media.set_prompt(tone),
                Action::KeyToRoom { code, digit } => {
                    let payload = Payload::Dtmf { code, digit };
                    if let Err(error) = self
                        .room
                        .send_data(payload, Delivery::Reliable, Vec::new())
                        .await
                    {
                        tracing::debug!(%error, "DTMF not delivered to the room");
                    }
                }
                Action::TransferEnded {
                    transfer_id,
                    end,
                    label,
                } => {
                    self.transfers
                        .ended(&transfer_id, end, label, &self.metrics);
                }
                Action::End {
                    end: ending,
                    hang_up,
                    leave_room,
                } => {
                    end = Some((ending, hang_up, leave_room));
                }
            }
        }
        end
    }
}
