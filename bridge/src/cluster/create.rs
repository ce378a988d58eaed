//! `SIPInternal.CreateSIPParticipant`: livekit-server has resolved the API request and its
//! trunk; the call is placed exactly as the standalone API places one (`outbound`), and
//! its answer or outcome goes back as the API's would.

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use livekit_protocol::{CreateSipParticipantRequest, SipOutboundConfig};
use prost::Message as _;
use sipbridge_psrpc::bus::BusError;
use sipbridge_psrpc::server::{Accepting, Handler, Served, Server, Serving};
use sipbridge_psrpc::sip::{
    CREATE_SIP_PARTICIPANT, CreateSipParticipant, CreateSipParticipantReply, SIP_INTERNAL,
};
use sipbridge_psrpc::{Code, RpcError};

use super::errors::rpc_error;
use super::time_to_answer;
use crate::call::context::CallContext;
use crate::outbound::{self, Plan};

pub(super) async fn serve(
    server: &Server,
    calls: Weak<CallContext>,
    accepting: Accepting,
) -> Result<Serving, BusError> {
    let served = Served {
        service: SIP_INTERNAL.to_owned(),
        method: CREATE_SIP_PARTICIPANT.to_owned(),
        // livekit-server asks on no topic (LiveKit's own node serves its cluster id, which
        // an open-source livekit-server never names).
        topic: Vec::new(),
    };
    let handler: Handler = Arc::new(move |request, deadline| {
        let calls = calls.upgrade();
        Box::pin(async move {
            let calls = calls.ok_or_else(|| RpcError::new(Code::Unavailable, "shutting down"))?;
            create(calls, &request, deadline).await
        })
    });
    server.serve(served, accepting, handler).await
}

/// Places the call; answers before livekit-server gives up on us (the request's expiry),
/// cancelling the call if it must.
async fn create(
    calls: Arc<CallContext>,
    request: &[u8],
    deadline: SystemTime,
) -> Result<Vec<u8>, RpcError> {
    let internal = CreateSipParticipant::decode(request)
        .map_err(|error| RpcError::new(Code::MalformedRequest, error.to_string()))?;
    let call_id = internal.sip_call_id.clone();
    let trunk_id = internal.sip_trunk_id.clone();
    let mut plan = Plan::new(&calls.config, api_request(internal))
        .map_err(|error| rpc_error(outbound::api_error(error)))?;
    plan.call_id = Some(call_id).filter(|id| !id.is_empty());
    plan.trunk.id = trunk_id;
    let placed = tokio::time::timeout(time_to_answer(deadline), outbound::place(calls, plan)).await;
    let info = match placed {
        Ok(Ok(info)) => info,
        Ok(Err(error)) => return Err(rpc_error(outbound::api_error(error))),
        // Dropping the call's answer cancels the call, as for an API caller who leaves.
        Err(_) => {
            return Err(RpcError::new(
                Code::DeadlineExceeded,
                "the call was not answered before livekit-server's timeout",
            ));
        }
    };
    let reply = CreateSipParticipantReply {
        participant_id: info.participant_id,
        participant_identity: info.participant_identity,
        sip_call_id: info.sip_call_id,
    };
    Ok(reply.encode_to_vec())
}

/// The API request livekit-server resolved, with its trunk inline.
#[allow(deprecated)] // media_encryption: livekit-server still sends it
fn api_request(internal: CreateSipParticipant) -> CreateSipParticipantRequest {
    let trunk = SipOutboundConfig {
        hostname: internal.address,
        transport: internal.transport,
        auth_username: internal.username,
        auth_password: internal.password,
        headers_to_attributes: internal.headers_to_attributes.into_iter().collect(),
        attributes_to_headers: internal.attributes_to_headers.into_iter().collect(),
        destination_country: internal.destination_country,
        ..SipOutboundConfig::default()
    };
    let krisp = livekit_protocol::SipFeature::KrispEnabled as i32;
    let duration = |value: Option<prost_types::Duration>| {
        value.map(|value| pbjson_types::Duration {
            seconds: value.seconds,
            nanos: value.nanos,
        })
    };
    CreateSipParticipantRequest {
        trunk: Some(trunk),
        sip_call_to: internal.call_to,
        sip_number: internal.number,
        room_name: internal.room_name,
        participant_identity: internal.participant_identity,
        participant_name: internal.participant_name,
        participant_metadata: internal.participant_metadata,
        participant_attributes: internal.participant_attributes.into_iter().collect(),
        dtmf: internal.dtmf,
        play_dialtone: internal.play_dialtone,
        headers: internal.headers.into_iter().collect(),
        include_headers: internal.include_headers,
        ringing_timeout: duration(internal.ringing_timeout),
        max_call_duration: duration(internal.max_call_duration),
        wait_until_answered: internal.wait_until_answered,
        display_name: internal.display_name,
        krisp_enabled: internal.enabled_features.contains(&krisp),
        media_encryption: internal.media_encryption,
        media: internal.media,
        destination: internal.destination,
        sip_request_uri: internal.sip_request_uri,
        sip_from_header: internal.sip_from_header,
        sip_to_header: internal.sip_to_header,
        to_user_override: internal.to_user_override,
        ..CreateSipParticipantRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_resolved_trunk_becomes_an_inline_one() {
        let internal = CreateSipParticipant {
            address: "carrier.example:5080".into(),
            number: "+15550100".into(),
            call_to: "+15557770001".into(),
            username: "user".into(),
            password: "secret".into(),
            room_name: "room".into(),
            participant_identity: "callee".into(),
            transport: 2,
            headers: BTreeMap::from([("X-Tag".into(), "1".into())]),
            ringing_timeout: Some(prost_types::Duration {
                seconds: 12,
                nanos: 0,
            }),
            wait_until_answered: true,
            ..CreateSipParticipant::default()
        };
        let request = api_request(internal);
        let trunk = request.trunk.clone().unwrap_or_default();
        assert_eq!(trunk.hostname, "carrier.example:5080");
        assert_eq!((trunk.auth_username.as_str(), trunk.transport), ("user", 2));
        assert_eq!(request.sip_number, "+15550100");
        assert_eq!(request.sip_call_to, "+15557770001");
        assert_eq!(request.headers["X-Tag"], "1");
        assert_eq!(request.ringing_timeout.map(|d| d.seconds), Some(12));
        assert!(request.wait_until_answered);
        assert!(request.sip_trunk_id.is_empty());
        assert_eq!(request.display_name, None);
        assert!(!request.krisp_enabled);
    }

    #[test]
    fn what_the_node_does_not_carry_out_reaches_the_plan_to_be_refused() {
        let internal = CreateSipParticipant {
            enabled_features: vec![livekit_protocol::SipFeature::KrispEnabled as i32],
            to_user_override: "alice".into(),
            display_name: Some("Reception".into()),
            ..CreateSipParticipant::default()
        };
        let request = api_request(internal);
        assert!(request.krisp_enabled);
        assert_eq!(request.to_user_override, "alice");
        assert_eq!(request.display_name.as_deref(), Some("Reception"));
    }
}
