//! Golden bytes: messages psrpc v0.7.2 published on Redis for livekit-server and a SIP node
//! (tapped with MONITOR), read here and written back byte for byte.
#![allow(clippy::unwrap_used)]

use livekit_protocol::SipStatus;
use prost::Message as _;

use super::*;
use crate::error::SIP_STATUS_TYPE_URL;

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A server's bid, on `SIPInternal|CLI_livekitsrv1|CLAIM`.
const CLAIM_REQUEST: &str = "0a29747970652e676f6f676c65617069732e636f6d2f696e7465726e616c2e436c61696d5265717565737412290a105245515f383247524c5466425a73794612105352565f494b5855714335693853564e1d0000803f";

/// A SIP node's GetSIPTrunkAuthentication, on `IOInfo|GetSIPTrunkAuthentication|REQ`.
const REQUEST: &str = "0a24747970652e676f6f676c65617069732e636f6d2f696e7465726e616c2e5265717565737412440a105245515f6875597a6c71353756384937120f434c495f7369706e6f6465303030311888cbc9dd9e87b8f7182088878bf4a987b8f718420b42090a0753434c5f696e31";

/// A SIP node's answer to CreateSIPParticipant for a phone that said 486.
const ERROR_RESPONSE: &str = "0a25747970652e676f6f676c65617069732e636f6d2f696e7465726e616c2e526573706f6e736512a6010a105245515f5473703344526c485167364f12105352565f494b5855714335693853564e18afc6af819887b8f7182a29494e56495445206661696c65643a20736970207374617475733a203438363a2042757379204865726532127265736f757263655f65786861757374656442370a25747970652e676f6f676c65617069732e636f6d2f6c6976656b69742e534950537461747573120e08e6031209427573792048657265";

#[test]
fn a_claim_request_reads_and_writes_as_psrpc_does() {
    let wire = bytes(CLAIM_REQUEST);
    let Envelope::ClaimRequest(claim) = Envelope::decode(&wire).unwrap() else {
        panic!("not a claim request");
    };
    assert_eq!(claim.request_id, "REQ_82GRLTfBZsyF");
    assert_eq!(claim.server_id, "SRV_IKXUqC5i8SVN");
    assert!((claim.affinity - 1.0).abs() < f32::EPSILON);
    assert_eq!(Envelope::ClaimRequest(claim).encode(), wire);
}

#[test]
fn a_request_reads_and_writes_as_psrpc_does() {
    let wire = bytes(REQUEST);
    let Envelope::Request(request) = Envelope::decode(&wire).unwrap() else {
        panic!("not a request");
    };
    assert_eq!(request.request_id, "REQ_huYzlq57V8I7");
    assert_eq!(request.client_id, "CLI_sipnode0001");
    assert_eq!(request.sent_at, 1_796_619_840_739_501_448);
    // Three seconds, psrpc's default timeout.
    assert_eq!(request.expiry - request.sent_at, 3_000_000_000);
    assert!(!request.multi && request.metadata.is_empty());
    // GetSIPTrunkAuthenticationRequest{call: SIPCall{lk_call_id: "SCL_in1"}}.
    assert_eq!(request.raw_request, b"B\t\n\x07SCL_in1");
    assert_eq!(Envelope::Request(request).encode(), wire);
}

#[test]
fn an_error_response_carries_its_code_and_sip_status() {
    let wire = bytes(ERROR_RESPONSE);
    let Envelope::Response(response) = Envelope::decode(&wire).unwrap() else {
        panic!("not a response");
    };
    assert_eq!(response.error, "INVITE failed: sip status: 486: Busy Here");
    assert_eq!(response.code, "resource_exhausted");
    let detail = &response.error_details[0];
    assert_eq!(detail.type_url, SIP_STATUS_TYPE_URL);
    let status = SipStatus::decode(detail.value.as_slice()).unwrap();
    assert_eq!((status.code, status.status.as_str()), (486, "Busy Here"));
    assert_eq!(Envelope::Response(response).encode(), wire);
}

#[test]
fn other_payloads_are_refused_not_misread() {
    let stream = Any {
        type_url: "type.googleapis.com/internal.Stream".into(),
        value: Vec::new(),
    };
    assert_eq!(
        Envelope::decode(&stream.encode_to_vec()),
        Err(EnvelopeError::OtherType(
            "type.googleapis.com/internal.Stream".into()
        ))
    );
    assert!(matches!(
        Envelope::decode(b"\xff\xff\xff"),
        Err(EnvelopeError::NotAny(_))
    ));
    let claim_award = Envelope::ClaimResponse(ClaimResponse {
        request_id: "REQ_1".into(),
        server_id: "SRV_1".into(),
    });
    assert_eq!(Envelope::decode(&claim_award.encode()), Ok(claim_award));
}

/// psrpc v0.8 may gzip a payload's value and say so in field 4 of its envelope: the same
/// claim, compressed, reads the same; a compression we do not know is refused, not guessed.
#[test]
fn a_gzipped_payload_reads_like_the_plain_one() {
    use std::io::Write as _;
    let plain = Msg::decode(bytes(CLAIM_REQUEST).as_slice()).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&plain.value).unwrap();
    let compressed = Msg {
        value: gzip.finish().unwrap(),
        compression: COMPRESSION_GZIP,
        ..plain.clone()
    };
    assert_eq!(
        Envelope::decode(&compressed.encode_to_vec()).unwrap(),
        Envelope::decode(&bytes(CLAIM_REQUEST)).unwrap()
    );
    let unknown = Msg {
        compression: 7,
        ..plain
    };
    assert!(matches!(
        Envelope::decode(&unknown.encode_to_vec()),
        Err(EnvelopeError::Compression(_))
    ));
}
