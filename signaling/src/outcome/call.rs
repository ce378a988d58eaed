//! Established calls (either direction) and inbound INVITEs that never reached a room:
//! the "established call" and "inbound INVITE refused" tables of docs/OUTCOMES.md.

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
    /// Our 2xx was never acknowledged (Timer H or L): the phone is gone (RFC 3261 §13.3.1.4).
    NoAck,
    /// The RFC 4028 session timer ran out without a refresh (§10: the session is over).
    SessionExpired,
    /// Our 200 carried the offer (the INVITE had none, RFC 3261 §13.2.1) and the ACK brought
    /// no usable answer: the call is hung up, there is no media to carry.
    NoUsableAnswer,
    /// A room member ended the call with the participant RPC `lk.sip.EndCall`.
    EndCallRpc,
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
            Self::NoAck => (
                DisconnectReason::ConnectionTimeout,
                SipStatus::new(408, phrase::NO_ACK),
            ),
            Self::SessionExpired => (
                DisconnectReason::ConnectionTimeout,
                SipStatus::new(408, phrase::SESSION_EXPIRED),
            ),
            Self::NoUsableAnswer => (
                DisconnectReason::MediaFailure,
                SipStatus::new(488, phrase::NO_USABLE_ANSWER),
            ),
            Self::EndCallRpc => (
                DisconnectReason::ClientInitiated,
                SipStatus::new(200, phrase::END_CALL_RPC),
            ),
        };
        Outcome::new(reason, status)
    }
}

/// Why an incoming INVITE got a final refusal instead of an answer: before it reached a
/// room, or while it waited in one for someone to listen (a rule's `ringing_timeout`).
///
/// The outcome's status is the response the caller gets, so the bridge sends
/// `outcome().status` and records the same thing. With `hide_inbound_port` the bridge may
/// stay silent for [`InboundRejection::TrunkNotAllowed`]; the record still says 403,
/// since that is the decision that was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundRejection {
    /// No trunk matches the request, or its source address is not allowed.
    TrunkNotAllowed,
    /// The caller failed digest auth after our 407 challenge: 403 with the auth layer's
    /// phrase, or 400 when the credentials could not even be checked (`malformed`).
    AuthFailed {
        malformed: bool,
        reason: &'static str,
    },
    /// A trunk matched but no dispatch rule routes the call to a room.
    NoDispatchRule,
    /// The offer SDP was malformed or had nothing we can use: the status the SDP fault calls
    /// for (`sdp::SdpRejection`, 400/413/488/500).
    BadOffer { code: u16, reason: &'static str },
    /// The INVITE cannot form a dialog (RFC 3261 §12.1.1: no usable Contact, for one).
    NoDialog,
    /// The caller sent CANCEL before we answered.
    CallerCancelled,
    /// The bridge is draining for a shutdown: the caller should try another instance.
    Draining,
    /// In cluster mode: livekit-server says the trunk's project is over its quota.
    QuotaExceeded,
    /// The caller waited in the room (ringing) and no one there subscribed to its audio
    /// within the rule's `ringing_timeout`.
    NoOneListened,
    /// The room ended the caller's participant while it waited to be answered (removed,
    /// room deleted), with the reason the LiveKit server reported.
    RoomEndedWhileRinging(DisconnectReason),
    /// A room member declined the waiting caller with the participant RPC `lk.sip.EndCall`.
    EndCallRpc,
}

impl InboundRejection {
    /// The refusal of an offer we cannot take, as `rejection` (the SDP error's) says, or a
    /// plain 488 when the error says nothing more precise.
    pub fn bad_offer(rejection: Option<crate::sdp::SdpRejection>) -> Self {
        let (code, reason) =
            rejection.map_or((488, "Not Acceptable Here"), |r| (r.status, r.reason));
        Self::BadOffer { code, reason }
    }

