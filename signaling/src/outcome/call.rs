//! Established calls (either direction) and inbound INVITEs that never reached a room:
//! the second and third tables of shared/OUTCOMES.md.

use super::{DisconnectReason, Outcome, SipStatus, phrase};

/// What ended a call that had been answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstablishedEnd {
    /// The phone side sent BYE.
    RemoteBye,
    /// The room side ended it (participant removed, room deleted, `lk.sip.EndCall`), with
    /// the reason the LiveKit server reported, passed through unchanged.
    RoomEnded(DisconnectReason),
    /// No RTP from the phone for `media_timeout`.
    MediaTimeout,
    /// `max_call_duration` was reached.
    MaxDuration,
    /// The bridge is shutting down and its drain period is over.
    Shutdown,
    /// A transfer succeeded and the call left us; carries the final sipfrag status (see
    /// [`super::Transfer::completed`]). Applies whoever sends the BYE afterwards.
    Transferred(SipStatus),
}

impl EstablishedEnd {
    /// The one outcome this end maps to.
    pub fn outcome(&self) -> Outcome {
        let (reason, status) = match self {
            Self::RemoteBye => (
                DisconnectReason::ClientInitiated,
                SipStatus::new(200, phrase::REMOTE_HANGUP),
            ),
            Self::RoomEnded(reason) => (*reason, SipStatus::new(200, phrase::LOCAL_HANGUP)),
            Self::MediaTimeout => (
                DisconnectReason::MediaFailure,
                SipStatus::new(408, phrase::MEDIA_TIMEOUT),
            ),
            Self::MaxDuration => (
                DisconnectReason::ClientInitiated,
                SipStatus::new(200, phrase::MAX_DURATION),
            ),
            Self::Shutdown => (
                DisconnectReason::ServerShutdown,
                SipStatus::new(503, phrase::SHUTTING_DOWN),
            ),
            Self::Transferred(status) => (DisconnectReason::ClientInitiated, status.clone()),
        };
        Outcome::new(reason, status)
    }
}

/// Why an incoming INVITE was refused before it reached a room.
///
/// The outcome's status is the response the caller gets, so the bridge sends
/// `outcome().status` and records the same thing. With `hide_inbound_port` the bridge may
/// stay silent for [`InboundRejection::TrunkNotAllowed`]; the record still says 403,
/// since that is the decision that was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundRejection {
    /// No trunk matches the request, or its source address is not allowed.
    TrunkNotAllowed,
    /// The caller failed digest auth after our 407 challenge.
    AuthFailed,
    /// A trunk matched but no dispatch rule routes the call to a room.
    NoDispatchRule,
    /// Joining the room failed (LiveKit unreachable, token refused, ...).
    RoomJoinFailed,
    /// The offer SDP was malformed or had nothing we can use.
    BadSdp,
    /// The caller sent CANCEL before we answered.
    CallerCancelled,
}

