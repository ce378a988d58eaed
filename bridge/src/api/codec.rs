//! The two Twirp body encodings (spec v7, "Requests"): the request's Content-Type chooses how
//! the body is decoded and how the response is encoded.
//!
//! The official SDKs use one each: Node `livekit-server-sdk` posts proto3 JSON (camelCase
//! names, enums by name, durations as `"30s"`) with `application/json;charset=UTF-8`; Python
//! `livekit-api` posts `application/protobuf`.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, TwirpCode};

/// The media type of JSON bodies and of every error body.
pub(crate) const JSON: &str = "application/json";
/// The media type of binary protobuf bodies.
pub(crate) const PROTOBUF: &str = "application/protobuf";

/// How a request body is encoded, and so how its response will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    /// The encoding named by the request's Content-Type. Parameters are ignored and the type
    /// is case-insensitive (RFC 9110 §8.3.1), as the Node SDK appends `;charset=UTF-8`. Any
    /// other type is `bad_route`: that is what the Twirp spec, and its reference server, say.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Err(ApiError::new(
                TwirpCode::BadRoute,
                format!("missing Content-Type: send {JSON} or {PROTOBUF}"),
            ));
        };
        let unexpected = || {
            ApiError::new(
                TwirpCode::BadRoute,
                format!(
                    "unexpected Content-Type {:?}: send {JSON} or {PROTOBUF}",
                    String::from_utf8_lossy(value.as_bytes())
                ),
            )
        };
        let text = value.to_str().map_err(|_| unexpected())?;
        let media_type = text.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(JSON) {
            Ok(Self::Json)
        } else if media_type.eq_ignore_ascii_case(PROTOBUF) {
            Ok(Self::Protobuf)
        } else {
            Err(unexpected())
        }
    }

    /// The media type of responses in this encoding.
    pub(crate) const fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON,
            Self::Protobuf => PROTOBUF,
        }
    }

    /// Decodes a request body; anything that does not decode is `malformed`.
    ///
    /// JSON accepts both the camelCase and the proto field names and skips fields it does not
    /// know (livekit-protocol's pbjson impls), as twirp's own servers do with
    /// `DiscardUnknown`, so newer SDKs keep working.
    pub(crate) fn decode<M>(self, body: &[u8]) -> Result<M, ApiError>
    where
        M: prost::Message + Default + DeserializeOwned,
    {
        match self {
            Self::Json => serde_json::from_slice(body).map_err(|e| {
                ApiError::new(
                    TwirpCode::Malformed,
                    format!("the JSON request could not be decoded: {e}"),
                )
            }),
            Self::Protobuf => M::decode(body).map_err(|e| {
                ApiError::new(
                    TwirpCode::Malformed,
                    format!("the protobuf request could not be decoded: {e}"),
                )
            }),
        }
    }

    /// The 200 response carrying `message`. JSON uses the camelCase names, which the Node
    /// SDK's `fromJson` reads (it also accepts proto names).
    pub(crate) fn respond<M>(self, message: &M) -> Result<Response, ApiError>
    where
        M: prost::Message + Serialize,
    {
        let body = match self {
            Self::Json => serde_json::to_vec(message).map_err(|e| {
                // Only a message we built wrongly (an enum value out of range) gets here.
                ApiError::new(
                    TwirpCode::Internal,
                    format!("the response could not be encoded: {e}"),
                )
            })?,
            Self::Protobuf => message.encode_to_vec(),
        };
        Ok(([(header::CONTENT_TYPE, self.content_type())], body).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use livekit_protocol::{CreateSipParticipantRequest, SipHeaderOptions, SipParticipantInfo};

    fn headers(content_type: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_bytes(content_type).unwrap();
        headers.insert(header::CONTENT_TYPE, value);
        headers
    }

    #[test]
    fn content_types_are_matched_without_parameters_or_case() {
        for (value, expected) in [
            (&b"application/json"[..], Encoding::Json),
            (b"application/json;charset=UTF-8", Encoding::Json),
            (b"Application/JSON ; charset=utf-8", Encoding::Json),
            (b"application/protobuf", Encoding::Protobuf),
        ] {
            assert_eq!(Encoding::from_headers(&headers(value)), Ok(expected));
        }
    }

    #[test]
    fn other_content_types_are_bad_route_naming_the_type() {
        for value in [&b"text/plain"[..], b"application/x-protobuf", b"", b"\xff"] {
            let error = Encoding::from_headers(&headers(value)).unwrap_err();
            assert_eq!(error.code, TwirpCode::BadRoute);
            assert!(error.msg.starts_with("unexpected Content-Type"), "{error}");
        }
        let error = Encoding::from_headers(&HeaderMap::new()).unwrap_err();
        assert_eq!(error.code, TwirpCode::BadRoute);
        assert!(error.msg.contains("missing Content-Type"), "{error}");
    }

    /// The body the Node SDK 2.19.2 sends (`CreateSIPParticipantRequest.toJson()`), captured
    /// from the SDK: camelCase names, the enum by name, the duration as a string.
    const NODE_BODY: &str = r#"{"sipTrunkId":"ST_x","sipCallTo":"+1555","roomName":"r","participantIdentity":"p","participantAttributes":{"a":"b"},"ringingTimeout":"30s","includeHeaders":"SIP_X_HEADERS","waitUntilAnswered":true}"#;

    #[test]
    fn the_node_sdks_json_decodes() {
        let request: CreateSipParticipantRequest =
            Encoding::Json.decode(NODE_BODY.as_bytes()).unwrap();
        assert_eq!(request.sip_trunk_id, "ST_x");
        assert_eq!(request.sip_call_to, "+1555");
        assert_eq!(request.participant_attributes["a"], "b");
        assert_eq!(request.ringing_timeout.map(|d| d.seconds), Some(30));
        assert_eq!(
            request.include_headers,
            SipHeaderOptions::SipXHeaders as i32
        );
        assert!(request.wait_until_answered);
    }

    #[test]
    fn proto_names_and_unknown_fields_are_accepted() {
        let body = br#"{"sip_trunk_id":"ST_y","room_name":"r","someFutureField":{"x":1}}"#;
        let request: CreateSipParticipantRequest = Encoding::Json.decode(body).unwrap();
        assert_eq!(request.sip_trunk_id, "ST_y");
    }

    #[test]
    fn undecodable_bodies_are_malformed() {
        for (encoding, body) in [
            (Encoding::Json, &b""[..]),
            (Encoding::Json, b"{\"roomName\": 5}"),
            (Encoding::Json, b"[1,2"),
            (Encoding::Protobuf, b"\x0a\x05ab"),
        ] {
            let error = encoding
                .decode::<CreateSipParticipantRequest>(body)
                .unwrap_err();
            assert_eq!(error.code, TwirpCode::Malformed, "{encoding:?} {body:?}");
        }
    }

    #[tokio::test]
    async fn responses_use_camel_case_json_or_protobuf() {
        let info = SipParticipantInfo {
            participant_id: "PA_1".into(),
            participant_identity: "sip-1".into(),
            room_name: "r".into(),
            sip_call_id: "SCL_1".into(),
        };
        let response = Encoding::Json.respond(&info).unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            &body[..],
            br#"{"participantId":"PA_1","participantIdentity":"sip-1","roomName":"r","sipCallId":"SCL_1"}"#
        );

        let response = Encoding::Protobuf.respond(&info).unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROTOBUF);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            <SipParticipantInfo as prost::Message>::decode(body).unwrap(),
            info
        );
    }
}
