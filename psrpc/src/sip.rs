//! The SIP methods livekit-server calls on its SIP nodes (`rpc.SIPInternal`), and the part of
//! their messages a node reads and writes (field numbers as in livekit/protocol's
//! `rpc/sip.proto`; fields not listed here are skipped when read).

use std::collections::BTreeMap;

/// The service name in channel names.
pub const SIP_INTERNAL: &str = "SIPInternal";
/// Place a call (topic: none).
pub const CREATE_SIP_PARTICIPANT: &str = "CreateSIPParticipant";
/// Transfer a call (topic: the call's `SCL_` id, from the participant's `sip.callID`).
pub const TRANSFER_SIP_PARTICIPANT: &str = "TransferSIPParticipant";

/// `rpc.InternalCreateSIPParticipantRequest`: a call to place, resolved by livekit-server
/// from the API request and the trunk.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateSipParticipant {
    /// The trunk's address (`host[:port]`).
    #[prost(string, tag = "2")]
    pub address: String,
    /// Our number (the From user).
    #[prost(string, tag = "3")]
    pub number: String,
    /// The number to call.
    #[prost(string, tag = "4")]
    pub call_to: String,
    #[prost(string, tag = "5")]
    pub username: String,
    #[prost(string, tag = "6")]
    pub password: String,
    #[prost(string, tag = "7")]
    pub room_name: String,
    #[prost(string, tag = "8")]
    pub participant_identity: String,
    #[prost(string, tag = "11")]
    pub dtmf: String,
    #[prost(bool, tag = "12")]
    pub play_dialtone: bool,
    /// The call's id (`SCL_…`), chosen by livekit-server.
    #[prost(string, tag = "13")]
    pub sip_call_id: String,
    #[prost(string, tag = "14")]
    pub participant_name: String,
    #[prost(string, tag = "15")]
    pub participant_metadata: String,
    /// `livekit.SIPTransport`.
    #[prost(int32, tag = "16")]
    pub transport: i32,
    #[prost(btree_map = "string, string", tag = "17")]
    pub participant_attributes: BTreeMap<String, String>,
    #[prost(string, tag = "19")]
    pub sip_trunk_id: String,
    #[prost(btree_map = "string, string", tag = "21")]
    pub headers: BTreeMap<String, String>,
    /// Headers of the callee's 200 OK copied into participant attributes: header →
    /// attribute.
    #[prost(btree_map = "string, string", tag = "22")]
    pub headers_to_attributes: BTreeMap<String, String>,
    #[prost(message, optional, tag = "23")]
    pub ringing_timeout: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "24")]
    pub max_call_duration: Option<prost_types::Duration>,
    /// `livekit.SIPHeaderOptions`.
    #[prost(int32, tag = "27")]
    pub include_headers: i32,
    #[prost(bool, tag = "29")]
    pub wait_until_answered: bool,
    // What follows the bridge does not carry out yet: read so that a call asking for it is
    // refused rather than placed without it (`outbound::unbuilt`).
    /// `livekit.SIPFeature`s (1: Krisp noise cancellation).
    #[prost(int32, repeated, tag = "25")]
    pub enabled_features: Vec<i32>,
    #[prost(btree_map = "string, string", tag = "26")]
    pub attributes_to_headers: BTreeMap<String, String>,
    /// `livekit.SIPMediaEncryption`.
    #[prost(int32, tag = "28")]
    pub media_encryption: i32,
    #[prost(string, tag = "30")]
    pub destination_country: String,
    /// The From display name (unset: the number).
    #[prost(string, optional, tag = "31")]
    pub display_name: Option<String>,
    #[prost(message, optional, tag = "32")]
    pub destination: Option<livekit_protocol::Destination>,
    #[prost(message, optional, tag = "34")]
    pub media: Option<livekit_protocol::SipMediaConfig>,
    #[prost(message, optional, tag = "35")]
    pub sip_request_uri: Option<livekit_protocol::SipRequestDest>,
    #[prost(message, optional, tag = "36")]
    pub sip_from_header: Option<livekit_protocol::SipNamedDest>,
    #[prost(message, optional, tag = "37")]
    pub sip_to_header: Option<livekit_protocol::SipNamedDest>,
    #[prost(string, tag = "39")]
    pub to_user_override: String,
}

/// `rpc.InternalCreateSIPParticipantResponse`: the participant placing the call.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateSipParticipantReply {
    #[prost(string, tag = "1")]
    pub participant_id: String,
    #[prost(string, tag = "2")]
    pub participant_identity: String,
    #[prost(string, tag = "3")]
    pub sip_call_id: String,
}

/// `rpc.InternalTransferSIPParticipantRequest`: transfer the call of this node whose id is
/// the request's topic (the answer is `google.protobuf.Empty`: no bytes).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TransferSipParticipant {
    #[prost(string, tag = "1")]
    pub sip_call_id: String,
    /// Where to: a `sip:` or `tel:` URI.
    #[prost(string, tag = "2")]
    pub transfer_to: String,
    #[prost(bool, tag = "3")]
    pub play_dialtone: bool,
    /// Extra headers on the REFER.
    #[prost(btree_map = "string, string", tag = "4")]
    pub headers: BTreeMap<String, String>,
    /// How long the transfer target has to answer (livekit-server fills it in).
    #[prost(message, optional, tag = "5")]
    pub ringing_timeout: Option<prost_types::Duration>,
}
