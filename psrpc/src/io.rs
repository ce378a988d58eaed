//! The IOInfo methods a SIP node calls on livekit-server for an inbound call (`rpc.IOInfo`),
//! and the part of their messages a node writes and reads (field numbers as in
//! livekit/protocol's `rpc/io.proto`; fields not listed here are skipped when read).

use std::collections::BTreeMap;

pub use livekit_protocol::{RoomConfiguration, SipUri};

/// The service name in channel names (livekit-server v1.13.5 serves `IOInfo`, not
/// `IOInfoSIP`).
pub const IO_INFO: &str = "IOInfo";
/// Which trunk an INVITE belongs to, with its credentials (or: drop it).
pub const GET_SIP_TRUNK_AUTHENTICATION: &str = "GetSIPTrunkAuthentication";
/// Where an admitted INVITE goes: the room, the participant, the PIN (or: reject, drop).
pub const EVALUATE_SIP_DISPATCH_RULES: &str = "EvaluateSIPDispatchRules";
/// A call's or transfer's state (livekit-server v1.13.5 accepts it and keeps nothing).
pub const UPDATE_SIP_CALL_STATE: &str = "UpdateSIPCallState";

/// `rpc.UpdateSIPCallStateRequest` (the answer is `google.protobuf.Empty`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CallStateUpdate {
    #[prost(message, optional, tag = "1")]
    pub call_info: Option<livekit_protocol::SipCallInfo>,
    #[prost(message, optional, tag = "2")]
    pub transfer_info: Option<livekit_protocol::SipTransferInfo>,
}

/// `rpc.SIPCall`: the INVITE as livekit-server matches trunks and rules on it.
/// livekit-server v1.13.5 fails on a call without `from` or `to`: always set both.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SipCall {
    /// Our id of the call (`SCL_…`).
    #[prost(string, tag = "1")]
    pub lk_call_id: String,
    /// The INVITE's source address, without port.
    #[prost(string, tag = "2")]
    pub source_ip: String,
    /// The Request-URI.
    #[prost(message, optional, tag = "3")]
    pub address: Option<SipUri>,
    #[prost(message, optional, tag = "4")]
    pub from: Option<SipUri>,
    #[prost(message, optional, tag = "5")]
    pub to: Option<SipUri>,
    /// The SIP Call-ID.
    #[prost(string, tag = "7")]
    pub sip_call_id: String,
}

/// `rpc.GetSIPTrunkAuthenticationRequest`. The flat fields repeat `call`: they are
/// deprecated, but servers of other versions may still read them (LiveKit's own SIP node
/// sends both).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrunkAuthenticationRequest {
    /// The caller's number.
    #[prost(string, tag = "2")]
    pub from: String,
    /// The dialled number.
    #[prost(string, tag = "3")]
    pub to: String,
    #[prost(string, tag = "4")]
    pub src_address: String,
    #[prost(string, tag = "5")]
    pub to_host: String,
    #[prost(string, tag = "6")]
    pub sip_call_id: String,
    #[prost(string, tag = "7")]
    pub from_host: String,
    #[prost(message, optional, tag = "8")]
    pub call: Option<SipCall>,
}

/// `rpc.GetSIPTrunkAuthenticationResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrunkAuthentication {
    /// Digest credentials the caller must present (both empty: none).
    #[prost(string, tag = "1")]
    pub username: String,
    #[prost(string, tag = "2")]
    pub password: String,
    /// Answer nothing at all.
    #[prost(bool, tag = "3")]
    pub drop: bool,
    /// The trunk matched ("" when none).
    #[prost(string, tag = "4")]
    pub sip_trunk_id: String,
    /// `rpc.SIPTrunkAuthenticationError`: 0 none, 1 quota exceeded, 2 no trunk found.
    #[prost(int32, tag = "7")]
    pub error_code: i32,
    #[prost(string, tag = "9")]
    pub realm: String,
}

/// `rpc.EvaluateSIPDispatchRulesRequest`. livekit-server v1.13.5 matches a rule's
/// `numbers`/`inbound_numbers` on the flat (deprecated) fields, not on `call`: set both.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DispatchRequest {
    #[prost(string, tag = "2")]
    pub calling_number: String,
    #[prost(string, tag = "3")]
    pub called_number: String,
    #[prost(string, tag = "4")]
    pub src_address: String,
    #[prost(string, tag = "7")]
    pub called_host: String,
    #[prost(string, tag = "8")]
    pub sip_call_id: String,
    #[prost(string, tag = "11")]
    pub calling_host: String,
    /// The PIN the caller entered, if the rule asked for one.
    #[prost(string, tag = "5")]
    pub pin: String,
    /// The caller has no way to enter a PIN.
    #[prost(bool, tag = "6")]
    pub no_pin: bool,
    #[prost(btree_map = "string, string", tag = "9")]
    pub extra_attributes: BTreeMap<String, String>,
    /// The trunk from the authentication answer.
    #[prost(string, tag = "10")]
    pub sip_trunk_id: String,
    #[prost(message, optional, tag = "12")]
    pub call: Option<SipCall>,
}

/// `rpc.SIPDispatchResult`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum DispatchResult {
    /// Old servers: accept, or ask for a PIN when `request_pin` is set.
    LegacyAcceptOrPin = 0,
    Accept = 1,
    RequestPin = 2,
    Reject = 3,
    Drop = 4,
}

/// `rpc.EvaluateSIPDispatchRulesResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dispatch {
    #[prost(string, tag = "1")]
    pub room_name: String,
    #[prost(string, tag = "2")]
    pub participant_identity: String,
    #[prost(bool, tag = "3")]
    pub request_pin: bool,
    /// Empty from livekit-server OSS: the node mints the token itself.
    #[prost(string, tag = "4")]
    pub token: String,
    #[prost(string, tag = "5")]
    pub ws_url: String,
    #[prost(enumeration = "DispatchResult", tag = "6")]
    pub result: i32,
    #[prost(string, tag = "7")]
    pub participant_name: String,
    #[prost(string, tag = "8")]
    pub participant_metadata: String,
    #[prost(string, tag = "9")]
    pub sip_trunk_id: String,
    #[prost(string, tag = "10")]
    pub sip_dispatch_rule_id: String,
    #[prost(btree_map = "string, string", tag = "11")]
    pub participant_attributes: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "13")]
    pub headers: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "14")]
    pub headers_to_attributes: BTreeMap<String, String>,
    #[prost(message, optional, tag = "16")]
    pub ringing_timeout: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "17")]
    pub max_call_duration: Option<prost_types::Duration>,
    #[prost(btree_map = "string, string", tag = "18")]
    pub attributes_to_headers: BTreeMap<String, String>,
    /// `livekit.SIPHeaderOptions`.
    #[prost(int32, tag = "19")]
    pub include_headers: i32,
    #[prost(string, tag = "20")]
    pub room_preset: String,
    /// The room the rule asks for (agents to dispatch, timeouts): into the caller's token.
    #[prost(message, optional, tag = "21")]
    pub room_config: Option<RoomConfiguration>,
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// psrpc carried this GetSIPTrunkAuthenticationRequest (a call with only its id).
    #[test]
    fn a_trunk_authentication_request_encodes_as_livekit_server_reads_it() {
        let request = TrunkAuthenticationRequest {
            call: Some(SipCall {
                lk_call_id: "SCL_in1".into(),
                ..SipCall::default()
            }),
            ..TrunkAuthenticationRequest::default()
        };
        assert_eq!(request.encode_to_vec(), b"B\t\n\x07SCL_in1");
    }
}
