//! Data packets on the room's data channels: DTMF digits, user messages with a topic, and
//! the packets of LiveKit's participant RPC (version 1: a request, our ack, our response).

use livekit_protocol as proto;
use prost::Message;
use proto::data_packet::Value;

/// Which data channel a packet travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// `_reliable`: ordered and retransmitted. DTMF uses it: a lost digit is a wrong number.
    Reliable,
    /// `_lossy`: unordered, no retransmission.
    Lossy,
}

impl Delivery {
    pub(super) fn label(self) -> &'static str {
        match self {
            Delivery::Reliable => "_reliable",
            Delivery::Lossy => "_lossy",
        }
    }
}

/// What a data packet carries, in the kinds the bridge uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A DTMF digit (`SipDTMF`): `code` is the RFC 4733 event number, `digit` its character.
    Dtmf { code: u32, digit: String },
    /// An application message.
    User {
        topic: Option<String>,
        payload: Vec<u8>,
    },
    /// A participant RPC addressed to us.
    RpcRequest(RpcRequest),
    /// We have the request `request_id` and are working on it.
    RpcAck { request_id: String },
    /// The answer to request `request_id`: a payload, or an error.
    RpcResponse {
        request_id: String,
        result: Result<String, RpcError>,
    },
}

/// A participant RPC request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcRequest {
    pub id: String,
    pub method: String,
    pub payload: String,
    /// The RPC protocol version the caller speaks (1 is the one there is).
    pub version: u32,
}

/// An RPC error, with one of the codes LiveKit's SDKs define (1400 unsupported method, 1404
/// unsupported version, 1500 application error, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: u32,
    pub message: String,
}

/// A packet received from another room member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedData {
    pub from_identity: String,
    pub delivery: Delivery,
    pub payload: Payload,
}

/// Encodes a packet we send. The server fills in our identity; `destinations` empty means
/// everyone in the room.
pub(super) fn encode(payload: &Payload, delivery: Delivery, destinations: &[String]) -> Vec<u8> {
    let value = match payload {
        Payload::Dtmf { code, digit } => Value::SipDtmf(proto::SipDtmf {
            code: *code,
            digit: digit.clone(),
        }),
        Payload::User { topic, payload } => Value::User(proto::UserPacket {
            payload: payload.clone(),
            topic: topic.clone(),
            ..Default::default()
        }),
        Payload::RpcRequest(request) => Value::RpcRequest(proto::RpcRequest {
            id: request.id.clone(),
            method: request.method.clone(),
            payload: request.payload.clone(),
            version: request.version,
            ..Default::default()
        }),
        Payload::RpcAck { request_id } => Value::RpcAck(proto::RpcAck {
            request_id: request_id.clone(),
        }),
        Payload::RpcResponse { request_id, result } => {
            use proto::rpc_response::Value as Answer;
            let value = match result {
                Ok(payload) => Answer::Payload(payload.clone()),
                Err(error) => Answer::Error(proto::RpcError {
                    code: error.code,
                    message: error.message.clone(),
                    data: String::new(),
                }),
            };
            Value::RpcResponse(proto::RpcResponse {
                request_id: request_id.clone(),
                value: Some(value),
            })
        }
    };
    #[allow(deprecated)] // `kind` is deprecated in favour of the channel, but old servers read it.
    let kind = match delivery {
        Delivery::Reliable => proto::data_packet::Kind::Reliable,
        Delivery::Lossy => proto::data_packet::Kind::Lossy,
    } as i32;
    #[allow(deprecated)]
    let packet = proto::DataPacket {
        kind,
        destination_identities: destinations.to_vec(),
        value: Some(value),
        ..Default::default()
    };
    packet.encode_to_vec()
}

