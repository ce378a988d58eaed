//! What a call waits for: the room join, the SIP inputs, the room's events, the API caller
//! leaving, a transfer order, the phone's media and the clocks; each becomes the machine's
//! input.

use std::time::Instant;

use sipbridge_media::leg::MediaEvent;
use sipbridge_signaling::message::Method;
use sipbridge_signaling::outcome::DisconnectReason;

use super::pin_check::until_checked;
use super::ringback::Ringback;
use super::rpc::{self, Asked};
use super::sip_side::sleep;
use super::{ApiWaiter, Driver, Joined, Joining};
use crate::call::leg::MediaLeg;
use crate::call::machine::{CallMachine, Input};
use crate::call::order::TransferPlan;
use crate::call::sip::outcome_reason;
use crate::call::transfer::TransferDesk;
use crate::room::{Delivery, JoinError, Payload, ReceivedData, RoomEnd, RoomEvent, RpcRequest};

impl Driver {
    /// Waits for what happens next and hands it to the machine; then its clock, the
    /// media and the ringback.
    pub(super) async fn next_input(&mut self, machine: &mut impl CallMachine) {
        let pumping = machine.pumps_media() && self.leg.is_some();
        let wake = self.wake(machine, pumping);
        let listening = !self.room_ended && self.room.is_some();
        let input = tokio::select! {
            joined = until_joined(&mut self.joining) => {
                self.joining = None;
                match joined {
                    Ok(joined) => {
                        self.room = Some(joined);
                        Some(Input::RoomJoined)
                    }
                    Err(error) => Some(Input::RoomJoinFailed(error.to_string())),
                }
            }
            verdict = until_checked(&mut self.pin_checking) => {
                self.pin_checking = None;
                Some(self.pin_verdict(verdict))
            }
            input = self.sip.sip.inputs.recv() => {
                let input = input.and_then(|input| self.sip.input(input));
                self.keep_remote_answer(input.as_ref());
                input
            }
            event = room_event(self.room.as_mut()), if listening => self.room_event(event).await,
            plan = transfer_order(self.transfers.as_mut()) => Some(Input::Transfer(plan)),
            () = api_gone(self.api.as_mut()) => {
                // Nobody is left to answer.
                self.api = None;
                Some(Input::ApiGone)
            }
            () = MediaLeg::receive_if_any(self.leg.as_mut().filter(|_| pumping)) => None,
            () = sleep(wake) => None,
        };
        let now = Instant::now();
        if let Some(input) = input {
            machine.handle_input(now, input);
        }
        machine.handle_timeout(now);
        if pumping {
            self.pump_media(machine, now);
        }
        if let (Some(ringback), Some((room, _))) = (&mut self.ringback, &self.room) {
            ringback.tick(now, room);
        }
    }

    /// The machine's clock, the media's and the ringback's.
    fn wake(&self, machine: &impl CallMachine, pumping: bool) -> Option<Instant> {
        let media = self
            .leg
            .as_ref()
            .filter(|_| pumping)
            .map(MediaLeg::poll_timeout);
        let ringback = self.ringback.as_ref().map(Ringback::poll_timeout);
        [machine.poll_timeout(), media, ringback]
            .into_iter()
            .flatten()
            .min()
    }

    /// Frames and packets out (to the room once joined); keys and the media timeout in.
    fn pump_media(&mut self, machine: &mut impl CallMachine, now: Instant) {
        let Some(leg) = &mut self.leg else {
            return;
        };
        let room = self.room.as_ref().map(|(room, _)| room);
        for event in leg.pump(now, room, &self.context.metrics) {
            match event {
                MediaEvent::Dtmf(key) => {
                    let (code, key) = (key.code, key.key);
                    machine.handle_input(now, Input::Key { code, key });
                }
                MediaEvent::Timeout { .. } => machine.handle_input(now, Input::MediaTimeout),
                MediaEvent::SourceChanged(_) | MediaEvent::Latched(_) => {}
            }
        }
    }

