//! The driver of an inbound call's set-up: it runs [`Setup`] (`inbound::setup`), carrying
//! its actions out (responses, the media, the room join, prompts) and feeding back what the
//! phone, the room and the media say, until the call is answered with the caller in the
//! room, or stops. No decisions are taken here.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use sipbridge_media::leg::MediaEvent;
use sipbridge_signaling::message::Response;
use sipbridge_signaling::outcome::SetupFailure;
use sipbridge_signaling::sdp::{LocalSession, Negotiated};
use sipbridge_signaling::transaction::ServerTxId;

use super::admit::Admitted;
use super::call::{InboundCall, Step, Stop};
use super::identity::{admitted_info, participant};
use super::routing::{CallAddress, pin, room_name};
use super::setup::{Action, Input, Params, Setup};
use crate::call::leg::MediaLeg;
use crate::call::media::CallMedia;
use crate::call::settings::{codec_name, codec_preferences};
use crate::cdr::now_ns;
use crate::room::{JoinError, JoinRequest, RoomEvent, RoomHandle, join};
use crate::sip::link::CallInput;

/// A room join under way.
type Joining<'a> = Pin<
    Box<
        dyn Future<Output = Result<(RoomHandle, tokio::sync::mpsc::Receiver<RoomEvent>), JoinError>>
            + Send
            + 'a,
    >,
>;

impl InboundCall {
    /// Media, dialog, room: everything up to the answered call with the caller in the room.
    /// Returns the SDP session for the answered call.
    pub(super) async fn set_up(&mut self, admitted: &Admitted<'_>) -> Step<LocalSession> {
        let suffix = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let address = CallAddress {
            source: self.source.ip(),
            called: &admitted.called,
            caller: &admitted.caller,
        };
        let room = room_name(admitted.rule, address, &suffix);
        self.record
            .update(|info| admitted_info(info, admitted, &room));
        let Some(sockets) = self.context.ports.allocate().await else {
            return Err(Stop::new(SetupFailure::NoRtpPort, "no free RTP port"));
        };
        let rtp_addr = SocketAddr::new(self.context.local.rtp_ip, sockets.rtp_port());
        self.sockets = Some(sockets);
        let preferences = codec_preferences(&self.context.config.rtp);
        let session = LocalSession::new(rand::random::<u32>().into(), rtp_addr, preferences);
        let params = Params {
            invite: self.invite.clone(),
            id: self.id,
            local_tag: self.local_tag.clone(),
            contact: self.context.local.contact(self.sip.transport),
            server: self.context.config.sip.user_agent.clone(),
            warning_host: self.context.local.sip_ip.to_string(),
            pin: pin(admitted.rule).map(str::to_owned),
            pin_timeout: admitted.rule.ringing_timeout.0,
        };
        let caller = self.join_request(admitted, &room);
        let mut setup = Setup::new(params, session, Instant::now());
        let ready = self.drive(&mut setup, caller, &room).await;
        let (dialog, session) = setup.into_parts().unzip();
        self.dialog = dialog;
        ready?;
        session.ok_or_else(|| Stop::new(SetupFailure::RoomJoinFailed, "no dialog"))
    }

    /// The caller as a participant of `room`.
    fn join_request(&mut self, admitted: &Admitted<'_>, room: &str) -> JoinRequest {
        let who = participant(&self.invite, admitted, room, &self.record);
        let identity = who.identity.clone();
        self.record
            .update(|info| info.participant_identity = identity);
        JoinRequest {
            room: room.to_owned(),
            who,
        }
    }

