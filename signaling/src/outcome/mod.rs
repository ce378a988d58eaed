//! How a call ended → exactly one [`Outcome`]: every way a call can end is a variant of
//! [`Ending`], and [`Ending::outcome`] is the only source of the `DisconnectReason` and SIP
//! status the bridge delivers. The groups: [`SetupFailure`] (the bridge could not take the
//! call on), [`InboundRejection`] (an incoming INVITE never reached a room),
//! [`OutboundEnd`] (our INVITE never became a call), [`PinEnd`], [`EstablishedEnd`] (an
//! answered call ended), and the [`Transfer`] state machine for REFER.
//!
//! Everything here is a pure function: no I/O, no clock. Timers are events the caller
//! feeds in (ringing timeout, media timeout, transfer timeout).
//!
//! The table below is `docs/OUTCOMES.md`, the project's normative outcome table.
//!
#![doc = include_str!("../../../docs/OUTCOMES.md")]

mod call;
mod call_status;
mod ending;
mod outbound;
mod reason;
mod setup;
mod transfer;

pub use call::{EstablishedEnd, InboundRejection};
pub use call_status::CallStatus;
pub use ending::Ending;
pub use outbound::OutboundEnd;
pub use reason::DisconnectReason;
pub use setup::{Overload, PinEnd, SetupFailure};
pub use transfer::{
    SubscriptionState, Transfer, TransferEvent, TransferFailure, TransferReason, TransferResult,
};

use std::fmt;

/// A SIP status: the numeric code and its reason phrase.
///
/// The phrase is exactly what the peer sent (so operators see the carrier's own words,
/// e.g. "Busy Here" or "User Busy"), or one of the synthetic phrases of docs/OUTCOMES.md when
/// the bridge decided the end itself. Code 0 means "no SIP status" (a transfer whose
/// outcome is unknown because the peer hung up first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipStatus {
    /// 100–699, or 0 for none.
    pub code: u16,
    /// The reason phrase; may be empty when the peer sent none.
    pub reason: String,
}

impl SipStatus {
    /// A status with the given code and phrase.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// 408 "No response": a request we sent got no final response (Timer B or F).
    pub fn no_response() -> Self {
        Self::new(408, phrase::NO_RESPONSE)
    }

    /// 503 "Transport failure: `detail`": a request we sent could not be delivered.
    pub fn transport_failure(detail: &str) -> Self {
        Self::new(503, format!("{}: {detail}", phrase::TRANSPORT_FAILURE))
    }

    /// 500 "REFER could not be built": our own failure to make a transfer's request.
    pub fn refer_not_built() -> Self {
        Self::new(500, phrase::REFER_NOT_BUILT)
    }

    /// The status a response carries, phrase as received.
    pub fn of(response: &crate::message::Response) -> Self {
        Self::new(response.code, response.reason.clone())
    }

    /// Code 0 with an empty phrase: no SIP status is known.
    pub const fn none() -> Self {
        Self {
            code: 0,
            reason: String::new(),
        }
    }

    /// The metric label for this status' class; see [`status_class`].
    pub const fn status_class(&self) -> &'static str {
        status_class(self.code)
    }
}

impl fmt::Display for SipStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {}", self.code, self.reason)
        }
    }
}

/// The `status_class` label of `..._calls_ended_total`: `"1xx"` … `"6xx"`, `"none"` for
/// code 0, and `"other"` for codes no SIP class covers (RFC 3261 §21 defines 1xx–6xx
/// only). A fixed set of labels keeps the metric's cardinality bounded whatever arrives.
pub const fn status_class(code: u16) -> &'static str {
    match code {
        0 => "none",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        600..=699 => "6xx",
        _ => "other",
    }
}

/// The one record every call ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why the bridge's participant left (or would have left) the room.
    pub reason: DisconnectReason,
    /// The SIP status that explains it.
    pub status: SipStatus,
}

impl Outcome {
    /// An outcome from a reason and a status.
    pub fn new(reason: DisconnectReason, status: SipStatus) -> Self {
        Self { reason, status }
    }
}

/// Which side placed the call: the `direction` label of the metric and the CDR field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The phone called us.
    Inbound,
    /// We called the phone (CreateSIPParticipant).
    Outbound,
}