/// Decodes a packet from the server. Kinds the bridge has no use for (transcriptions, RPC
/// answers, streams, ...) give `None`; bytes that are not a `DataPacket` give an error for the
/// log.
pub(super) fn decode(
    bytes: &[u8],
    delivery: Delivery,
) -> Result<Option<ReceivedData>, prost::DecodeError> {
    let packet = proto::DataPacket::decode(bytes)?;
    let from_identity = packet.participant_identity;
    let payload = match packet.value {
        Some(Value::SipDtmf(d)) => Payload::Dtmf {
            code: d.code,
            digit: d.digit,
        },
        Some(Value::User(u)) => Payload::User {
            topic: u.topic,
            payload: u.payload,
        },
        Some(Value::RpcRequest(r)) => Payload::RpcRequest(RpcRequest {
            payload: if r.compressed_payload.is_empty() {
                r.payload
            } else {
                // Unreadable: dropped like any packet we cannot use; the caller times out.
                let Some(payload) = inflate(&r.compressed_payload) else {
                    return Ok(None);
                };
                payload
            },
            id: r.id,
            method: r.method,
            version: r.version,
        }),
        _ => return Ok(None),
    };
    Ok(Some(ReceivedData {
        from_identity,
        delivery,
        payload,
    }))
}

/// A compressed RPC payload: raw deflate (the `CapCompressionDeflateRaw` our client info
/// advertises), UTF-8 inside.
fn inflate(compressed: &[u8]) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(compressed)
        .take(MAX_RPC_PAYLOAD)
        .read_to_string(&mut text)
        .inspect_err(|error| tracing::debug!(%error, "compressed RPC payload unreadable"))
        .ok()?;
    Some(text)
}

/// LiveKit's RPC payloads are at most 15 KiB; room for more, never unbounded.
const MAX_RPC_PAYLOAD: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_and_user_packets_round_trip() {
        for payload in [
            Payload::Dtmf {
                code: 11,
                digit: "#".into(),
            },
            Payload::User {
                topic: Some("chat".into()),
                payload: b"hi".to_vec(),
            },
            Payload::RpcRequest(RpcRequest {
                id: "r1".into(),
                method: "lk.sip.EndCall".into(),
                payload: "{}".into(),
                version: 1,
            }),
        ] {
            let bytes = encode(&payload, Delivery::Reliable, &[]);
            let got = decode(&bytes, Delivery::Reliable).unwrap().unwrap();
            assert_eq!(got.payload, payload);
        }
    }

    #[test]
    fn garbage_is_an_error_and_other_kinds_are_ignored() {
        assert!(decode(&[0xff, 0xff, 0xff], Delivery::Lossy).is_err());
        let speaker = proto::DataPacket {
            value: Some(Value::Transcription(Default::default())),
            ..Default::default()
        };
        assert_eq!(
            decode(&speaker.encode_to_vec(), Delivery::Lossy).unwrap(),
            None
        );
    }
}

#[cfg(test)]
mod rpc_tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_compressed_rpc_payload_is_inflated() {
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(br#"{"include":["X-Case"]}"#).unwrap();
        let packet = proto::DataPacket {
            value: Some(Value::RpcRequest(proto::RpcRequest {
                id: "r2".into(),
                method: "lk.sip.GetRemoteHeaders".into(),
                compressed_payload: deflate.finish().unwrap(),
                version: 1,
                ..Default::default()
            })),
            ..Default::default()
        };
        let got = decode(&packet.encode_to_vec(), Delivery::Reliable).unwrap();
        let Some(ReceivedData {
            payload: Payload::RpcRequest(request),
            ..
        }) = got
        else {
            panic!("{got:?}");
        };
        assert_eq!(request.payload, r#"{"include":["X-Case"]}"#);
    }

    #[test]
    fn answers_encode_as_livekits_rpc_packets() {
        let error = RpcError {
            code: 1400,
            message: "Method not supported at destination".into(),
        };
        let bytes = encode(
            &Payload::RpcResponse {
                request_id: "r3".into(),
                result: Err(error),
            },
            Delivery::Reliable,
            &["agent".into()],
        );
        let packet = proto::DataPacket::decode(&bytes[..]).unwrap();
        assert_eq!(packet.destination_identities, ["agent"]);
        let Some(Value::RpcResponse(response)) = packet.value else {
            panic!("{packet:?}");
        };
        assert_eq!(response.request_id, "r3");
        assert!(matches!(
            response.value,
            Some(proto::rpc_response::Value::Error(proto::RpcError {
                code: 1400,
                ..
            }))
        ));
    }
}
