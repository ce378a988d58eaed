//! `DisconnectReason`: our mirror of `livekit.DisconnectReason` (livekit/protocol,
//! `livekit_models.proto`).
//!
//! `signaling` knows nothing of LiveKit, yet the outcome record must name the proto enum
//! exactly (docs/OUTCOMES.md). So this enum has the same variants, in the same order,
//! with the same numbers, and `as_str()` returns the proto name: `bridge/` maps it 1:1
//! (and can test that mapping over [`DisconnectReason::ALL`]).

/// Why a participant left the room, as LiveKit names it.
///
/// The discriminants are the proto field numbers, so `reason as i32` equals the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// `UNKNOWN_REASON`: nothing more specific is known.
    UnknownReason = 0,
    /// `CLIENT_INITIATED`: one of the two parties hung up on purpose.
    ClientInitiated = 1,
    /// `DUPLICATE_IDENTITY`: another participant joined with the same identity.
    DuplicateIdentity = 2,
    /// `SERVER_SHUTDOWN`: the server (for us: the bridge) is shutting down.
    ServerShutdown = 3,
    /// `PARTICIPANT_REMOVED`: `RoomService.RemoveParticipant` was called.
    ParticipantRemoved = 4,
    /// `ROOM_DELETED`: `RoomService.DeleteRoom` was called.
    RoomDeleted = 5,
    /// `STATE_MISMATCH`: a resume the server knew nothing about.
    StateMismatch = 6,
    /// `JOIN_FAILURE`: the participant could not connect fully.
    JoinFailure = 7,
    /// `MIGRATION`: the server moved the participant elsewhere.
    Migration = 8,
    /// `SIGNAL_CLOSE`: the signal connection closed unexpectedly.
    SignalClose = 9,
    /// `ROOM_CLOSED`: every standard participant left.
    RoomClosed = 10,
    /// `USER_UNAVAILABLE`: the SIP callee did not answer in time.
    UserUnavailable = 11,
    /// `USER_REJECTED`: the SIP callee rejected the call.
    UserRejected = 12,
    /// `SIP_TRUNK_FAILURE`: SIP protocol failure or an unexpected response.
    SipTrunkFailure = 13,
    /// `CONNECTION_TIMEOUT`: the peer never answered at all.
    ConnectionTimeout = 14,
    /// `MEDIA_FAILURE`: media could not be negotiated or stopped flowing.
    MediaFailure = 15,
    /// `AGENT_ERROR`: an agent in the room failed.
    AgentError = 16,
}

impl DisconnectReason {
    /// Every variant, in proto order: lets `bridge/` test its mapping exhaustively.
    pub const ALL: [Self; 17] = [
        Self::UnknownReason,
        Self::ClientInitiated,
        Self::DuplicateIdentity,
        Self::ServerShutdown,
        Self::ParticipantRemoved,
        Self::RoomDeleted,
        Self::StateMismatch,
        Self::JoinFailure,
        Self::Migration,
        Self::SignalClose,
        Self::RoomClosed,
        Self::UserUnavailable,
        Self::UserRejected,
        Self::SipTrunkFailure,
        Self::ConnectionTimeout,
        Self::MediaFailure,
        Self::AgentError,
    ];

    /// The proto enum value name, e.g. `"USER_REJECTED"`: what goes into the
    /// `sip.disconnectReason` attribute, the call detail record and the metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownReason => "UNKNOWN_REASON",
            Self::ClientInitiated => "CLIENT_INITIATED",
            Self::DuplicateIdentity => "DUPLICATE_IDENTITY",
            Self::ServerShutdown => "SERVER_SHUTDOWN",
            Self::ParticipantRemoved => "PARTICIPANT_REMOVED",
            Self::RoomDeleted => "ROOM_DELETED",
            Self::StateMismatch => "STATE_MISMATCH",
            Self::JoinFailure => "JOIN_FAILURE",
            Self::Migration => "MIGRATION",
            Self::SignalClose => "SIGNAL_CLOSE",
            Self::RoomClosed => "ROOM_CLOSED",
            Self::UserUnavailable => "USER_UNAVAILABLE",
            Self::UserRejected => "USER_REJECTED",
            Self::SipTrunkFailure => "SIP_TRUNK_FAILURE",
            Self::ConnectionTimeout => "CONNECTION_TIMEOUT",
            Self::MediaFailure => "MEDIA_FAILURE",
            Self::AgentError => "AGENT_ERROR",
        }
    }

    /// The variant a proto enum name stands for. `bridge/` uses it to carry the reason the
    /// server reported (room side ended the call) into [`super::EstablishedEnd::RoomEnded`].
    pub fn from_str_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_proto_order_and_names_round_trip() {
        for (i, r) in DisconnectReason::ALL.into_iter().enumerate() {
            // The discriminant is the proto number, so ALL[i] must be number i.
            assert_eq!(r as usize, i, "{r} out of order");
            assert_eq!(DisconnectReason::from_str_name(r.as_str()), Some(r));
        }
        assert_eq!(DisconnectReason::from_str_name("user_rejected"), None);
        assert_eq!(DisconnectReason::from_str_name(""), None);
    }

    #[test]
    fn names_are_the_proto_names() {
        assert_eq!(DisconnectReason::UserRejected.as_str(), "USER_REJECTED");
        assert_eq!(
            DisconnectReason::SipTrunkFailure.as_str(),
            "SIP_TRUNK_FAILURE"
        );
        assert_eq!(
            DisconnectReason::ClientInitiated.to_string(),
            "CLIENT_INITIATED"
        );
    }
}
