//! Standalone mode: the trunks and dispatch rules of the YAML (`inbound::routing` matches
//! them), answered at once.

use std::sync::Arc;

use livekit_protocol::{RoomAgentDispatch, RoomConfiguration, SipHeaderOptions};
use sipbridge_config::{Config, DigestAlgorithm, DispatchRule, IncludeHeaders, RoomConfig};
use sipbridge_signaling::auth::Algorithm;
use sipbridge_signaling::outcome::InboundRejection;

use super::{CallFacts, Dispatched, Route, RouteFuture, Routes, TrunkMatch};
use crate::api::fields::DEFAULT_RINGING_TIMEOUT;
use crate::inbound::admit::Refusal;
use crate::inbound::identity::hidden_identity;
use crate::inbound::routing::{CallAddress, NoTrunk, match_rule, match_trunk, room_name};

/// The YAML's trunks and rules.
#[derive(Debug)]
pub struct YamlRoutes {
    config: Arc<Config>,
}

impl YamlRoutes {
    pub fn new(config: Arc<Config>) -> Self {
        Self { config }
    }

    fn address(call: &CallFacts) -> CallAddress<'_> {
        CallAddress {
            source: call.source,
            called: &call.called,
            caller: &call.caller,
        }
    }

    fn find_trunk(&self, call: &CallFacts) -> Result<TrunkMatch, Refusal> {
        let trunk =
            match_trunk(&self.config, Self::address(call)).map_err(|why| Refusal::Rejected {
                rejection: InboundRejection::TrunkNotAllowed,
                silent: why == NoTrunk::AddressNotAllowed && self.config.sip.hide_inbound_port,
                detail: format!("{why:?}"),
            })?;
        let credentials = trunk.auth.as_ref().map(|auth| {
            let password = auth.password.expose().to_owned();
            (auth.username.clone(), password)
        });
        let algorithms = trunk
            .auth_algorithms
            .iter()
            .map(|algorithm| match algorithm {
                DigestAlgorithm::Sha256 => Algorithm::Sha256,
                DigestAlgorithm::Md5 => Algorithm::Md5,
            })
            .collect();
        let headers_to_attributes = trunk
            .headers_to_attributes
            .iter()
            .map(|(header, attribute)| (header.as_str().to_owned(), attribute.clone()))
            .collect();
        let attributes_to_headers = trunk
            .attributes_to_headers
            .iter()
            .map(|(attribute, header)| (attribute.clone(), header.as_str().to_owned()))
            .collect();
        let include_headers = match trunk.include_headers {
            IncludeHeaders::None => SipHeaderOptions::SipNoHeaders,
            IncludeHeaders::XHeaders => SipHeaderOptions::SipXHeaders,
            IncludeHeaders::All => SipHeaderOptions::SipAllHeaders,
        };
        Ok(TrunkMatch {
            id: trunk.id.as_str().to_owned(),
            credentials,
            algorithms,
            headers_to_attributes,
            attributes_to_headers,
            include_headers,
        })
    }

    fn find_rule(&self, call: &CallFacts, trunk: &TrunkMatch) -> Result<Dispatched, Refusal> {
        let rule = self
            .config
            .inbound_trunks
            .iter()
            .find(|t| t.id.as_str() == trunk.id)
            .and_then(|t| match_rule(&self.config, t))
            .ok_or_else(|| Refusal::Rejected {
                rejection: InboundRejection::NoDispatchRule,
                silent: false,
                detail: format!("no dispatch rule for trunk {}", trunk.id),
            })?;
        let room_config = self.config.room_config_of(rule);
        Ok(Dispatched::Route(Box::new(route(
            rule,
            room_config,
            call,
            trunk,
        ))))
    }
}

/// The room and participant a YAML rule gives the call; `room_config` is the rule's with its
/// preset.
fn route(
    rule: &DispatchRule,
    room_config: Option<RoomConfig>,
    call: &CallFacts,
    trunk: &TrunkMatch,
) -> Route {
    let suffix = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    Route {
        trunk_id: trunk.id.clone(),
        rule_id: rule.id.as_str().to_owned(),
        room: room_name(rule, YamlRoutes::address(call), &suffix),
        identity: if rule.hide_phone_number {
            hidden_identity(&call.caller)
        } else {
            format!("sip_{}", call.caller)
        },
        name: None,
        metadata: rule.metadata.clone(),
        attributes: rule.attributes.clone().into_iter().collect(),
        headers_to_attributes: trunk.headers_to_attributes.clone(),
        attributes_to_headers: trunk.attributes_to_headers.clone(),
        include_headers: trunk.include_headers,
        hide_phone_number: rule.hide_phone_number,
        pin: rule.rule.pin().map(str::to_owned),
        pin_timeout: rule
            .ringing_timeout
            .map_or(DEFAULT_RINGING_TIMEOUT, |timeout| timeout.0),
        listener_timeout: rule.ringing_timeout.map(|timeout| timeout.0),
        early_media: rule.early_media,
        max_call_duration: rule.max_call_duration.map(|d| d.0),
        room_config: room_config.as_ref().map(room_configuration),
    }
}

/// The rule's `room_config` as LiveKit's `RoomConfiguration` (times in whole seconds).
fn room_configuration(config: &RoomConfig) -> RoomConfiguration {
    let seconds = |value: Option<sipbridge_config::values::Duration>| {
        value.map_or(0, |value| {
            u32::try_from(value.0.as_secs()).unwrap_or(u32::MAX)
        })
    };
    RoomConfiguration {
        agents: config
            .agents
            .iter()
            .map(|agent| RoomAgentDispatch {
                agent_name: agent.agent_name.clone(),
                metadata: agent.metadata.clone(),
                ..RoomAgentDispatch::default()
            })
            .collect(),
        empty_timeout: seconds(config.empty_timeout),
        departure_timeout: seconds(config.departure_timeout),
        max_participants: config.max_participants.unwrap_or(0),
        metadata: config.metadata.clone(),
        ..RoomConfiguration::default()
    }
}

impl Routes for YamlRoutes {
    fn trunk<'a>(&'a self, call: &'a CallFacts) -> RouteFuture<'a, Result<TrunkMatch, Refusal>> {
        Box::pin(std::future::ready(self.find_trunk(call)))
    }

    fn dispatch<'a>(
        &'a self,
        call: &'a CallFacts,
        trunk: &'a TrunkMatch,
        _pin: Option<&'a str>,
    ) -> RouteFuture<'a, Result<Dispatched, Refusal>> {
        Box::pin(std::future::ready(self.find_rule(call, trunk)))
    }
}
