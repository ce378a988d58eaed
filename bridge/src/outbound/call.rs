//! One outbound call, from the API request to its outcome: RTP ports, the participant in
//! the room (`dialing`), the INVITE through the trunk, the answer (`active`, the API
//! caller's reply), the established call, and exactly one record and `calls_ended` count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use livekit_protocol::{SipHeaderOptions, SipParticipantInfo};
use sipbridge_signaling::dial::Dialer;
use sipbridge_signaling::message::{Response, sdp_body};
use sipbridge_signaling::outcome::{
    CallStatus, Direction, Ending, OutboundEnd, Outcome, SetupFailure,
};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::Transport;

use super::dial::{Dialed, Dialing, acknowledge, start_media};
use super::identity::{call_info, participant};
use super::invite::invite_params;
use super::{CreateError, Plan, Reply};
use crate::call::context::CallContext;
use crate::call::end::{ApiAnswer, CallSinks, PhoneClose, deliver};
use crate::call::leg::MediaLeg;
use crate::call::media::StreamStart;
use crate::call::ports::RtpSockets;
use crate::call::session::{DialogParts, Established};
use crate::call::settings::{codec_name, codec_preferences};
use crate::call::sip::CallSip;
use crate::call::transfer::TransferDesk;
use crate::cdr::{CallRecord, now_ns};
use crate::room::{JoinRequest, RoomHandle, attributes, join};
use crate::sip::link::{Command, DialogKey, call_inputs};

/// The call's two legs while it is dialled: SIP with our offer, and the room.
struct Legs {
    sip: CallSip,
    session: LocalSession,
    room: RoomHandle,
    room_events: tokio::sync::mpsc::Receiver<crate::room::RoomEvent>,
}

/// A 2xx to our INVITE, and the early media that may have come before it.
struct Answer {
    invite: Box<sipbridge_signaling::message::Request>,
    response: Response,
    leg: Option<Box<MediaLeg>>,
    sockets: Option<RtpSockets>,
}

/// A call we place, between its steps.
struct OutboundCall {
    context: Arc<CallContext>,
    plan: Plan,
    reply: Option<Reply>,
    record: CallRecord,
    sip_call_id: String,
}

pub(super) async fn run(context: Arc<CallContext>, plan: Plan, reply: Reply) {
    let sip_call_id = format!("{:032x}@{}", rand::random::<u128>(), context.local.sip_ip);
    let record = context.cdr.record(call_info(&plan, &sip_call_id));
    let span = tracing::Span::current();
    span.record("call", record.call_id().as_str());
    span.record("sip_call_id", sip_call_id.as_str());
    let call = OutboundCall {
        context,
        plan,
        reply: Some(reply),
        record,
        sip_call_id,
    };
    call.place().await;
}

impl OutboundCall {
    async fn place(mut self) {
        let context = self.context.clone();
        let Some(sockets) = context.ports.allocate().await else {
            return self
                .end(None, SetupFailure::NoRtpPort, "no free RTP port")
                .await;
        };
        let call_id = self.record.call_id();
        let request = JoinRequest {
            room: self.plan.room.clone(),
            who: participant(&self.plan, &call_id, &self.sip_call_id),
        };
        let (room, mut room_events) = match join(&context.room, request).await {
            Ok(joined) => joined,
            Err(error) => {
                let detail = error.to_string();
                return self.end(None, SetupFailure::RoomJoinFailed, &detail).await;
            }
        };
        let info = SipParticipantInfo {
            participant_id: room.participant_sid.clone(),
            participant_identity: self.plan.identity.clone(),
            room_name: self.plan.room.clone(),
            sip_call_id: call_id,
        };
        let destination = match self.resolve().await {
            Ok(destination) => destination,
            Err(detail) => {
                let ending = OutboundEnd::TransportFailure { detail };
                return self.end(Some(room), ending, "").await;
            }
        };
        let (mut sip, local_tag) = self.sip_leg(destination).await;
        let (session, dialer) = self.first_invite(&sip, &sockets, &local_tag);
        if !self.plan.wait_until_answered {
            // The call is dialling: that is all the API caller waits for.
            self.answer_api(Ok(info.clone()));
        }

        let dialing = Dialing {
            context: &context,
            sip: &mut sip,
            room: &room,
            room_events: &mut room_events,
            session: &session,
            reply: &mut self.reply,
            room_name: &self.plan.room,
            ringing_timeout: self.plan.ringing_timeout,
            play_dialtone: self.plan.play_dialtone,
        };
        let dialed = dialing.run(dialer, sockets).await;
        let legs = Legs {
            sip,
            session,
            room,
            room_events,
        };
        self.dialed(dialed, legs, info).await;
    }