    /// The one outcome this rejection maps to.
    ///
    /// Only the status codes and the CANCEL row's reason are fixed by the table; the
    /// other reasons are chosen here to mirror the outbound table, so a failure has the
    /// same label whichever side placed the call:
    /// - trunk / IP refused, auth failed → `SIP_TRUNK_FAILURE`: the carrier and our trunk
    ///   configuration disagree, like an outbound 403 or a 401/407 after our answer;
    /// - no dispatch rule → `SIP_TRUNK_FAILURE`: the dialled number leads nowhere, like
    ///   an outbound 404;
    /// - an INVITE that cannot form a dialog → `SIP_TRUNK_FAILURE`: a protocol failure;
    /// - bad SDP → `MEDIA_FAILURE`, like an outbound 488.
    ///
    /// The phrases are RFC 3261 §21's, which is what we put on the wire.
    pub fn outcome(self) -> Outcome {
        let (reason, code, phrase) = match self {
            Self::TrunkNotAllowed => (DisconnectReason::SipTrunkFailure, 403, "Forbidden"),
            Self::AuthFailed { malformed, reason } => {
                let code = if malformed { 400 } else { 403 };
                (DisconnectReason::SipTrunkFailure, code, reason)
            }
            Self::NoDispatchRule => (DisconnectReason::SipTrunkFailure, 404, "Not Found"),
            Self::BadOffer { code, reason } => (DisconnectReason::MediaFailure, code, reason),
            Self::NoDialog => (
                DisconnectReason::SipTrunkFailure,
                400,
                phrase::CANNOT_FORM_DIALOG,
            ),
            Self::CallerCancelled => (
                DisconnectReason::ClientInitiated,
                487,
                phrase::REQUEST_TERMINATED,
            ),
            Self::Draining => (DisconnectReason::ServerShutdown, 503, phrase::SHUTTING_DOWN),
            Self::QuotaExceeded => (
                DisconnectReason::SipTrunkFailure,
                503,
                phrase::QUOTA_EXCEEDED,
            ),
            Self::NoOneListened => (
                DisconnectReason::UserUnavailable,
                480,
                phrase::NO_ONE_LISTENED,
            ),
            Self::RoomEndedWhileRinging(reason) => (reason, 480, phrase::ROOM_ENDED_RINGING),
            Self::EndCallRpc => (
                DisconnectReason::ClientInitiated,
                603,
                phrase::DECLINED_BY_RPC,
            ),
        };
        Outcome::new(reason, SipStatus::new(code, phrase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisconnectReason::*;

    fn check(cases: Vec<(Outcome, DisconnectReason, u16, &str)>) {
        for (got, reason, code, phrase) in cases {
            assert_eq!(got, Outcome::new(reason, SipStatus::new(code, phrase)));
        }
    }

    #[test]
    fn established_ends() {
        use EstablishedEnd as E;
        let transferred = |code, phrase| E::Transferred(SipStatus::new(code, phrase)).outcome();
        check(vec![
            (
                E::RemoteBye.outcome(),
                ClientInitiated,
                200,
                "Remote hangup",
            ),
            (
                E::RoomEnded(ParticipantRemoved).outcome(),
                ParticipantRemoved,
                200,
                "Local hangup",
            ),
            (
                E::RoomEnded(RoomDeleted).outcome(),
                RoomDeleted,
                200,
                "Local hangup",
            ),
            (
                E::RoomEnded(UnknownReason).outcome(),
                UnknownReason,
                200,
                "Local hangup",
            ),
            (
                E::MediaTimeout.outcome(),
                MediaFailure,
                408,
                "Media timeout",
            ),
            (
                E::MaxDuration.outcome(),
                ClientInitiated,
                200,
                "Max duration",
            ),
            (E::Shutdown.outcome(), ServerShutdown, 503, "Shutting down"),
            (transferred(200, "OK"), ClientInitiated, 200, "OK"),
            (
                transferred(202, "Accepted here"),
                ClientInitiated,
                202,
                "Accepted here",
            ),
            (E::NoAck.outcome(), ConnectionTimeout, 408, "No ACK"),
            (
                E::SessionExpired.outcome(),
                ConnectionTimeout,
                408,
                "Session expired",
            ),
            (
                E::NoUsableAnswer.outcome(),
                MediaFailure,
                488,
                "Not Acceptable Here - No usable SDP answer",
            ),
            (
                E::EndCallRpc.outcome(),
                ClientInitiated,
                200,
                "Ended by lk.sip.EndCall",
            ),
        ]);
    }

    #[test]
    fn room_ended_passes_every_server_reason_through() {
        for r in DisconnectReason::ALL {
            assert_eq!(EstablishedEnd::RoomEnded(r).outcome().reason, r);
        }
    }

    #[test]
    fn inbound_rejections() {
        use InboundRejection as R;
        let auth = |malformed, reason| R::AuthFailed { malformed, reason }.outcome();
        check(vec![
            (
                R::TrunkNotAllowed.outcome(),
                SipTrunkFailure,
                403,
                "Forbidden",
            ),
            (auth(false, "Forbidden"), SipTrunkFailure, 403, "Forbidden"),
            (
                auth(true, "Bad Request - Bad nonce"),
                SipTrunkFailure,
                400,
                "Bad Request - Bad nonce",
            ),
            (
                R::NoDispatchRule.outcome(),
                SipTrunkFailure,
                404,
                "Not Found",
            ),
            (
                R::bad_offer(None).outcome(),
                MediaFailure,
                488,
                "Not Acceptable Here",
            ),
            (
                R::NoDialog.outcome(),
                SipTrunkFailure,
                400,
                "Bad Request - Cannot form a dialog",
            ),
            (
                R::CallerCancelled.outcome(),
                ClientInitiated,
                487,
                "Request Terminated",
            ),
            (R::Draining.outcome(), ServerShutdown, 503, "Shutting down"),
            (
                R::QuotaExceeded.outcome(),
                SipTrunkFailure,
                503,
                "Service Unavailable - quota exceeded",
            ),
            (
                R::NoOneListened.outcome(),
                UserUnavailable,
                480,
                "No one answered in the room",
            ),
            (
                R::RoomEndedWhileRinging(ParticipantRemoved).outcome(),
                ParticipantRemoved,
                480,
                "Temporarily Unavailable - the room ended the call",
            ),
            (
                R::EndCallRpc.outcome(),
                ClientInitiated,
                603,
                "Decline - lk.sip.EndCall",
            ),
        ]);
    }

    /// An offer's refusal carries the status its SDP fault calls for.
    #[test]
    fn bad_offers_carry_the_sdp_status() {
        let error = crate::Error::SdpSrtpNotSupported;
        let got = InboundRejection::bad_offer(error.sdp_rejection()).outcome();
        let status = SipStatus::new(488, "Not Acceptable Here - SRTP not supported");
        assert_eq!(got, Outcome::new(MediaFailure, status));
    }
}
