//! The answering half of an inbound call's set-up: the SDP answer and its media, the room
//! join while the phone rings (or after the PIN), the 200, the ACK that may carry the
//! phone's answer, and the hand-over to the established call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipbridge_signaling::Error;
use sipbridge_signaling::message::{Response, sdp_body};
use sipbridge_signaling::outcome::{
    CallStatus, Direction, EstablishedEnd, InboundRejection, SetupFailure,
};
use sipbridge_signaling::screen::{ALLOWED_METHODS, SUPPORTED};
use sipbridge_signaling::sdp::{LocalSession, Negotiated, parse as parse_sdp};
use tokio::sync::mpsc;

use super::admit::Admitted;
use super::call::{InboundCall, Step, Stop};
use super::identity::participant;
use super::pin::collect_pin;
use crate::call::answered::{Answered, Setup};
use crate::call::leg::MediaLeg;
use crate::call::media::CallMedia;
use crate::call::ports::RtpSockets;
use crate::call::session::Established;
use crate::call::settings::codec_name;
use crate::call::transfer::TransferDesk;
use crate::cdr::now_ns;
use crate::room::{JoinRequest, RoomEvent, attributes, join};
use crate::sip::link::CallInput;

/// A call answered with the caller in the room: what the established call is made of,
/// beside what [`InboundCall`] holds.
#[derive(Debug)]
pub(super) struct Ready {
    pub session: LocalSession,
    pub room_events: mpsc::Receiver<RoomEvent>,
    pub max_duration: Option<Duration>,
}

impl InboundCall {
    /// Our SDP for the 200 (an answer, or our offer when the INVITE had none: RFC 3261
    /// §13.2.1's delayed offer, the default of Cisco gateways) and, with an answer, its
    /// media.
    pub(super) fn offer_answer(
        &mut self,
        session: &mut LocalSession,
        room: &str,
    ) -> Step<(String, Option<CallMedia>)> {
        let Some(offer) = sdp_body(&self.invite.head, &self.invite.body) else {
            return Ok((session.offer(), None));
        };
        let (answer, negotiated) = parse_sdp(offer)
            .and_then(|offer| session.answer(&offer))
            .map_err(|error| self.refuse_offer(&error))?;
        let media = self.media_for(&negotiated, room)?;
        Ok((answer, Some(media)))
    }

    /// An offer we cannot take: 488 (or what the SDP fault calls for) with a Warning saying
    /// which problem it was (RFC 3261 §20.43), for the carrier's logs.
    fn refuse_offer(&self, error: &Error) -> Box<Stop> {
        tracing::info!(%error, "inbound offer refused");
        let rejection = error.sdp_rejection();
        let mut stop = Stop::new(InboundRejection::bad_offer(rejection), error.to_string());
        if let Some(r) = rejection
            && let Some(code) = r.warning
        {
            let host = self.context.local.sip_ip;
            let warning = format!("{code} {host} \"{}\"", r.reason);
            stop.headers.push(("Warning", warning));
        }
        stop
    }

    /// The pipeline for the negotiated leg; its codec goes in the record.
    fn media_for(&mut self, negotiated: &Negotiated, room: &str) -> Step<CallMedia> {
        let codec = codec_name(negotiated.codec);
        self.record
            .update(|info| info.audio_codec = codec.to_owned());
        CallMedia::for_leg(Instant::now(), negotiated, &self.context.config.rtp, room)
            .map_err(|error| Stop::new(SetupFailure::RoomJoinFailed, error.to_string()))
    }

    /// The caller as a participant of `room`.
    pub(super) fn join_request(&mut self, admitted: &Admitted<'_>, room: &str) -> JoinRequest {
        let who = participant(&self.invite, admitted, room, &self.record);
        let identity = who.identity.clone();
        self.record
            .update(|info| info.participant_identity = identity);
        JoinRequest {
            room: room.to_owned(),
            who,
        }
    }