    /// Our SDP offer and the INVITE that carries it.
    fn first_invite(
        &self,
        sip: &CallSip,
        sockets: &RtpSockets,
        local_tag: &str,
    ) -> (LocalSession, Dialer) {
        let context = &self.context;
        let rtp_addr = SocketAddr::new(context.local.rtp_ip, sockets.rtp_port());
        let preferences = codec_preferences(&context.config.rtp);
        let mut session = LocalSession::new(rand::random::<u32>().into(), rtp_addr, preferences);
        let offer = Bytes::from(session.offer());
        let plan = &self.plan;
        let params = invite_params(
            context,
            plan,
            &self.sip_call_id,
            local_tag,
            sip.transport,
            offer,
        );
        (session, Dialer::new(params, rand::random()))
    }

    /// After dialling: the answered call, or its end (a 2xx too late is ACKed and hung up;
    /// an INVITE still running lingers for a late 2xx).
    async fn dialed(self, dialed: Dialed, legs: Legs, info: SipParticipantInfo) {
        let Legs {
            mut sip,
            session,
            room,
            room_events,
        } = legs;
        let (invite, response, leg, sockets) = match dialed {
            Dialed::Answered {
                invite,
                response,
                leg,
                sockets,
            } => (invite, response, leg, sockets),
            Dialed::TooLate {
                invite,
                response,
                ending,
            } => {
                // RFC 3261 §15: a 2xx is acknowledged even when we no longer want the call.
                let acknowledged = acknowledge(&self.context, &sip, &invite, &response).await;
                let mut dialog = acknowledged.map(|(dialog, _)| dialog);
                let phone = dialog.as_mut().map_or(PhoneClose::Nothing, PhoneClose::Bye);
                return self
                    .end_with(Some(&sip), phone, Some(room), ending, "")
                    .await;
            }
            Dialed::Ended {
                ending,
                room_ended,
                linger,
            } => {
                let context = self.context.clone();
                let room = (!room_ended).then_some(room);
                let phone = PhoneClose::Nothing;
                self.end_with(Some(&sip), phone, room, ending, "").await;
                // The INVITE transaction may still bring a 2xx: it is ACKed and hung up.
                if let Some(dialer) = linger {
                    super::dial::linger(&context, &mut sip, *dialer).await;
                }
                return;
            }
        };
        let answer = Answer {
            invite,
            response,
            leg,
            sockets,
        };
        self.answered(sip, answer, session, room, room_events, info)
            .await;
    }

    /// A 2xx: ACK it, start the media, tell the room and the API caller, run the call.
    async fn answered(
        mut self,
        sip: CallSip,
        answer: Answer,
        session: LocalSession,
        room: RoomHandle,
        room_events: tokio::sync::mpsc::Receiver<crate::room::RoomEvent>,
        info: SipParticipantInfo,
    ) {
        let context = self.context.clone();
        let Answer {
            invite,
            response,
            leg,
            sockets,
        } = answer;
        let Some((mut dialog, ack)) = acknowledge(&context, &sip, &invite, &response).await else {
            let detail = "the 2xx could not form a dialog";
            let ending = OutboundEnd::UnusableAnswer;
            return self
                .end_with(Some(&sip), PhoneClose::Nothing, Some(room), ending, detail)
                .await;
        };
        let Some(leg) = self.media_for_answer(&session, &response, leg, sockets) else {
            let phone = PhoneClose::Bye(&mut dialog);
            let (ending, detail) = (OutboundEnd::NoCommonCodec, "the answer has no usable SDP");
            return self
                .end_with(Some(&sip), phone, Some(room), ending, detail)
                .await;
        };
        // Listed before anyone can see the call active, so a transfer asked for at once finds it.
        let transfers = TransferDesk::list(&context, &self.record);
        self.go_active(&room, &response).await;
        self.answer_api(Ok(info));
        let mut leg = leg;
        let codec = codec_name(leg.media.codec());
        self.record
            .update(|info| info.audio_codec = codec.to_owned());
        if !self.plan.dtmf.is_empty() && !leg.media.send_dtmf(&self.plan.dtmf) {
            tracing::warn!("the dtmf digits could not be queued");
        }
        self.record.update(|info| info.started_at_ns = now_ns());
        let parts = DialogParts {
            dialog,
            session,
            max_duration: self.plan.max_call_duration,
            ack: Some(ack),
        };
        let room = (room, room_events);
        Established::new(&context, sip, leg, room, transfers, parts)
            .run_to_end(&context, Direction::Outbound, self.record)
            .await;
    }

