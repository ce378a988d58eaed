//! Cluster mode: livekit-server holds the trunks and dispatch rules, and answers for them
//! over psrpc (`IOInfo.GetSIPTrunkAuthentication`, `IOInfo.EvaluateSIPDispatchRules`), as it
//! does for LiveKit's own SIP service. What it answers maps onto the same refusals as the
//! YAML's (docs/OUTCOMES.md, "Inbound INVITE refused").

use std::time::Duration;

use livekit_protocol::SipHeaderOptions;
use prost::Message as _;
use sipbridge_psrpc::client::Client;
use sipbridge_psrpc::io::{
    self, Dispatch, DispatchRequest, DispatchResult, SipCall, SipUri, TrunkAuthentication,
    TrunkAuthenticationRequest,
};
use sipbridge_signaling::auth::Algorithm;
use sipbridge_signaling::outcome::InboundRejection;
use sipbridge_signaling::transaction::Transport;

use super::{CallFacts, Dispatched, Route, RouteFuture, Routes, TrunkMatch};
use crate::api::fields::DEFAULT_RINGING_TIMEOUT;
use crate::cluster::duration;
use crate::inbound::admit::Refusal;
use crate::room::attributes;

/// How long livekit-server gets to answer one question (LiveKit's own SIP node waits psrpc's
/// default, the same 3 s).
const IO_INFO_TIMEOUT: Duration = Duration::from_secs(3);

/// `rpc.SIPTrunkAuthenticationError` values.
const QUOTA_EXCEEDED: i32 = 1;
const NO_TRUNK_FOUND: i32 = 2;

/// livekit-server's trunks and rules, asked over psrpc.
#[derive(Debug, Clone)]
pub struct ClusterRoutes {
    io_info: Client,
}

impl ClusterRoutes {
    /// `io_info`: a psrpc client of the `IOInfo` service.
    pub fn new(io_info: Client) -> Self {
        Self { io_info }
    }

    async fn ask<T: prost::Message + Default>(
        &self,
        method: &str,
        request: Vec<u8>,
    ) -> Result<T, Refusal> {
        let unavailable = |detail: String| Refusal::Unavailable {
            detail: format!("{method}: {detail}"),
        };
        let bytes = self
            .io_info
            .call(method, &[], request, IO_INFO_TIMEOUT)
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        T::decode(bytes.as_slice()).map_err(|error| unavailable(error.to_string()))
    }

    async fn find_trunk(&self, call: &CallFacts) -> Result<TrunkMatch, Refusal> {
        let request = TrunkAuthenticationRequest {
            from: call.caller.clone(),
            to: call.to_user.clone(),
            src_address: call.source.to_string(),
            to_host: call.to_host.clone(),
            sip_call_id: call.call_id.clone(),
            from_host: call.from_host.clone(),
            call: Some(sip_call(call)),
        };
        let answer: TrunkAuthentication = self
            .ask(io::GET_SIP_TRUNK_AUTHENTICATION, request.encode_to_vec())
            .await?;
        trunk_match(answer)
    }

    async fn find_rule(
        &self,
        call: &CallFacts,
        trunk: &TrunkMatch,
        pin: Option<&str>,
    ) -> Result<Dispatched, Refusal> {
        let request = DispatchRequest {
            calling_number: call.caller.clone(),
            called_number: call.to_user.clone(),
            src_address: call.source.to_string(),
            called_host: call.to_host.clone(),
            sip_call_id: call.call_id.clone(),
            calling_host: call.from_host.clone(),
            pin: pin.unwrap_or_default().to_owned(),
            sip_trunk_id: trunk.id.clone(),
            call: Some(sip_call(call)),
            ..DispatchRequest::default()
        };
        let answer: Dispatch = self
            .ask(io::EVALUATE_SIP_DISPATCH_RULES, request.encode_to_vec())
            .await?;
        dispatched(answer, call, trunk)
    }
}

impl Routes for ClusterRoutes {
    fn trunk<'a>(&'a self, call: &'a CallFacts) -> RouteFuture<'a, Result<TrunkMatch, Refusal>> {
        Box::pin(self.find_trunk(call))
    }

    fn dispatch<'a>(
        &'a self,
        call: &'a CallFacts,
        trunk: &'a TrunkMatch,
        pin: Option<&'a str>,
    ) -> RouteFuture<'a, Result<Dispatched, Refusal>> {
        Box::pin(self.find_rule(call, trunk, pin))
    }
}

/// The INVITE as livekit-server matches trunks and rules on it, described as LiveKit's own
/// SIP node does (the numbers of the From and To headers; the dialled one in `address`).
/// Its `from` and `to` must be set: v1.13.5 fails on a call without them.
fn sip_call(call: &CallFacts) -> SipCall {
    let transport = match call.transport {
        Transport::Udp => livekit_protocol::SipTransport::Udp,
        Transport::Tcp => livekit_protocol::SipTransport::Tcp,
        Transport::Tls => livekit_protocol::SipTransport::Tls,
    } as i32;
    let uri = |user: &str, host: &str, port: u32| SipUri {
        user: user.to_owned(),
        host: host.to_owned(),
        port,
        transport,
        ..SipUri::default()
    };
    let mut from = uri(&call.caller, &call.from_host, 0);
    from.ip = call.source.to_string();
    SipCall {
        lk_call_id: call.call_id.clone(),
        source_ip: call.source.to_string(),
        address: Some(uri(
            &call.called,
            &call.request_host,
            u32::from(call.request_port),
        )),
        from: Some(from),
        to: Some(uri(&call.to_user, &call.to_host, 0)),
        sip_call_id: call.sip_call_id.clone(),
    }
}

