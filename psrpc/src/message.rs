//! psrpc's four messages (its `internal` protobuf package) and the envelope they travel in.
//! Field numbers are psrpc's; fields psrpc keeps only for old peers (the `Any` forms of the
//! request and response) are left out, so they are skipped when read and never written.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message as _;
use prost_types::Any;

/// A call: published by the client on the method's request channel.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub request_id: String,
    #[prost(string, tag = "2")]
    pub client_id: String,
    /// Unix nanoseconds, wall clock.
    #[prost(int64, tag = "3")]
    pub sent_at: i64,
    /// Unix nanoseconds, wall clock: the request is dropped after it, and it is the handler's
    /// deadline.
    #[prost(int64, tag = "4")]
    pub expiry: i64,
    /// Every server answers (not used by the SIP methods).
    #[prost(bool, tag = "5")]
    pub multi: bool,
    #[prost(btree_map = "string, string", tag = "7")]
    pub metadata: BTreeMap<String, String>,
    /// The method's request message, encoded.
    #[prost(bytes = "vec", tag = "8")]
    pub raw_request: Vec<u8>,
}

/// A server's answer, on the client's response channel.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub request_id: String,
    #[prost(string, tag = "2")]
    pub server_id: String,
    #[prost(int64, tag = "3")]
    pub sent_at: i64,
    /// Non-empty: the call failed (whatever `code` says).
    #[prost(string, tag = "5")]
    pub error: String,
    #[prost(string, tag = "6")]
    pub code: String,
    /// The method's response message, encoded.
    #[prost(bytes = "vec", tag = "7")]
    pub raw_response: Vec<u8>,
    #[prost(message, repeated, tag = "8")]
    pub error_details: Vec<Any>,
}

/// A server's bid for a request, on the client's claim channel.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClaimRequest {
    #[prost(string, tag = "1")]
    pub request_id: String,
    #[prost(string, tag = "2")]
    pub server_id: String,
    /// How well the server suits the request; the SIP methods do not weigh it, and psrpc
    /// servers without an affinity function send 1.
    #[prost(float, tag = "3")]
    pub affinity: f32,
}

/// The client's award of a request to one server, on the method's claim-award channel.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClaimResponse {
    #[prost(string, tag = "1")]
    pub request_id: String,
    #[prost(string, tag = "2")]
    pub server_id: String,
}

/// Any of the four, as published.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    Request(Request),
    Response(Response),
    ClaimRequest(ClaimRequest),
    ClaimResponse(ClaimResponse),
}

const TYPE_URL_PREFIX: &str = "type.googleapis.com/internal.";

/// Why a payload was not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a protobuf Any: {0}")]
    NotAny(String),
    /// Another psrpc message (a stream's) or something else entirely: skipped.
    #[error("a message of type {0}")]
    OtherType(String),
    #[error("a {kind} that does not decode: {detail}")]
    Body { kind: &'static str, detail: String },
    #[error("a compressed message that does not inflate: {0}")]
    Compression(String),
}

impl Envelope {
    /// The bytes to publish: a `google.protobuf.Any` of psrpc's message.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, value) = match self {
            Self::Request(m) => ("Request", m.encode_to_vec()),
            Self::Response(m) => ("Response", m.encode_to_vec()),
            Self::ClaimRequest(m) => ("ClaimRequest", m.encode_to_vec()),
            Self::ClaimResponse(m) => ("ClaimResponse", m.encode_to_vec()),
        };
        Any {
            type_url: format!("{TYPE_URL_PREFIX}{kind}"),
            value,
        }
        .encode_to_vec()
    }

    /// A payload read off a channel; gzip-compressed ones too (psrpc v0.8 compresses large
    /// payloads when its publisher is told to).
    pub fn decode(payload: &[u8]) -> Result<Self, EnvelopeError> {
        let msg = Msg::decode(payload).map_err(|e| EnvelopeError::NotAny(e.to_string()))?;
        let kind = msg
            .type_url
            .strip_prefix(TYPE_URL_PREFIX)
            .ok_or_else(|| EnvelopeError::OtherType(msg.type_url.clone()))?;
        let value = match msg.compression {
            COMPRESSION_NONE => msg.value,
            COMPRESSION_GZIP => gunzip(&msg.value)?,
            other => {
                return Err(EnvelopeError::Compression(format!(
                    "unknown compression {other}"
                )));
            }
        };
        let value = value.as_slice();
        let body = |kind: &'static str, error: prost::DecodeError| EnvelopeError::Body {
            kind,
            detail: error.to_string(),
        };
        match kind {
            "Request" => Request::decode(value)
                .map(Self::Request)
                .map_err(|e| body("Request", e)),
            "Response" => Response::decode(value)
                .map(Self::Response)
                .map_err(|e| body("Response", e)),
            "ClaimRequest" => ClaimRequest::decode(value)
                .map(Self::ClaimRequest)
                .map_err(|e| body("ClaimRequest", e)),
            "ClaimResponse" => ClaimResponse::decode(value)
                .map(Self::ClaimResponse)
                .map_err(|e| body("ClaimResponse", e)),
            _ => Err(EnvelopeError::OtherType(msg.type_url.clone())),
        }
    }
}

/// psrpc's `internal.Msg`: a `google.protobuf.Any` on the wire (`channel` is always empty on
/// Redis) plus, from psrpc v0.8, how `value` is compressed.
#[derive(Clone, PartialEq, prost::Message)]
struct Msg {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
    #[prost(int32, tag = "4")]
    compression: i32,
}

const COMPRESSION_NONE: i32 = 0;
const COMPRESSION_GZIP: i32 = 1;

/// The most a compressed message may inflate to: SIP requests are a few KiB; anything near
/// this is not one of them.
const MAX_INFLATED: u64 = 4 << 20;

fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    use std::io::Read as _;
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| EnvelopeError::Compression(e.to_string()))?;
    if inflated.len() as u64 > MAX_INFLATED {
        return Err(EnvelopeError::Compression("inflates past 4 MiB".into()));
    }
    Ok(inflated)
}

/// A message's time: wall-clock Unix nanoseconds.
pub(crate) fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