    /// Runs the set-up until it is ready or stops.
    async fn drive(&mut self, setup: &mut Setup, caller: JoinRequest, room: &str) -> Step<()> {
        let context = self.context.clone();
        let mut request = Some(caller);
        let mut joining: Option<Joining<'_>> = None;
        let mut deferred = Vec::new();
        loop {
            while let Some(action) = setup.poll_action() {
                let now = Instant::now();
                match action {
                    Action::Respond { id, response } => self.respond(id, response).await,
                    Action::StartMedia(negotiated) => {
                        let input = match self.start_media(now, &negotiated, room) {
                            Ok(()) => Input::MediaStarted,
                            Err(detail) => Input::MediaFailed(detail),
                        };
                        setup.handle_input(now, input);
                    }
                    Action::JoinRoom => {
                        joining = request
                            .take()
                            .map(|request| Box::pin(join(&context.room, request)) as Joining<'_>);
                    }
                    Action::Prompt(tone) => {
                        if let Some(leg) = &mut self.leg {
                            leg.media.set_prompt(tone);
                        }
                    }
                    Action::Defer { id, request } => {
                        deferred.push(CallInput::Request { id, request });
                    }
                    Action::Ready => {
                        // What came before the ACK is the answered call's first business.
                        self.sip.requeue(std::mem::take(&mut deferred));
                        return Ok(());
                    }
                    Action::End {
                        ending,
                        detail,
                        phone,
                    } => {
                        return Err(Box::new(Stop {
                            ending,
                            detail,
                            phone,
                        }));
                    }
                }
            }
            self.next_input(setup, &mut joining).await;
        }
    }

    /// Waits for what happens next and hands it to the set-up.
    async fn next_input(&mut self, setup: &mut Setup, joining: &mut Option<Joining<'_>>) {
        let pumping = setup.pumps_media() && self.leg.is_some();
        let mut wake = setup.poll_timeout();
        if let (true, Some(leg)) = (pumping, &self.leg) {
            wake = Some(wake.map_or(leg.poll_timeout(), |at| at.min(leg.poll_timeout())));
        }
        let input = tokio::select! {
            joined = until_joined(joining) => {
                *joining = None;
                match joined {
                    Ok(joined) => {
                        self.room = Some(joined);
                        Some(Input::RoomJoined)
                    }
                    Err(error) => Some(Input::RoomJoinFailed(error.to_string())),
                }
            }
            input = self.sip.inputs.recv() => sip_input(input),
            () = MediaLeg::receive_if_any(self.leg.as_mut().filter(|_| pumping)) => None,
            () = sleep(wake) => None,
        };
        let now = Instant::now();
        if let Some(input) = input {
            setup.handle_input(now, input);
        }
        setup.handle_timeout(now);
        if pumping && let Some(leg) = &mut self.leg {
            for event in leg.pump(now, None, &self.context.metrics) {
                match event {
                    MediaEvent::Dtmf(key) => setup.handle_input(now, Input::Key(key.key)),
                    MediaEvent::Timeout { .. } => setup.handle_input(now, Input::MediaTimeout),
                    MediaEvent::SourceChanged(_) | MediaEvent::Latched(_) => {}
                }
            }
        }
    }

    /// Sends a response; the INVITE's final ones are counted, and its 200 starts the call.
    async fn respond(&mut self, id: ServerTxId, response: Response) {
        if id == self.id && response.code >= 200 {
            self.context.metrics.inbound_invite(response.code);
            if response.code < 300 {
                self.record.update(|info| info.started_at_ns = now_ns());
            }
        }
        self.sip.respond(id, response).await;
    }

    /// The pipeline for the negotiated leg on the call's RTP sockets; its codec goes in the
    /// record.
    fn start_media(
        &mut self,
        now: Instant,
        negotiated: &Negotiated,
        room: &str,
    ) -> Result<(), String> {
        let codec = codec_name(negotiated.codec);
        self.record
            .update(|info| info.audio_codec = codec.to_owned());
        let media = CallMedia::for_leg(now, negotiated, &self.context.config.rtp, room)
            .map_err(|error| error.to_string())?;
        let sockets = self.sockets.take().ok_or("the RTP sockets are in use")?;
        self.leg = Some(MediaLeg::new(media, sockets, now));
        Ok(())
    }
}

/// The set-up's view of a SIP input (retransmissions and the like are the transaction
/// layer's business). The call holds a sender itself, so its queue does not close.
fn sip_input(input: Option<CallInput>) -> Option<Input> {
    match input? {
        CallInput::Request { id, request } => Some(Input::Request { id, request }),
        CallInput::Cancelled { .. } => Some(Input::Cancelled),
        CallInput::AckReceived { ack, .. } => Some(Input::Ack(ack)),
        CallInput::NoAck { .. } => Some(Input::NoAck),
        CallInput::Shutdown => Some(Input::Shutdown),
        CallInput::Response { .. }
        | CallInput::Timeout { .. }
        | CallInput::TransportError { .. } => None,
    }
}

async fn until_joined(
    joining: &mut Option<Joining<'_>>,
) -> Result<(RoomHandle, tokio::sync::mpsc::Receiver<RoomEvent>), JoinError> {
    match joining {
        Some(joining) => joining.await,
        None => std::future::pending().await,
    }
}

async fn sleep(until: Option<Instant>) {
    match until {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
