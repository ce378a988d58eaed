//! An API error as psrpc carries it back to livekit-server, which makes it the Twirp error
//! its API caller sees: the same code, and the SIP status as a `livekit.SIPStatus` detail
//! (livekit-server puts it in the error's meta, which the SDKs raise as `SipCallError`).

use sipbridge_psrpc::{Code, RpcError};

use crate::api::{ApiError, TwirpCode};

pub(super) fn rpc_error(error: ApiError) -> RpcError {
    let mut rpc = RpcError::new(psrpc_code(error.code), error.msg);
    if let Some(status) = &error.sip {
        rpc = rpc.with_sip_status(status.code, &status.reason);
    }
    rpc
}

/// livekit-server maps psrpc codes to gRPC codes, then to Twirp codes, by name: each Twirp
/// code goes as its namesake so the API caller sees the code the standalone API gives.
fn psrpc_code(code: TwirpCode) -> Code {
    match code {
        TwirpCode::Canceled => Code::Canceled,
        TwirpCode::Unknown => Code::Unknown,
        TwirpCode::InvalidArgument | TwirpCode::Malformed => Code::InvalidArgument,
        TwirpCode::DeadlineExceeded => Code::DeadlineExceeded,
        TwirpCode::NotFound | TwirpCode::BadRoute => Code::NotFound,
        TwirpCode::AlreadyExists => Code::AlreadyExists,
        TwirpCode::PermissionDenied => Code::PermissionDenied,
        TwirpCode::Unauthenticated => Code::Unauthenticated,
        TwirpCode::ResourceExhausted => Code::ResourceExhausted,
        TwirpCode::FailedPrecondition => Code::FailedPrecondition,
        TwirpCode::Aborted => Code::Aborted,
        TwirpCode::OutOfRange => Code::OutOfRange,
        TwirpCode::Unimplemented => Code::Unimplemented,
        TwirpCode::Internal => Code::Internal,
        TwirpCode::Unavailable => Code::Unavailable,
        TwirpCode::DataLoss => Code::DataLoss,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sipbridge_signaling::outcome::SipStatus;

    use super::*;

    #[test]
    fn a_refused_call_keeps_its_code_and_sip_status() {
        let busy = ApiError::from_sip(&SipStatus::new(486, "Busy Here"), "sip status 486");
        let rpc = rpc_error(busy);
        assert_eq!(rpc.code, Code::ResourceExhausted);
        assert_eq!(rpc.sip_status(), Some((486, "Busy Here".to_owned())));
        assert_eq!(rpc.message, "sip status 486");
        let plain = rpc_error(ApiError::new(TwirpCode::InvalidArgument, "no number"));
        assert_eq!(
            (plain.code, plain.details.len()),
            (Code::InvalidArgument, 0)
        );
    }
}