    /// The SIP leg toward the trunk: our From tag, and the endpoint told to route the
    /// dialog's requests to this call.
    async fn sip_leg(&self, destination: SocketAddr) -> (CallSip, String) {
        let transport = match self.plan.trunk.transport {
            sipbridge_config::Transport::Tcp => Transport::Tcp,
            _ => Transport::Udp,
        };
        let local_tag = format!("{:016x}", rand::random::<u64>());
        let key = DialogKey {
            call_id: self.sip_call_id.clone(),
            local_tag: local_tag.clone(),
        };
        let (inputs_sender, inputs) = call_inputs();
        let register = Command::Register {
            key: key.clone(),
            call: inputs_sender.clone(),
        };
        let endpoint = &self.context.endpoint;
        let _ = endpoint.send(register).await;
        let sip = CallSip::new(
            endpoint.clone(),
            inputs_sender,
            inputs,
            key,
            transport,
            destination,
        );
        (sip, local_tag)
    }

    /// The trunk's address; DNS failures are the table's transport failures.
    async fn resolve(&self) -> Result<SocketAddr, String> {
        let trunk = &self.plan.trunk;
        let found = tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
            .await
            .map_err(|error| format!("DNS: {error}"))?;
        let addresses: Vec<SocketAddr> = found.collect();
        addresses
            .iter()
            .find(|a| a.is_ipv4())
            .or(addresses.first())
            .copied()
            .ok_or_else(|| format!("DNS: no address for {}", trunk.host))
    }

    /// The SIP leg for the answer's SDP: the early-media leg renegotiated, or a new one.
    /// A 2xx without SDP keeps what the 183 negotiated (RFC 3264 offers no second answer).
    fn media_for_answer(
        &self,
        session: &LocalSession,
        response: &Response,
        leg: Option<Box<MediaLeg>>,
        sockets: Option<RtpSockets>,
    ) -> Option<MediaLeg> {
        let now = Instant::now();
        let answer = sdp_body(&response.head, &response.body)
            .map(|sdp| parse_sdp(sdp).and_then(|answer| session.handle_answer(&answer)));
        match (answer, leg) {
            (Some(Ok(negotiated)), Some(mut leg)) => {
                let start = StreamStart::random();
                leg.media
                    .renegotiate(now, &negotiated, start)
                    .inspect_err(|error| tracing::warn!(%error, "answer media not applied"))
                    .ok()?;
                Some(*leg)
            }
            (Some(Ok(negotiated)), None) => {
                let media = start_media(&self.context, &negotiated, &self.plan.room, now)?;
                Some(MediaLeg::new(media, sockets?, now))
            }
            (None, Some(leg)) => Some(*leg),
            (Some(Err(error)), _) => {
                tracing::info!(%error, "the answer's SDP is not usable");
                None
            }
            (None, None) => None,
        }
    }

    /// `sip.callStatus=active` (only now: never before the 200), with the 200's headers the
    /// trunk maps and those the request asked for (`include_headers`).
    async fn go_active(&self, room: &RoomHandle, response: &Response) {
        let mut attributes = attributes::call_status(CallStatus::Active);
        let wanted = |name: &str| match self.plan.include_headers {
            SipHeaderOptions::SipNoHeaders => false,
            SipHeaderOptions::SipXHeaders => name.len() > 2 && name[..2].eq_ignore_ascii_case("x-"),
            SipHeaderOptions::SipAllHeaders => true,
        };
        for (header, attribute) in &self.plan.trunk.headers_to_attributes {
            if let Some(value) = response.head.other.get(header) {
                attributes.insert(attribute.clone(), value.to_owned());
            }
        }
        for (name, value) in response.head.other.iter() {
            if wanted(name) {
                attributes.insert(
                    format!("{}{}", attributes::HEADER_PREFIX, name.to_ascii_lowercase()),
                    value.to_owned(),
                );
            }
        }
        if let Err(error) = room.set_attributes(attributes).await {
            tracing::debug!(%error, "call status not set");
        }
    }

    fn answer_api(&mut self, answer: Result<SipParticipantInfo, CreateError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(answer);
        }
    }

    /// The call ended before it was answered, with no SIP leg to tell.
    async fn end(self, room: Option<RoomHandle>, ending: impl Into<Ending>, detail: &str) {
        self.end_with(None, PhoneClose::Nothing, room, ending, detail)
            .await;
    }

    /// The call ended before it was answered: the phone (`phone`, through `sip`), the room,
    /// the API caller and the record hear the outcome.
    async fn end_with(
        self,
        sip: Option<&CallSip>,
        phone: PhoneClose<'_>,
        room: Option<RoomHandle>,
        ending: impl Into<Ending>,
        detail: &str,
    ) {
        let sinks = CallSinks::new(&self.context, Direction::Outbound, sip, self.record)
            .room(room)
            .api(api_answer(self.reply));
        deliver(&ending.into(), detail, phone, sinks).await;
    }
}

/// The API caller's answer, for an ending that comes before the answer.
fn api_answer(reply: Option<Reply>) -> Option<ApiAnswer> {
    let reply = reply?;
    Some(Box::new(move |outcome: &Outcome| {
        let _ = reply.send(Err(CreateError::Call(outcome.clone())));
    }))
}