    /// With a PIN: 200 at once, the PIN, then the room.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn answer_then_pin(
        &mut self,
        ok: Response,
        pin: &str,
        timeout: Duration,
        media: Option<CallMedia>,
        sockets: RtpSockets,
        session: &mut LocalSession,
        request: JoinRequest,
    ) -> Step<mpsc::Receiver<RoomEvent>> {
        self.answered(ok).await;
        let media = match media {
            Some(media) => media,
            None => self.media_from_ack(session, &request.room).await?,
        };
        let mut leg = MediaLeg::new(media, sockets, Instant::now());
        let Some(dialog) = self.dialog.as_mut() else {
            return Err(Stop::new(InboundRejection::NoDialog, "no dialog"));
        };
        let metrics = &self.context.metrics;
        let collected = collect_pin(pin, &mut leg, &mut self.sip, dialog, timeout, metrics).await;
        self.leg = Some(leg);
        if let Err(failed) = collected {
            self.phone_gone = failed.phone_gone;
            return Err(Stop::new(failed.ending, "PIN not entered"));
        }
        let (room, events) = join(&self.context.room, request)
            .await
            .map_err(|error| Stop::new(SetupFailure::RoomJoinFailed, error.to_string()))?;
        self.room = Some(room);
        Ok(events)
    }

    /// Without a PIN: 180 while the caller joins the room, then 200.
    pub(super) async fn ring_then_answer(
        &mut self,
        ringing: Response,
        mut ok: Response,
        media: Option<CallMedia>,
        sockets: RtpSockets,
        session: &mut LocalSession,
        request: JoinRequest,
    ) -> Step<mpsc::Receiver<RoomEvent>> {
        self.sip.respond(self.id, ringing).await;
        let room = request.room.clone();
        let events = self.join_while_ringing(request).await?;
        if let Some(dialog) = self.dialog.as_mut()
            && let Err(error) = dialog.respond(&self.invite, &mut ok, Instant::now())
        {
            tracing::warn!(%error, "200 OK not applied to the dialog");
        }
        self.answered(ok).await;
        let media = match media {
            Some(media) => media,
            None => self.media_from_ack(session, &room).await?,
        };
        self.leg = Some(MediaLeg::new(media, sockets, Instant::now()));
        Ok(events)
    }

    async fn answered(&mut self, ok: Response) {
        self.answer_invite(ok).await;
        self.answered = true;
        self.record.update(|info| info.started_at_ns = now_ns());
    }

    /// Joins the room while the phone rings; a CANCEL (then 487, RFC 3261 §9.2) or a
    /// shutdown ends it first.
    async fn join_while_ringing(
        &mut self,
        request: JoinRequest,
    ) -> Step<mpsc::Receiver<RoomEvent>> {
        let joining = join(&self.context.room, request);
        tokio::pin!(joining);
        loop {
            tokio::select! {
                joined = &mut joining => {
                    let (room, events) = joined
                        .map_err(|error| Stop::new(SetupFailure::RoomJoinFailed, error.to_string()))?;
                    self.room = Some(room);
                    return Ok(events);
                }
                input = self.sip.inputs.recv() => match input {
                    Some(CallInput::Shutdown) => {
                        return Err(Stop::new(EstablishedEnd::Shutdown, "shut down while joining"));
                    }
                    Some(CallInput::Cancelled { .. }) | None => {
                        return Err(Stop::new(InboundRejection::CallerCancelled, ""));
                    }
                    // Retransmissions and the like are the transaction layer's business.
                    Some(_) => {}
                }
            }
        }
    }

    /// Delayed offer: waits for the ACK of our 200, whose body answers the offer in it, and
    /// builds the media from that. Requests that come first wait for the established call.
    async fn media_from_ack(&mut self, session: &mut LocalSession, room: &str) -> Step<CallMedia> {
        let mut early = Vec::new();
        let ack = loop {
            match self.sip.inputs.recv().await {
                Some(CallInput::AckReceived { ack, .. }) => break ack,
                Some(CallInput::NoAck { .. }) => {
                    return Err(Stop::new(EstablishedEnd::NoAck, "no ACK for our offer"));
                }
                Some(CallInput::Shutdown) | None => {
                    return Err(Stop::new(
                        EstablishedEnd::Shutdown,
                        "shut down before the ACK",
                    ));
                }
                Some(other) => early.push(other),
            }
        };
        self.sip.requeue(early);
        let answered = match sdp_body(&ack.head, &ack.body) {
            None => Err("the ACK has no SDP answer to our offer".to_owned()),
            Some(answer) => parse_sdp(answer)
                .and_then(|answer| session.handle_answer(&answer))
                .map_err(|error| error.to_string()),
        };
        let negotiated = answered.map_err(|detail| {
            tracing::info!(%detail, "delayed offer: the phone's answer is unusable");
            Stop::new(EstablishedEnd::NoUsableAnswer, detail)
        })?;
        self.media_for(&negotiated, room)
    }

    /// The 200 OK with our SDP (answer, or offer when the INVITE had none) and what we
    /// support.
    pub(super) fn ok_response(&self, sdp: &str) -> Response {
        let mut ok = Response::to(&self.invite, 200, None);
        let headers = &mut ok.head.other;
        headers.push("Allow", ALLOWED_METHODS);
        headers.push("Supported", SUPPORTED.join(", "));
        headers.push("Server", self.context.config.sip.user_agent.clone());
        ok.head.content_type = Some("application/sdp".into());
        ok.body = Bytes::from(sdp.to_owned());
        ok
    }

    /// Hands the answered call to `call::session`, which runs it to its end.
    pub(super) async fn establish(self, ready: Ready) {
        let InboundCall {
            context,
            sip,
            record,
            dialog,
            room,
            leg,
            ..
        } = self;
        let (Some(dialog), Some(room), Some(leg)) = (dialog, room, leg) else {
            // Set-up returns only with all three; if not, the record says so (cdr's drop).
            tracing::error!("an answered call without its dialog, room or media");
            return;
        };
        // Listed before anyone can see the call active, so a transfer asked for at once finds it.
        let transfers = TransferDesk::list(&context, &record);
        let status = attributes::call_status(CallStatus::Active);
        if let Err(error) = room.set_attributes(status).await {
            tracing::debug!(%error, "call status not set");
        }
        let setup = Setup {
            dialog,
            session: ready.session,
            local: context.local.clone(),
            transport: sip.transport,
            max_duration: ready.max_duration,
            ack: None,
        };
        let established = Established {
            call: Answered::new(setup, Instant::now()),
            sip,
            leg,
            room,
            room_events: ready.room_events,
            metrics: context.metrics.clone(),
            transfers,
            sent: HashMap::new(),
        };
        established
            .run_to_end(&context, Direction::Inbound, record)
            .await;
    }
}
