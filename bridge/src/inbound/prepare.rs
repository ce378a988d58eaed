//! An admitted inbound call's set-up, made ready for the call's driver
//! (`call::driver`): its room, its RTP ports and SDP session, the caller to join, and
//! the machine that decides (`inbound::setup`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipbridge_signaling::outcome::{Direction, SetupFailure};
use sipbridge_signaling::sdp::LocalSession;

use super::admit::Admitted;
use super::call::{InboundCall, Stop};
use super::identity::{participant, routed_info};
use super::pin::PinCheck;
use super::remote_pin::RemotePin;
use super::routes::Dispatched;
use super::setup::{Params, Setup};
use crate::call::driver::{Driver, InboundInvite, PinChecker};
use crate::call::settings::codec_preferences;
use crate::room::JoinRequest;

/// What the set-up knows of the caller's way into the room before it starts.
struct Way {
    room: String,
    /// `None` until livekit-server has checked the PIN.
    join: Option<JoinRequest>,
    pin: Option<PinCheck>,
    pin_timeout: Duration,
    listener_timeout: Option<Duration>,
    early_media: bool,
    max_call_duration: Option<Duration>,
    pin_checker: Option<Box<dyn PinChecker>>,
    /// Participant attributes sent as headers of our BYE and REFER: (attribute, header).
    attributes_to_headers: Vec<(String, String)>,
}

impl InboundCall {
    /// Media, dialog, room, then the answered call: runs the call to its end.
    pub(super) async fn set_up(mut self, admitted: Admitted) {
        let way = self.way(admitted);
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
            pin: way.pin,
            pin_timeout: way.pin_timeout,
            listener_timeout: way.listener_timeout,
            early_media: way.early_media,
        };
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
        let mut driver = Driver::new(context, Direction::Inbound, sip, record, &way.room)
            .sockets(sockets)
            .pin_checker(way.pin_checker)
            .answering(invite)
            .max_duration(way.max_call_duration)
            .attributes_to_headers(way.attributes_to_headers);
        if let Some(join) = way.join {
            driver = driver.join_on_request(join);
        }
        driver.run(setup).await;
    }

    /// The room and participant the dispatch rule gives the call, or, for a PIN only
    /// livekit-server knows, who will ask it for them.
    fn way(&mut self, admitted: Admitted) -> Way {
        let Admitted { trunk, dispatched } = admitted;
        match dispatched {
            Dispatched::Route(route) => {
                let facts = self.facts();
                let who = participant(&self.invite, &facts, &route, self.record.call_id());
                self.record.update(|info| {
                    routed_info(info, &route.trunk_id, &route.rule_id, &route.room);
                    info.participant_identity.clone_from(&who.identity);
                });
                Way {
                    room: route.room.clone(),
                    join: Some(JoinRequest {
                        room: route.room.clone(),
                        who,
                    }),
                    pin: route.pin.clone().map(PinCheck::Local),
                    pin_timeout: route.pin_timeout,
                    listener_timeout: route.listener_timeout,
                    early_media: route.early_media,
                    max_call_duration: route.max_call_duration,
                    pin_checker: None,
                    attributes_to_headers: route.attributes_to_headers.clone(),
                }
            }
            Dispatched::AskPin { rule_id, timeout } => {
                self.record
                    .update(|info| routed_info(info, &trunk.id, &rule_id, ""));
                // What the trunk maps; in cluster mode the dispatch after the PIN would
                // say, and is not waited for.
                let trunk_mapping = trunk.attributes_to_headers.clone();
                let checker = RemotePin {
                    routes: self.context.routes.clone(),
                    facts: self.facts(),
                    trunk,
                    invite: self.invite.clone(),
                };
                Way {
                    room: String::new(),
                    join: None,
                    pin: Some(PinCheck::Remote),
                    pin_timeout: timeout,
                    // After the PIN the call is answered already: nothing to wait for.
                    listener_timeout: None,
                    early_media: false,
                    max_call_duration: None,
                    pin_checker: Some(Box::new(checker)),
                    attributes_to_headers: trunk_mapping,
                }
            }
        }
    }
}
