//! [`Ending`]: every way a call can end, one variant per row group of docs/OUTCOMES.md.
//! The bridge delivers an ending, never a hand-made [`Outcome`], so the table here is the
//! only source of the reason and status that reach the room, the API caller, the record and
//! the metrics.

use super::{
    EstablishedEnd, InboundRejection, OutboundEnd, Outcome, PinEnd, SetupFailure, SipStatus,
};
use crate::outcome::DisconnectReason;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The bridge could not take the call on (either direction).
    Setup(SetupFailure),
    /// An incoming INVITE was refused before it reached a room.
    Refused(InboundRejection),
    /// Our INVITE never became a call.
    Unanswered(OutboundEnd),
    /// An inbound call with a PIN ended before the caller reached the room.
    Pin(PinEnd),
    /// An answered call ended.
    Established(EstablishedEnd),
}

impl Ending {
    /// The one outcome this ending maps to.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Setup(failure) => failure.outcome(),
            Self::Refused(rejection) => rejection.outcome(),
            Self::Unanswered(end) => end.outcome(),
            Self::Pin(end) => end.outcome(),
            Self::Established(end) => end.outcome(),
        }
    }

    /// One ending of every kind the table has (every variant of every group, with sample
    /// data), for tests that must hold for all of them.
    pub fn every_kind() -> Vec<Self> {
        use super::Overload;
        let status = |code, phrase: &str| SipStatus::new(code, phrase);
        let mut all: Vec<Self> = vec![
            SetupFailure::Overloaded(Overload::TooManyCalls).into(),
            SetupFailure::Overloaded(Overload::Cpu).into(),
            SetupFailure::NoRtpPort.into(),
            SetupFailure::RoomJoinFailed.into(),
            SetupFailure::RoutingUnavailable.into(),
            InboundRejection::TrunkNotAllowed.into(),
            InboundRejection::AuthFailed {
                malformed: false,
                reason: "Forbidden",
            }
            .into(),
            InboundRejection::NoDispatchRule.into(),
            InboundRejection::bad_offer(None).into(),
            InboundRejection::NoDialog.into(),
            InboundRejection::CallerCancelled.into(),
            InboundRejection::Draining.into(),
            InboundRejection::QuotaExceeded.into(),
            InboundRejection::NoOneListened.into(),
            InboundRejection::RoomEndedWhileRinging(DisconnectReason::RoomDeleted).into(),
            InboundRejection::EndCallRpc.into(),
            OutboundEnd::Rejected(status(603, "Decline")).into(),
            OutboundEnd::RingingTimeout { response: None }.into(),
            OutboundEnd::NoResponse.into(),
            OutboundEnd::TransportFailure {
                detail: "connection refused".into(),
            }
            .into(),
            OutboundEnd::NoCommonCodec.into(),
            OutboundEnd::Cancelled.into(),
            OutboundEnd::UnusableAnswer.into(),
            PinEnd::Timeout.into(),
            PinEnd::Wrong.into(),
            EstablishedEnd::RemoteBye.into(),
            EstablishedEnd::MediaTimeout.into(),
            EstablishedEnd::MaxDuration.into(),
            EstablishedEnd::Shutdown.into(),
            EstablishedEnd::Transferred(status(200, "OK")).into(),
            EstablishedEnd::NoAck.into(),
            EstablishedEnd::SessionExpired.into(),
            EstablishedEnd::NoUsableAnswer.into(),
            EstablishedEnd::EndCallRpc.into(),
        ];
        all.extend(DisconnectReason::ALL.map(|reason| EstablishedEnd::RoomEnded(reason).into()));
        all
    }
}

impl From<SetupFailure> for Ending {
    fn from(failure: SetupFailure) -> Self {
        Self::Setup(failure)
    }
}

impl From<InboundRejection> for Ending {
    fn from(rejection: InboundRejection) -> Self {
        Self::Refused(rejection)
    }
}