fn rejected(rejection: InboundRejection, silent: bool, detail: &str) -> Refusal {
    Refusal::Rejected {
        rejection,
        silent,
        detail: detail.to_owned(),
    }
}

/// livekit-server's trunk answer. No trunk at all is not a refusal: it then lets rules
/// that name no trunk decide (and drops the call when none does).
fn trunk_match(answer: TrunkAuthentication) -> Result<TrunkMatch, Refusal> {
    match answer.error_code {
        QUOTA_EXCEEDED => {
            return Err(rejected(
                InboundRejection::QuotaExceeded,
                false,
                "livekit-server: quota exceeded",
            ));
        }
        NO_TRUNK_FOUND => {
            return Err(rejected(
                InboundRejection::TrunkNotAllowed,
                false,
                "livekit-server: no trunk found",
            ));
        }
        _ => {}
    }
    if answer.drop {
        return Err(rejected(
            InboundRejection::TrunkNotAllowed,
            true,
            "livekit-server: drop (trunk authentication)",
        ));
    }
    let credentials = (!answer.username.is_empty() && !answer.password.is_empty())
        .then_some((answer.username, answer.password));
    Ok(TrunkMatch {
        id: answer.sip_trunk_id,
        credentials,
        // What LiveKit's own SIP service offers: MD5 is what every carrier answers.
        algorithms: vec![Algorithm::Md5],
        // The rule's answer carries the trunk's mappings.
        headers_to_attributes: Vec::new(),
        attributes_to_headers: Vec::new(),
        include_headers: SipHeaderOptions::SipNoHeaders,
    })
}

/// livekit-server's dispatch answer.
fn dispatched(
    answer: Dispatch,
    call: &CallFacts,
    trunk: &TrunkMatch,
) -> Result<Dispatched, Refusal> {
    let result = DispatchResult::try_from(answer.result).unwrap_or(DispatchResult::Reject);
    // The trunk's `ringing_timeout`: the time to key a PIN, or to wait for a listener.
    let listener_timeout = duration(answer.ringing_timeout);
    let ringing_timeout = listener_timeout.unwrap_or(DEFAULT_RINGING_TIMEOUT);
    match result {
        DispatchResult::RequestPin | DispatchResult::LegacyAcceptOrPin if answer.request_pin => {
            Ok(Dispatched::AskPin {
                rule_id: answer.sip_dispatch_rule_id,
                timeout: ringing_timeout,
            })
        }
        DispatchResult::Accept | DispatchResult::LegacyAcceptOrPin => Ok(Dispatched::Route(
            Box::new(route(answer, call, trunk, listener_timeout)),
        )),
        DispatchResult::RequestPin => Ok(Dispatched::AskPin {
            rule_id: answer.sip_dispatch_rule_id,
            timeout: ringing_timeout,
        }),
        DispatchResult::Reject => Err(rejected(
            InboundRejection::NoDispatchRule,
            false,
            "livekit-server: reject",
        )),
        // livekit-server's answer when no rule matches: it asks for silence, as for a
        // scanner.
        DispatchResult::Drop => Err(rejected(
            InboundRejection::NoDispatchRule,
            true,
            "livekit-server: drop (no dispatch rule)",
        )),
    }
}

fn route(
    answer: Dispatch,
    call: &CallFacts,
    trunk: &TrunkMatch,
    listener_timeout: Option<Duration>,
) -> Route {
    // A rule that hides the number: livekit-server leaves it out of the attributes and
    // hashes it into the identity; the node must not put it back.
    let hide_phone_number = !answer.participant_identity.is_empty()
        && answer.participant_identity != format!("sip_{}", call.caller)
        && !answer
            .participant_attributes
            .contains_key(attributes::PHONE_NUMBER);
    let identity = if answer.participant_identity.is_empty() {
        format!("sip_{}", call.caller)
    } else {
        answer.participant_identity
    };
    Route {
        trunk_id: if answer.sip_trunk_id.is_empty() {
            trunk.id.clone()
        } else {
            answer.sip_trunk_id
        },
        rule_id: answer.sip_dispatch_rule_id,
        room: answer.room_name,
        identity,
        name: Some(answer.participant_name).filter(|name| !name.is_empty()),
        metadata: answer.participant_metadata,
        attributes: answer.participant_attributes.into_iter().collect(),
        headers_to_attributes: answer.headers_to_attributes.into_iter().collect(),
        attributes_to_headers: answer.attributes_to_headers.into_iter().collect(),
        include_headers: SipHeaderOptions::try_from(answer.include_headers)
            .unwrap_or(SipHeaderOptions::SipNoHeaders),
        hide_phone_number,
        pin: None,
        pin_timeout: listener_timeout.unwrap_or(DEFAULT_RINGING_TIMEOUT),
        listener_timeout,
        // livekit-server's answer has no such choice: a plain 180, as LiveKit's own service.
        early_media: false,
        max_call_duration: duration(answer.max_call_duration),
        room_config: answer.room_config,
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