    /// Room audio reaches the phone once its media runs; the room ending our participant
    /// goes to the machine; participant RPCs are answered whatever the phase.
    async fn room_event(&mut self, event: Option<RoomEvent>) -> Option<Input> {
        if let Some(RoomEvent::Data(ReceivedData {
            payload: Payload::RpcRequest(request),
            from_identity,
            ..
        })) = event
        {
            return self.answer_rpc(from_identity, request).await;
        }
        let now = Instant::now();
        let reason = match (event, self.leg.as_mut()) {
            (Some(RoomEvent::Audio(audio)), Some(leg)) => {
                leg.media.handle_room_audio(now, &audio);
                return None;
            }
            (Some(RoomEvent::TrackRemoved { track_sid, .. }), Some(leg)) => {
                leg.media.remove_track(&track_sid);
                return None;
            }
            // The room's keys reach the phone once it answered (the call is then listed
            // for transfers).
            (Some(RoomEvent::Data(data)), Some(leg)) if self.transfers.is_some() => {
                if let Payload::Dtmf { digit, .. } = &data.payload {
                    leg.media.send_dtmf(digit);
                }
                return None;
            }
            (Some(RoomEvent::Subscribed), _) => return Some(Input::Subscribed),
            (Some(RoomEvent::OwnAttributes(attributes)), _) => {
                self.own_attributes = attributes;
                return None;
            }
            (Some(RoomEvent::Ended(RoomEnd::Removed { reason })), _) => outcome_reason(reason),
            (Some(RoomEvent::Ended(RoomEnd::Lost(detail))), _) => {
                tracing::warn!(%detail, "lost the room connection");
                DisconnectReason::SignalClose
            }
            (Some(RoomEvent::Ended(RoomEnd::Left(_))) | None, _) => DisconnectReason::UnknownReason,
            (Some(_), _) => return None,
        };
        self.room_ended = true;
        Some(Input::RoomEnded(reason))
    }
}

async fn until_joined(joining: &mut Option<Joining>) -> Result<Joined, JoinError> {
    match joining {
        Some(joining) => joining.await,
        None => std::future::pending().await,
    }
}

async fn room_event(room: Option<&mut Joined>) -> Option<RoomEvent> {
    match room {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn transfer_order(transfers: Option<&mut TransferDesk>) -> Box<TransferPlan> {
    match transfers {
        Some(transfers) => transfers.order().await,
        None => std::future::pending().await,
    }
}

async fn api_gone(waiter: Option<&mut Box<dyn ApiWaiter>>) {
    match waiter {
        Some(waiter) => waiter.gone().await,
        None => std::future::pending().await,
    }
}

impl Driver {
    /// The far end's 2xx to our INVITE, for `lk.sip.GetRemoteHeaders` (the first one: a
    /// retransmission repeats it).
    fn keep_remote_answer(&mut self, input: Option<&Input>) {
        if let Some(Input::Response(response)) = input
            && response.head.cseq.method == Method::Invite
            && (200..300).contains(&response.code)
            && self.remote_answer.is_none()
        {
            self.remote_answer = Some(response.to_bytes());
        }
    }

    /// A participant RPC: acked at once (the caller's SDK waits for that first), then
    /// answered; `lk.sip.EndCall` then goes to the machine, once its answer is out.
    async fn answer_rpc(&mut self, from: String, request: RpcRequest) -> Option<Input> {
        let (room, _) = self.room.as_ref()?;
        let to_caller = || vec![from.clone()];
        let ack = Payload::RpcAck {
            request_id: request.id.clone(),
        };
        if let Err(error) = room.send_data(ack, Delivery::Reliable, to_caller()).await {
            tracing::debug!(%error, "RPC ack not delivered");
        }
        let remote = match &self.inbound {
            Some(inbound) => Some(inbound.invite.to_bytes()),
            None => self.remote_answer.clone(),
        };
        let (result, input) = match rpc::ask(&request, remote.as_deref()) {
            Asked::Answer(result) => (result, None),
            Asked::EndCall(headers) => (Ok("{}".to_owned()), Some(Input::EndCall(headers))),
        };
        tracing::info!(method = request.method, %from, ok = result.is_ok(), "participant RPC");
        let response = Payload::RpcResponse {
            request_id: request.id,
            result,
        };
        if let Err(error) = room
            .send_data(response, Delivery::Reliable, to_caller())
            .await
        {
            tracing::debug!(%error, "RPC response not delivered");
        }
        input
    }
}
