//! One outbound call, from the API request to its outcome: RTP ports, the participant in
//! the room (`dialing`), the trunk's address and the SIP leg; then the INVITE and the answer
//! (`outbound::placing` decides, `call::driver` runs it), the
//! established call, and exactly one record and `calls_ended` count.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use livekit_protocol::SipParticipantInfo;
use sipbridge_signaling::dial::Dialer;
use sipbridge_signaling::outcome::{Direction, Ending, OutboundEnd, Outcome, SetupFailure};
use sipbridge_signaling::sdp::LocalSession;
use sipbridge_signaling::transaction::Transport;

use super::identity::{call_info, participant};
use super::invite::invite_params;
use super::placing::{Params, Placing};
use super::{CreateError, Plan, Reply};
use crate::call::context::CallContext;
use crate::call::driver::{ApiWaiter, Driver};
use crate::call::end::{ApiAnswer, CallSinks, PhoneClose, deliver};
use crate::call::ports::RtpSockets;
use crate::call::settings::codec_preferences;
use crate::call::sip::CallSip;
use crate::cdr::CallRecord;
use crate::room::{JoinRequest, RoomHandle, join};
use crate::sip::link::{Command, DialogKey, call_inputs};

/// After our CANCEL, how long the far end has to end the INVITE (normally with 487) before
/// the call ends without it: the API caller and the record should not wait 64·T1 for a far
/// end that never answers the CANCEL. The transaction layer absorbs whatever comes later.
const CANCEL_GRACE: Duration = Duration::from_secs(4);

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
    async fn place(self) {
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
        let (room, room_events) = match join(&context.room, request).await {
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
        let (sip, local_tag) = self.sip_leg(destination).await;
        let (session, dialer) = self.first_invite(&sip, &sockets, &local_tag);
        let params = self.placing_params(session, sip.transport);
        let placing = Placing::new(params, dialer, Instant::now());
        let OutboundCall {
            plan,
            reply,
            record,
            ..
        } = self;
        let rtp = plan.overrides.rtp(&context.config.rtp);
        let mut driver = Driver::new(context, Direction::Outbound, sip, record, &plan.room)
            .sockets(sockets)
            .joined((room, room_events))
            .max_duration(plan.max_call_duration)
            .rtp(rtp)
            .attributes_to_headers(plan.trunk.attributes_to_headers.clone());
        if let Some(reply) = reply {
            driver = driver.api(Box::new(ApiCaller { reply, info }));
        }
        driver.run(placing).await;
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
        let preferences = codec_preferences(&self.plan.overrides.rtp(&context.config.rtp));
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

    /// What the machine placing the call goes by.
    fn placing_params(&self, session: LocalSession, transport: Transport) -> Params {
        let t1 = self.context.config.sip.timers.t1.0;
        let plan = &self.plan;
        Params {
            session,
            local: self.context.local.clone(),
            transport,
            ringing_timeout: plan.ringing_timeout,
            cancel_grace: CANCEL_GRACE.min(t1 * 64),
            transaction_lifetime: t1 * 64,
            play_dialtone: plan.play_dialtone,
            wait_until_answered: plan.wait_until_answered,
            dtmf: plan.dtmf.clone(),
            headers_to_attributes: plan.trunk.headers_to_attributes.clone(),
            include_headers: plan.include_headers,
        }
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

    /// The call ended before it had a SIP leg: the room (if joined), the API caller and the
    /// record hear the outcome.
    async fn end(self, room: Option<RoomHandle>, ending: impl Into<Ending>, detail: &str) {
        let sinks = CallSinks::new(&self.context, Direction::Outbound, None, self.record)
            .room(room)
            .api(self.reply.map(api_answer));
        deliver(&ending.into(), detail, PhoneClose::Nothing, sinks).await;
    }
}

/// The API caller waiting for the call's answer, with the participant it gets.
struct ApiCaller {
    reply: Reply,
    info: SipParticipantInfo,
}

impl ApiWaiter for ApiCaller {
    fn answer(self: Box<Self>) {
        let _ = self.reply.send(Ok(self.info));
    }

    fn into_sink(self: Box<Self>) -> ApiAnswer {
        api_answer(self.reply)
    }

    fn gone(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.reply.closed())
    }
}

/// The API caller's answer, for an ending that comes before the answer.
fn api_answer(reply: Reply) -> ApiAnswer {
    Box::new(move |outcome: &Outcome| {
        let _ = reply.send(Err(CreateError::Call(outcome.clone())));
    })
}