impl InboundRejection {
    /// The one outcome this rejection maps to.
    ///
    /// Only the status codes and the CANCEL row's reason are fixed by OUTCOMES.md; the
    /// other reasons are chosen here to mirror the outbound table, so a failure has the
    /// same label whichever side placed the call:
    /// - trunk / IP refused, auth failed → `SIP_TRUNK_FAILURE`: the carrier and our trunk
    ///   configuration disagree, like an outbound 403 or a 401/407 after our answer;
    /// - no dispatch rule → `SIP_TRUNK_FAILURE`: the dialled number leads nowhere, like
    ///   an outbound 404;
    /// - room join failed → `JOIN_FAILURE`: the proto's own words, "unable to connect
    ///   fully", are exactly what happened to our participant;
    /// - bad SDP → `MEDIA_FAILURE`, like an outbound 488.
    ///
    /// The phrases are RFC 3261 §21's, which is what we put on the wire.
    pub fn outcome(self) -> Outcome {
        let (reason, code, phrase) = match self {
            Self::TrunkNotAllowed | Self::AuthFailed => {
                (DisconnectReason::SipTrunkFailure, 403, "Forbidden")
            }
            Self::NoDispatchRule => (DisconnectReason::SipTrunkFailure, 404, "Not Found"),
            Self::RoomJoinFailed => (DisconnectReason::JoinFailure, 503, "Service Unavailable"),
            Self::BadSdp => (DisconnectReason::MediaFailure, 488, "Not Acceptable Here"),
            Self::CallerCancelled => (
                DisconnectReason::ClientInitiated,
                487,
                phrase::REQUEST_TERMINATED,
            ),
        };
        Outcome::new(reason, SipStatus::new(code, phrase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisconnectReason::*;

    #[test]
    fn established_ends() {
        let cases: Vec<(EstablishedEnd, DisconnectReason, u16, &str)> = vec![
            (
                EstablishedEnd::RemoteBye,
                ClientInitiated,
                200,
                "Remote hangup",
            ),
            (
                EstablishedEnd::RoomEnded(ParticipantRemoved),
                ParticipantRemoved,
                200,
                "Local hangup",
            ),
            (
                EstablishedEnd::RoomEnded(RoomDeleted),
                RoomDeleted,
                200,
                "Local hangup",
            ),
            (
                EstablishedEnd::RoomEnded(ClientInitiated),
                ClientInitiated,
                200,
                "Local hangup",
            ),
            (
                EstablishedEnd::RoomEnded(RoomClosed),
                RoomClosed,
                200,
                "Local hangup",
            ),
            (
                EstablishedEnd::RoomEnded(UnknownReason),
                UnknownReason,
                200,
                "Local hangup",
            ),
            (
                EstablishedEnd::MediaTimeout,
                MediaFailure,
                408,
                "Media timeout",
            ),
            (
                EstablishedEnd::MaxDuration,
                ClientInitiated,
                200,
                "Max duration",
            ),
            (
                EstablishedEnd::Shutdown,
                ServerShutdown,
                503,
                "Shutting down",
            ),
            (
                EstablishedEnd::Transferred(SipStatus::new(200, "OK")),
                ClientInitiated,
                200,
                "OK",
            ),
            (
                EstablishedEnd::Transferred(SipStatus::new(202, "Accepted here")),
                ClientInitiated,
                202,
                "Accepted here",
            ),
        ];
        for (end, reason, code, phrase) in cases {
            let got = end.outcome();
            assert_eq!(
                got,
                Outcome::new(reason, SipStatus::new(code, phrase)),
                "{end:?}"
            );
        }
    }

    #[test]
    fn room_ended_passes_every_server_reason_through() {
        for r in DisconnectReason::ALL {
            assert_eq!(EstablishedEnd::RoomEnded(r).outcome().reason, r);
        }
    }

    #[test]
    fn inbound_rejections() {
        let cases = [
            (
                InboundRejection::TrunkNotAllowed,
                SipTrunkFailure,
                403,
                "Forbidden",
            ),
            (
                InboundRejection::AuthFailed,
                SipTrunkFailure,
                403,
                "Forbidden",
            ),
            (
                InboundRejection::NoDispatchRule,
                SipTrunkFailure,
                404,
                "Not Found",
            ),
            (
                InboundRejection::RoomJoinFailed,
                JoinFailure,
                503,
                "Service Unavailable",
            ),
            (
                InboundRejection::BadSdp,
                MediaFailure,
                488,
                "Not Acceptable Here",
            ),
            (
                InboundRejection::CallerCancelled,
                ClientInitiated,
                487,
                "Request Terminated",
            ),
        ];
        for (rejection, reason, code, phrase) in cases {
            let got = rejection.outcome();
            assert_eq!(
                got,
                Outcome::new(reason, SipStatus::new(code, phrase)),
                "{rejection:?}"
            );
        }
    }
}
