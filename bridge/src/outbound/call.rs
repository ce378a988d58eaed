//! One outbound call, from the API request to its outcome: RTP ports, the participant in
//! the room (`dialing`), the INVITE through the trunk, the answer (`active`, the API
//! caller's reply), the established call, and exactly one record and `calls_ended` count.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use livekit_protocol::{SipHeaderOptions, SipParticipantInfo};
use sipbridge_signaling::dial::Dialer;
use sipbridge_signaling::dialog::{Dialog, TimerConfig};
use sipbridge_signaling::message::{Response, sdp_body};
use sipbridge_signaling::outcome::{DisconnectReason, OutboundEnd, Outcome, SipStatus};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::Transport;
use tokio::sync::mpsc;

use super::dial::{Dialed, Dialing, start_media};
use super::identity::{call_info, participant};
use super::invite::invite_params;
use super::{CreateError, Plan, Reply};
use crate::call::context::CallContext;
use crate::call::leg::MediaLeg;
use crate::call::media::StreamStart;
use crate::call::ports::RtpSockets;
use crate::call::session::Established;
use crate::call::settings::codec_preferences;
use crate::call::sip::{CallSip, departure};
use crate::call::transfer::Transfers;
use crate::cdr::{CallRecord, now_ns};
use crate::room::{JoinRequest, RoomHandle, join};
use crate::sip::link::{Command, DialogKey};

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
            tracing::warn!("no free RTP port pair");
            let status = SipStatus::new(503, "No free RTP port");
            return self.refuse(status, "no free RTP port");
        };
        let call_id = self.record.call_id();
        let request = JoinRequest {
            room: self.plan.room.clone(),
            who: participant(&self.plan, &call_id, &self.sip_call_id),
        };
        let (room, mut room_events) = match join(&context.room, request).await {
            Ok(joined) => joined,
            Err(error) => {
                tracing::warn!(%error, room = %self.plan.room, "joining the room failed");
                let status = SipStatus::new(503, "Room join failed");
                return self.refuse(status, &error.to_string());
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
                let outcome = OutboundEnd::TransportFailure { detail }.outcome();
                return self.end(Some(room), outcome, "").await;
            }
        };
        let transport = match self.plan.trunk.transport {
            sipbridge_config::Transport::Tcp => Transport::Tcp,
            _ => Transport::Udp,
        };
        let local_tag = format!("{:016x}", rand::random::<u64>());
        let key = DialogKey {
            call_id: self.sip_call_id.clone(),
            local_tag: local_tag.clone(),
        };
        let (inputs_sender, inputs) = mpsc::unbounded_channel();
        let register = Command::Register {
            key: key.clone(),
            call: inputs_sender.clone(),
        };
        let _ = context.endpoint.send(register).await;
        let mut sip = CallSip::new(
            context.endpoint.clone(),
            inputs_sender,
            inputs,
            key,
            transport,
            destination,
        );
        let rtp_addr = SocketAddr::new(context.local.rtp_ip, sockets.rtp_port());
        let mut session = LocalSession::new(
            rand::random::<u32>().into(),
            rtp_addr,
            codec_preferences(&context.config.rtp),
        );
        let offer = Bytes::from(session.offer());
        let params = invite_params(
            &context,
            &self.plan,
            &self.sip_call_id,
            &local_tag,
            transport,
            offer,
        );
        let dialer = Dialer::new(params, rand::random());
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
                outcome,
            } => {
                // RFC 3261 §15: a 2xx is acknowledged even when we no longer want the call.
                if let Some((mut dialog, _)) = self.acknowledge(&sip, &invite, &response).await {
                    sip.send_bye(&mut dialog, &context.local).await;
                }
                sip.forget().await;
                return self.end(Some(room), outcome, "").await;
            }
            Dialed::Ended {
                outcome,
                room_ended,
            } => {
                sip.forget().await;
                let room = (!room_ended).then_some(room);
                return self.end(room, outcome, "").await;
            }
        };

        let Some((mut dialog, ack)) = self.acknowledge(&sip, &invite, &response).await else {
            sip.forget().await;
            let outcome = Outcome::new(
                DisconnectReason::SipTrunkFailure,
                SipStatus::new(502, "Unusable 2xx"),
            );
            return self
                .end(Some(room), outcome, "the 2xx could not form a dialog")
                .await;
        };
        let Some(leg) = self.media_for_answer(&session, &response, leg, sockets) else {
            sip.send_bye(&mut dialog, &context.local).await;
            sip.forget().await;
            let outcome = OutboundEnd::NoCommonCodec.outcome();
            return self
                .end(Some(room), outcome, "the answer has no usable SDP")
                .await;
        };
        // Listed before anyone can see the call active, so a transfer asked for at once finds it.
        let transfers = Transfers::list(&context, &self.record);
        self.go_active(&room, &response).await;
        self.answer_api(Ok(info));
        let mut leg = leg;
        if !self.plan.dtmf.is_empty() && !leg.media.send_dtmf(&self.plan.dtmf) {
            tracing::warn!("the dtmf digits could not be queued");
        }
        self.record.update(|info| info.started_at_ns = now_ns());
        let established = Established {
            sip,
            dialog,
            local: context.local.clone(),
            session,
            leg,
            room,
            room_events,
            max_duration: self.plan.max_call_duration,
            metrics: context.metrics.clone(),
            ack: Some(ack),
            transfers,
            answer_due: false,
        };
        established
            .run_to_end(&context, "outbound", self.record)
            .await;
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

    /// ACKs a 2xx and forms the dialog; the ACK is kept for retransmitted 2xx. `None`
    /// when the 2xx cannot form a dialog.
    async fn acknowledge(
        &self,
        sip: &CallSip,
        invite: &sipbridge_signaling::message::Request,
        response: &Response,
    ) -> Option<(Dialog, sipbridge_signaling::dialog::OutgoingRequest)> {
        let timers = TimerConfig {
            we_refresh: false,
            ..TimerConfig::default()
        };
        let dialog = Dialog::new_uac(invite, response, timers, Instant::now())
            .inspect_err(|error| tracing::warn!(%error, "the 2xx cannot form a dialog"))
            .ok()?;
        let via = self.context.local.via(sip.transport);
        let ack = dialog
            .build_ack(response, via, None)
            .inspect_err(|error| tracing::warn!(%error, "cannot build the ACK"))
            .ok()?;
        sip.send_ack(ack.clone()).await;
        Some((dialog, ack))
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
        let mut attributes = HashMap::from([("sip.callStatus".to_owned(), "active".to_owned())]);
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
                    format!("sip.h.{}", name.to_ascii_lowercase()),
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

    /// The call could not start (no port, no room): the API caller hears why.
    fn refuse(mut self, status: SipStatus, error: &str) {
        let outcome = Outcome::new(DisconnectReason::JoinFailure, status);
        self.answer_api(Err(CreateError::Unavailable(format!(
            "{}: {error}",
            outcome.status.reason
        ))));
        self.context
            .finish("outbound", self.record, &outcome, error);
    }

    /// The call ended before it was answered: the room, the API caller and the record hear
    /// the outcome.
    async fn end(mut self, room: Option<RoomHandle>, outcome: Outcome, error: &str) {
        tracing::info!(
            reason = outcome.reason.as_str(),
            code = outcome.status.code,
            status = %outcome.status.reason,
            "outbound call ended"
        );
        if let Some(room) = room {
            room.leave(departure(&outcome)).await;
        }
        self.answer_api(Err(CreateError::Call(outcome.clone())));
        self.context
            .finish("outbound", self.record, &outcome, error);
    }
}