impl From<OutboundEnd> for Ending {
    fn from(end: OutboundEnd) -> Self {
        Self::Unanswered(end)
    }
}

impl From<PinEnd> for Ending {
    fn from(end: PinEnd) -> Self {
        Self::Pin(end)
    }
}

impl From<EstablishedEnd> for Ending {
    fn from(end: EstablishedEnd) -> Self {
        Self::Established(end)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// A number per variant, written as an exhaustive match: a new variant does not compile
    /// until it is numbered here, and then `every_kind` must include it for the test below.
    fn kind(ending: &Ending) -> (u8, u8) {
        use EstablishedEnd as E;
        use InboundRejection as R;
        use OutboundEnd as O;
        match ending {
            Ending::Setup(SetupFailure::Overloaded(_)) => (0, 0),
            Ending::Setup(SetupFailure::NoRtpPort) => (0, 1),
            Ending::Setup(SetupFailure::RoomJoinFailed) => (0, 2),
            Ending::Setup(SetupFailure::RoutingUnavailable) => (0, 3),
            Ending::Refused(R::TrunkNotAllowed) => (1, 0),
            Ending::Refused(R::AuthFailed { .. }) => (1, 1),
            Ending::Refused(R::NoDispatchRule) => (1, 2),
            Ending::Refused(R::BadOffer { .. }) => (1, 3),
            Ending::Refused(R::NoDialog) => (1, 4),
            Ending::Refused(R::CallerCancelled) => (1, 5),
            Ending::Refused(R::Draining) => (1, 6),
            Ending::Refused(R::QuotaExceeded) => (1, 7),
            Ending::Refused(R::NoOneListened) => (1, 8),
            Ending::Refused(R::RoomEndedWhileRinging(_)) => (1, 9),
            Ending::Refused(R::EndCallRpc) => (1, 10),
            Ending::Unanswered(O::Rejected(_)) => (2, 0),
            Ending::Unanswered(O::RingingTimeout { .. }) => (2, 1),
            Ending::Unanswered(O::NoResponse) => (2, 2),
            Ending::Unanswered(O::TransportFailure { .. }) => (2, 3),
            Ending::Unanswered(O::NoCommonCodec) => (2, 4),
            Ending::Unanswered(O::Cancelled) => (2, 5),
            Ending::Unanswered(O::UnusableAnswer) => (2, 6),
            Ending::Pin(PinEnd::Timeout) => (3, 0),
            Ending::Pin(PinEnd::Wrong) => (3, 1),
            Ending::Established(E::RemoteBye) => (4, 0),
            Ending::Established(E::RoomEnded(_)) => (4, 1),
            Ending::Established(E::MediaTimeout) => (4, 2),
            Ending::Established(E::MaxDuration) => (4, 3),
            Ending::Established(E::Shutdown) => (4, 4),
            Ending::Established(E::Transferred(_)) => (4, 5),
            Ending::Established(E::NoAck) => (4, 6),
            Ending::Established(E::SessionExpired) => (4, 7),
            Ending::Established(E::NoUsableAnswer) => (4, 8),
            Ending::Established(E::EndCallRpc) => (4, 9),
        }
    }

    #[test]
    fn every_kind_has_every_variant() {
        let kinds: HashSet<_> = Ending::every_kind().iter().map(kind).collect();
        let per_group = [4, 11, 7, 2, 10];
        let expected: HashSet<_> = per_group
            .iter()
            .enumerate()
            .flat_map(|(group, &n)| (0..n).map(move |i| (group as u8, i)))
            .collect();
        assert_eq!(kinds, expected);
    }

    /// Every ending has a reason and a real SIP status: no row of the table is empty.
    #[test]
    fn every_ending_has_a_sip_status() {
        for ending in Ending::every_kind() {
            let outcome = ending.outcome();
            assert!(
                (200..700).contains(&outcome.status.code),
                "{ending:?} → {outcome:?}"
            );
            assert!(!outcome.status.reason.is_empty(), "{ending:?}");
        }
    }
}