impl Direction {
    /// `"inbound"` or `"outbound"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// The synthetic phrases of docs/OUTCOMES.md, in one place so the table's words are checked once.
pub(crate) mod phrase {
    pub(crate) const RINGING_TIMEOUT: &str = "Ringing timeout";
    pub(crate) const NO_RESPONSE: &str = "No response";
    /// Followed by `": <detail>"`.
    pub(crate) const TRANSPORT_FAILURE: &str = "Transport failure";
    pub(crate) const NO_COMMON_CODEC: &str = "No common codec";
    pub(crate) const REQUEST_TERMINATED: &str = "Request Terminated";
    pub(crate) const REMOTE_HANGUP: &str = "Remote hangup";
    pub(crate) const LOCAL_HANGUP: &str = "Local hangup";
    pub(crate) const MEDIA_TIMEOUT: &str = "Media timeout";
    pub(crate) const MAX_DURATION: &str = "Max duration";
    pub(crate) const SHUTTING_DOWN: &str = "Shutting down";
    pub(crate) const SUBSCRIPTION_TERMINATED: &str = "Subscription terminated";
    pub(crate) const TRANSFER_TIMEOUT: &str = "Transfer timeout";
    pub(crate) const TRANSFER_IN_PROGRESS: &str = "Transfer in progress";
    pub(crate) const TRANSFER_ABANDONED: &str = "Call ended during transfer";
    pub(crate) const NO_ACK: &str = "No ACK";
    pub(crate) const SESSION_EXPIRED: &str = "Session expired";
    pub(crate) const NO_USABLE_ANSWER: &str = "Not Acceptable Here - No usable SDP answer";
    pub(crate) const CANNOT_FORM_DIALOG: &str = "Bad Request - Cannot form a dialog";
    pub(crate) const TOO_MANY_CALLS: &str = "Service Unavailable - too many calls";
    pub(crate) const CPU_OVERLOADED: &str = "Service Unavailable - CPU overloaded";
    pub(crate) const NO_RTP_PORT: &str = "Service Unavailable - no free RTP port";
    pub(crate) const ROOM_JOIN_FAILED: &str = "Service Unavailable - room join failed";
    pub(crate) const ROUTING_UNAVAILABLE: &str = "Service Unavailable - trunk lookup failed";
    pub(crate) const QUOTA_EXCEEDED: &str = "Service Unavailable - quota exceeded";
    pub(crate) const UNUSABLE_ANSWER: &str = "Unusable 2xx";
    pub(crate) const PIN_TIMEOUT: &str = "PIN timeout";
    pub(crate) const WRONG_PIN: &str = "Wrong PIN";
    pub(crate) const NO_ONE_LISTENED: &str = "No one answered in the room";
    pub(crate) const ROOM_ENDED_RINGING: &str = "Temporarily Unavailable - the room ended the call";
    pub(crate) const END_CALL_RPC: &str = "Ended by lk.sip.EndCall";
    pub(crate) const DECLINED_BY_RPC: &str = "Decline - lk.sip.EndCall";
    pub(crate) const REFER_NOT_BUILT: &str = "REFER could not be built";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let cases = [
            (0, "none"),
            (1, "other"),
            (99, "other"),
            (100, "1xx"),
            (183, "1xx"),
            (200, "2xx"),
            (202, "2xx"),
            (302, "3xx"),
            (404, "4xx"),
            (487, "4xx"),
            (503, "5xx"),
            (603, "6xx"),
            (699, "6xx"),
            (700, "other"),
            (u16::MAX, "other"),
        ];
        for (code, class) in cases {
            assert_eq!(status_class(code), class, "code {code}");
            assert_eq!(
                SipStatus::new(code, "x").status_class(),
                class,
                "code {code}"
            );
        }
    }

    #[test]
    fn display_and_none() {
        assert_eq!(
            SipStatus::new(486, "Busy Here").to_string(),
            "486 Busy Here"
        );
        assert_eq!(SipStatus::new(200, "").to_string(), "200");
        assert_eq!(SipStatus::none(), SipStatus::new(0, ""));
        assert_eq!(SipStatus::none().status_class(), "none");
    }

    #[test]
    fn direction_labels() {
        assert_eq!(Direction::Inbound.as_str(), "inbound");
        assert_eq!(Direction::Outbound.as_str(), "outbound");
    }
}
