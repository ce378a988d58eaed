//! Endings of a call before its SIP leg carries audio, whichever side placed it: the bridge
//! could not take it on (limits, RTP ports, the room), and the PIN of an inbound call was
//! not entered ("setting up a call" and "PIN" tables of docs/OUTCOMES.md).

use super::{DisconnectReason, Outcome, SipStatus, phrase};

/// Which `limits:` setting refused a new call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overload {
    /// `limits.max_active_calls` calls are already up or being set up.
    TooManyCalls,
    /// The machine's CPU is over `limits.max_cpu_utilization`.
    Cpu,
}

/// The bridge could not take the call on. All are `JOIN_FAILURE` (the proto's "unable to
/// connect fully"): our participant never got to carry the call. The phrase says which
/// resource was missing, for the carrier's logs and the API caller alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetupFailure {
    /// Over a configured limit; the caller is told to retry later (503 + Retry-After).
    Overloaded(Overload),
    /// Every RTP port pair of `rtp.port_range` is in use.
    NoRtpPort,
    /// Joining the room failed (LiveKit unreachable, token refused, ...), or the media
    /// pipeline for the negotiated codec could not be made.
    RoomJoinFailed,
    /// In cluster mode: livekit-server did not say which trunk and rule take the call
    /// (Redis or livekit-server unreachable, or no answer in time).
    RoutingUnavailable,
}

impl SetupFailure {
    /// The one outcome this failure maps to.
    pub fn outcome(self) -> Outcome {
        let phrase = match self {
            Self::Overloaded(Overload::TooManyCalls) => phrase::TOO_MANY_CALLS,
            Self::Overloaded(Overload::Cpu) => phrase::CPU_OVERLOADED,
            Self::NoRtpPort => phrase::NO_RTP_PORT,
            Self::RoomJoinFailed => phrase::ROOM_JOIN_FAILED,
            Self::RoutingUnavailable => phrase::ROUTING_UNAVAILABLE,
        };
        Outcome::new(DisconnectReason::JoinFailure, SipStatus::new(503, phrase))
    }
}

/// How an inbound call with a PIN (a `direct` rule's `pin`) ended before the caller reached
/// the room. The call was answered, so the bridge hangs up with BYE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinEnd {
    /// No right PIN within the rule's time limit.
    Timeout,
    /// A wrong PIN three times.
    Wrong,
}

impl PinEnd {
    /// The one outcome this end maps to: a caller who never keys a PIN is unavailable, one
    /// who keys wrong ones is turned away.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::Timeout => Outcome::new(
                DisconnectReason::UserUnavailable,
                SipStatus::new(408, phrase::PIN_TIMEOUT),
            ),
            Self::Wrong => Outcome::new(
                DisconnectReason::UserRejected,
                SipStatus::new(403, phrase::WRONG_PIN),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisconnectReason::*;

    #[test]
    fn setup_failures_are_join_failures_naming_the_resource() {
        let cases = [
            (
                SetupFailure::Overloaded(Overload::TooManyCalls),
                "Service Unavailable - too many calls",
            ),
            (
                SetupFailure::Overloaded(Overload::Cpu),
                "Service Unavailable - CPU overloaded",
            ),
            (
                SetupFailure::NoRtpPort,
                "Service Unavailable - no free RTP port",
            ),
            (
                SetupFailure::RoomJoinFailed,
                "Service Unavailable - room join failed",
            ),
            (
                SetupFailure::RoutingUnavailable,
                "Service Unavailable - trunk lookup failed",
            ),
        ];
        for (failure, phrase) in cases {
            let expected = Outcome::new(JoinFailure, SipStatus::new(503, phrase));
            assert_eq!(failure.outcome(), expected, "{failure:?}");
        }
    }

    #[test]
    fn pin_ends() {
        let timeout = Outcome::new(UserUnavailable, SipStatus::new(408, "PIN timeout"));
        assert_eq!(PinEnd::Timeout.outcome(), timeout);
        let wrong = Outcome::new(UserRejected, SipStatus::new(403, "Wrong PIN"));
        assert_eq!(PinEnd::Wrong.outcome(), wrong);
    }
}
