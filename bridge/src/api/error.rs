//! Twirp errors (protocol v7, "Errors"): the JSON body, the HTTP status each code must carry,
//! and which code a failed SIP call becomes.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sipbridge_signaling::outcome::SipStatus;

/// The Twirp error codes. The set is closed: clients built on twitchtv/twirp reject a code
/// outside it, so nothing else may ever reach the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwirpCode {
    Canceled,
    Unknown,
    InvalidArgument,
    Malformed,
    DeadlineExceeded,
    NotFound,
    BadRoute,
    AlreadyExists,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
}

impl TwirpCode {
    /// The code as it appears in the `code` field of the error body.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Canceled => "canceled",
            Self::Unknown => "unknown",
            Self::InvalidArgument => "invalid_argument",
            Self::Malformed => "malformed",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::NotFound => "not_found",
            Self::BadRoute => "bad_route",
            Self::AlreadyExists => "already_exists",
            Self::PermissionDenied => "permission_denied",
            Self::Unauthenticated => "unauthenticated",
            Self::ResourceExhausted => "resource_exhausted",
            Self::FailedPrecondition => "failed_precondition",
            Self::Aborted => "aborted",
            Self::OutOfRange => "out_of_range",
            Self::Unimplemented => "unimplemented",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            // The spec's table spells it "dataloss", but twitchtv/twirp (which LiveKit's own
            // server and the Go SDK are built on) sends and accepts only "data_loss".
            Self::DataLoss => "data_loss",
        }
    }

    /// The HTTP status the spec requires for this code (v7: `resource_exhausted` is 429,
    /// where v5 had 403).
    pub const fn http_status(self) -> StatusCode {
        match self {
            Self::Canceled | Self::DeadlineExceeded => StatusCode::REQUEST_TIMEOUT,
            Self::InvalidArgument | Self::Malformed | Self::OutOfRange => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::BadRoute => StatusCode::NOT_FOUND,
            Self::AlreadyExists | Self::Aborted => StatusCode::CONFLICT,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
            Self::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Self::Unknown | Self::Internal | Self::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl fmt::Display for TwirpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Twirp code for a call that failed with SIP status `code`.
///
/// | SIP status | Twirp code | HTTP |
/// |---|---|---|
/// | 486 Busy Here, 480 Temporarily Unavailable, 600 Busy Everywhere, 440 Max-Breadth Exceeded | `resource_exhausted` | 429 |
/// | 408 Request Timeout | `deadline_exceeded` | 408 |
/// | 404 Not Found, 410 Gone, 604 Does Not Exist Anywhere, 481 Call/Transaction Does Not Exist, 301/302 Moved | `not_found` | 404 |
/// | 487 Request Terminated | `canceled` | 408 |
/// | 401, 407 (auth still failing), 403 Forbidden, 402, 433, 470, 428/436/437/438/494 (identity, security), 603 Decline, 607 Unwanted, 608 Rejected | `permission_denied` | 403 |
/// | any 5xx | `failed_precondition` | 412 |
/// | 409, 412, 482 Loop Detected, 483 Too Many Hops, 491 Request Pending | `failed_precondition` | 412 |
/// | 416 | `out_of_range` | 400 |
/// | any other 3xx, 4xx, 6xx (e.g. 400, 484, 488, 606) | `invalid_argument` | 400 |
/// | 1xx, 2xx, or outside 100–699: not a failure, so a bug if it gets here | `unknown` | 500 |
///
/// Rows the project fixed itself: 487 is `canceled` and 407 is `permission_denied` (livekit's
/// `sipCodeToGRPCCode` says `aborted` and `unauthenticated`), every 5xx is
/// `failed_precondition` (livekit: 504 `deadline_exceeded`, 505/513 `invalid_argument`), and
/// 491 is `failed_precondition` as docs/OUTCOMES.md requires for a second transfer
/// (livekit: `aborted`). The identity and security codes livekit calls `unauthenticated`
/// are `permission_denied` here for the reason 407 is: HTTP 401 tells an SDK user that their
/// API token is wrong, while the far end refused *the call*. Every other row follows livekit.
pub const fn twirp_code_for_sip(code: u16) -> TwirpCode {
    match code {
        487 => TwirpCode::Canceled,
        408 => TwirpCode::DeadlineExceeded,
        301 | 302 | 404 | 410 | 481 | 604 => TwirpCode::NotFound,
        401 | 402 | 403 | 407 | 428 | 433 | 436 | 437 | 438 | 470 | 494 | 603 | 607 | 608 => {
            TwirpCode::PermissionDenied
        }
        440 | 480 | 486 | 600 => TwirpCode::ResourceExhausted,
        409 | 412 | 482 | 483 | 491 | 500..=599 => TwirpCode::FailedPrecondition,
        416 => TwirpCode::OutOfRange,
        300..=499 | 600..=699 => TwirpCode::InvalidArgument,
        _ => TwirpCode::Unknown,
    }
}

/// An API failure as the caller sees it: a Twirp code, a message, and, when a SIP peer
/// caused it, the SIP status (`meta.sip_status_code`, `meta.sip_status`) from which the
/// official SDKs build their `SipCallError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: TwirpCode,
    pub msg: String,
    pub sip: Option<SipStatus>,
    /// More `meta` entries (a failed transfer's `sip_transfer_reason`, `sip_transfer_id`).
    pub extra_meta: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error with no SIP status.
    pub fn new(code: TwirpCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            sip: None,
            extra_meta: Vec::new(),
        }
    }

    /// The error for a call the SIP peer refused with `status`; the code comes from
    /// [`twirp_code_for_sip`].
    pub fn from_sip(status: &SipStatus, msg: impl Into<String>) -> Self {
        Self {
            code: twirp_code_for_sip(status.code),
            msg: msg.into(),
            sip: Some(status.clone()),
            extra_meta: Vec::new(),
        }
    }

    /// The error with one more `meta` entry.
    pub fn with_meta(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.extra_meta.push((key, value.into()));
        self
    }

    /// The `meta` object. Twirp meta values are strings, so the code is its decimal text
    /// (both SDKs convert it back with `Number()` / `int()`). An empty phrase becomes the
    /// `livekit.SIPStatusCode` name, as livekit's own server does, so `sip_status` is never
    /// empty.
    pub fn meta(&self) -> BTreeMap<&'static str, String> {
        let mut meta = BTreeMap::new();
        if let Some(status) = &self.sip {
            let phrase = if status.reason.is_empty() {
                livekit_protocol::SipStatusCode::try_from(i32::from(status.code))
                    .map_or_else(|_| status.code.to_string(), |c| c.as_str_name().to_owned())
            } else {
                status.reason.clone()
            };
            meta.insert("sip_status_code", status.code.to_string());
            meta.insert("sip_status", phrase);
        }
        for (key, value) in &self.extra_meta {
            meta.insert(key, value.clone());
        }
        meta
    }

    /// The JSON body: `{"code":…,"msg":…}` plus `"meta"` when there is any.
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'static str,
            msg: &'a str,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            meta: BTreeMap<&'static str, String>,
        }
        let body = Body {
            code: self.code.as_str(),
            msg: &self.msg,
            meta: self.meta(),
        };
        // Strings and a string map always serialize; the fallback only keeps this total.
        serde_json::to_vec(&body)
            .unwrap_or_else(|_| br#"{"code":"internal","msg":"error encoding failed"}"#.to_vec())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.msg)?;
        if let Some(status) = &self.sip {
            write!(f, " (SIP {status})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Errors are JSON whatever the request's encoding (spec v7). The type must be exactly
        // `application/json`: the Node SDK compares the header with `===` before it parses
        // the body, and without a parsed body there is no `meta`, so no `SipCallError`.
        (
            self.code.http_status(),
            [(header::CONTENT_TYPE, super::codec::JSON)],
            self.to_json(),
        )
            .into_response()
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
