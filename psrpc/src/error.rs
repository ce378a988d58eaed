//! psrpc's errors: a code (a string on the wire), a message, and details as protobuf `Any`s.
//! A response whose error message is empty is a success, whatever its code says.

use livekit_protocol::SipStatus;
use prost::Message as _;
use prost_types::Any;

/// psrpc's error codes, by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Canceled,
    MalformedRequest,
    MalformedResponse,
    DeadlineExceeded,
    Unavailable,
    Unknown,
    InvalidArgument,
    NotFound,
    NotAcceptable,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    DataLoss,
    Unauthenticated,
    UnprocessableEntity,
    UpstreamServerError,
    UpstreamClientError,
}

impl Code {
    const ALL: [Self; 22] = [
        Self::Canceled,
        Self::MalformedRequest,
        Self::MalformedResponse,
        Self::DeadlineExceeded,
        Self::Unavailable,
        Self::Unknown,
        Self::InvalidArgument,
        Self::NotFound,
        Self::NotAcceptable,
        Self::AlreadyExists,
        Self::PermissionDenied,
        Self::ResourceExhausted,
        Self::FailedPrecondition,
        Self::Aborted,
        Self::OutOfRange,
        Self::Unimplemented,
        Self::Internal,
        Self::DataLoss,
        Self::Unauthenticated,
        Self::UnprocessableEntity,
        Self::UpstreamServerError,
        Self::UpstreamClientError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canceled => "canceled",
            Self::MalformedRequest => "malformed_request",
            // psrpc's name for it on the wire.
            Self::MalformedResponse => "malformed_result",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
            Self::InvalidArgument => "invalid_argument",
            Self::NotFound => "not_found",
            Self::NotAcceptable => "not_acceptable",
            Self::AlreadyExists => "already_exists",
            Self::PermissionDenied => "permission_denied",
            Self::ResourceExhausted => "resource_exhausted",
            Self::FailedPrecondition => "failed_precondition",
            Self::Aborted => "aborted",
            Self::OutOfRange => "out_of_range",
            Self::Unimplemented => "unimplemented",
            Self::Internal => "internal",
            Self::DataLoss => "data_loss",
            Self::Unauthenticated => "unauthenticated",
            Self::UnprocessableEntity => "unprocessable_entity",
            Self::UpstreamServerError => "upstream_server_error",
            Self::UpstreamClientError => "upstream_client_error",
        }
    }

    /// A code read off the wire; an empty or unknown one is `unknown`, as psrpc reads it.
    pub fn parse(text: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .unwrap_or(Self::Unknown)
    }
}

/// An RPC that failed: what the server said, or what the client found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RpcError {
    pub code: Code,
    pub message: String,
    pub details: Vec<Any>,
}

/// The type URL livekit-server looks for to put a SIP status in the Twirp error's meta.
pub const SIP_STATUS_TYPE_URL: &str = "type.googleapis.com/livekit.SIPStatus";

impl RpcError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// With a `livekit.SIPStatus` detail: livekit-server copies it into the Twirp error's
    /// meta (`sip_status_code`, `sip_status`), which the SDKs raise as `SipCallError`.
    pub fn with_sip_status(mut self, code: u16, status: &str) -> Self {
        let status = SipStatus {
            code: i32::from(code),
            status: status.to_owned(),
        };
        self.details.push(Any {
            type_url: SIP_STATUS_TYPE_URL.to_owned(),
            value: status.encode_to_vec(),
        });
        self
    }

    /// The first `livekit.SIPStatus` among the details: its code and phrase.
    pub fn sip_status(&self) -> Option<(u16, String)> {
        let detail = self
            .details
            .iter()
            .find(|detail| detail.type_url == SIP_STATUS_TYPE_URL)?;
        let status = SipStatus::decode(detail.value.as_slice()).ok()?;
        Some((u16::try_from(status.code).ok()?, status.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_from_their_wire_names() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), code);
        }
        assert_eq!(Code::parse(""), Code::Unknown);
        assert_eq!(Code::parse("teapot"), Code::Unknown);
        assert_eq!(Code::MalformedResponse.as_str(), "malformed_result");
    }

    #[test]
    fn a_sip_status_detail_round_trips() {
        let error = RpcError::new(Code::ResourceExhausted, "INVITE failed")
            .with_sip_status(486, "Busy Here");
        assert_eq!(error.sip_status(), Some((486, "Busy Here".to_owned())));
        assert_eq!(error.details[0].type_url, SIP_STATUS_TYPE_URL);
    }
}
