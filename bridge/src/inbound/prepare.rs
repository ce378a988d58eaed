//! An admitted inbound call's set-up, made ready for the call's driver
//! (`call::driver`): its room, its RTP ports and SDP session, the caller to join, and
//! the machine that decides (`inbound::setup`).

use std::net::SocketAddr;
use std::time::Instant;

use sipbridge_signaling::outcome::{Direction, SetupFailure};
use sipbridge_signaling::sdp::LocalSession;

use super::admit::Admitted;
use super::call::{InboundCall, Stop};
use super::identity::{admitted_info, participant};
use super::routing::{CallAddress, pin, room_name};
use super::setup::{Params, Setup};
use crate::call::driver::{Driver, InboundInvite};
use crate::call::settings::codec_preferences;
use crate::room::JoinRequest;

impl InboundCall {
    /// Media, dialog, room, then the answered call: runs the call to its end.
    pub(super) async fn set_up(mut self, admitted: &Admitted<'_>) {
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
            let stop = Stop::new(SetupFailure::NoRtpPort, "no free RTP port");
            return self.end(*stop).await;
        };
        let rtp_addr = SocketAddr::new(self.context.local.rtp_ip, sockets.rtp_port());
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
        let setup = Setup::new(params, session, Instant::now());
        let InboundCall {
            context,
            sip,
            id,
            invite,
            local_tag,
            record,
            ..
        } = self;
        let invite = InboundInvite {
            id,
            invite,
            local_tag,
        };
        Driver::new(context, Direction::Inbound, sip, record, &room)
            .sockets(sockets)
            .join_on_request(caller)
            .answering(invite)
            .max_duration(admitted.rule.max_call_duration.map(|d| d.0))
            .run(setup)
            .await;
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
}
