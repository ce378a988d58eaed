//! Data packets on the room's data channels: DTMF digits and user messages with a topic.

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

/// Decodes a packet from the server. Kinds the bridge has no use for (transcriptions, RPC,
/// streams, ...) give `None`; bytes that are not a `DataPacket` give an error for the log.
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
        _ => return Ok(None),
    };
    Ok(Some(ReceivedData {
        from_identity,
        delivery,
        payload,
    }))
}

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
