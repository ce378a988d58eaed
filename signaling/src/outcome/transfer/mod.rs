//! REFER transfers (TransferSIPParticipant): the last table of docs/OUTCOMES.md.
//!
//! The API call waits until the transfer's outcome is known. The outcome arrives as the
//! REFER's response and then NOTIFYs of the implicit subscription carrying `message/sipfrag`
//! status lines (RFC 3515 §2.4.4–2.4.5), or as a BYE or a timeout. [`Transfer`] folds
//! those events into one [`TransferResult`]; the caller owns the timer and the Twirp
//! mapping.

use super::{SipStatus, phrase};

/// The `Subscription-State` of a NOTIFY (RFC 6665 §4.1.3); only "terminated" matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// `active`: more NOTIFYs may follow.
    Active,
    /// `pending`: more NOTIFYs may follow.
    Pending,
    /// `terminated`: this is the last NOTIFY.
    Terminated,
}

/// Something that happened to the transfer in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// The final response to our REFER. A REFER transaction timeout (Timer F) comes here
    /// as the 408 RFC 3261 §8.1.3.1 says to treat it as.
    ReferResponse(SipStatus),
    /// A NOTIFY of the REFER's subscription. `sipfrag` is its parsed status line (see
    /// [`crate::sipfrag::parse_status`]), or `None` when the body was absent or unusable.
    Notify {
        /// The status of the transferee's INVITE, as the sipfrag reports it.
        sipfrag: Option<SipStatus>,
        /// The NOTIFY's `Subscription-State`.
        subscription: SubscriptionState,
    },
    /// The peer sent BYE (it may do so as soon as its new call is up).
    PeerBye,
    /// The transfer's `ringing_timeout` passed without a final NOTIFY.
    Timeout,
    /// The bridge is ending the call for another reason (the room ended it, media timeout,
    /// max duration, shutdown) before the outcome was known: the transfer is abandoned.
    CallEnding,
}

/// Mirror of `livekit.SIPTransferReason` (livekit/protocol, `livekit_sip.proto`), for the
/// response and the error details. Discriminants are the proto numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferReason {
    /// `STR_UNSPECIFIED`
    Unspecified = 0,
    /// `STR_COMPLETED`
    Completed = 1,
    /// `STR_CALL_ENDED`
    CallEnded = 2,
    /// `STR_REJECTED`
    Rejected = 3,
    /// `STR_RINGING_TIMEOUT`
    RingingTimeout = 4,
    /// `STR_SUBSCRIPTION_TERMINATED`
    SubscriptionTerminated = 5,
    /// `STR_CANCELED`
    Canceled = 6,
}

impl TransferReason {
    /// The proto enum value name, e.g. `"STR_COMPLETED"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "STR_UNSPECIFIED",
            Self::Completed => "STR_COMPLETED",
            Self::CallEnded => "STR_CALL_ENDED",
            Self::Rejected => "STR_REJECTED",
            Self::RingingTimeout => "STR_RINGING_TIMEOUT",
            Self::SubscriptionTerminated => "STR_SUBSCRIPTION_TERMINATED",
            Self::Canceled => "STR_CANCELED",
        }
    }
}

/// A failed transfer: the call stays up and the API caller gets an error with this status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferFailure {
    /// Why, in the proto's terms.
    pub reason: TransferReason,
    /// The status for the error's `sip_status_code` / `sip_status` meta.
    pub status: SipStatus,
}

impl TransferFailure {
    fn new(reason: TransferReason, code: u16, phrase: &str) -> Self {
        Self {
            reason,
            status: SipStatus::new(code, phrase),
        }
    }
}

/// What an event means for the API call waiting on the transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferResult {
    /// Not final yet: keep waiting.
    Waiting,
    /// No transfer is in flight (it already ended, or never started): nothing to report.
    Stale,
    /// Success, reason COMPLETED, with the final sipfrag status. The call leaves us: the
    /// bridge sends BYE after a short grace unless the peer already did, and the call's
    /// outcome is [`super::EstablishedEnd::Transferred`].
    Completed(SipStatus),
    /// Success, reason CALL_ENDED, SIP status 0: the peer hung up before any final NOTIFY,
    /// so whether the transferee answered is unknown; never reported as COMPLETED. The call
    /// ends as a remote BYE.
    CallEnded,
    /// Failure; the call stays up (the caller is back with the room).
    Failed(TransferFailure),
}

/// At most one transfer per call, and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfer {
    state: State,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum State {
    #[default]
    Idle,
    InFlight,
    /// Kept so the call's end (whoever sends the BYE) is recorded as transferred.
    Completed(SipStatus),
}

impl Transfer {
    /// No transfer yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transfer is requested (the bridge sends the REFER only on `Ok`). While one is in
    /// flight the new request fails with 491 and the first carries on; once one completed
    /// the call is leaving, so the answer is the same. Neither case fits a proto reason.
    pub fn start(&mut self) -> Result<(), TransferFailure> {
        match self.state {
            State::Idle => {
                self.state = State::InFlight;
                Ok(())
            }
            State::InFlight | State::Completed(_) => Err(TransferFailure::new(
                TransferReason::Unspecified,
                491,
                phrase::TRANSFER_IN_PROGRESS,
            )),
        }
    }

    /// Whether a transfer is waiting for its outcome.
    pub fn in_flight(&self) -> bool {
        self.state == State::InFlight
    }

    /// The final sipfrag status of the transfer that succeeded, if one did.
    pub fn completed(&self) -> Option<&SipStatus> {
        match &self.state {
            State::Completed(status) => Some(status),
            State::Idle | State::InFlight => None,
        }
    }

    /// Feeds one event; any result other than `Waiting`/`Stale` ends the transfer.
    pub fn handle(&mut self, event: TransferEvent) -> TransferResult {
        if self.state != State::InFlight {
            return TransferResult::Stale;
        }
        let result = match event {
            TransferEvent::ReferResponse(status) => match status.code {
                // 202 Accepted is the norm; a provisional or another 2xx is no outcome yet.
                100..=299 => TransferResult::Waiting,
                // 4xx–6xx (403, 405, 501, ...), an unfollowed 3xx, and any code no valid
                // response carries: the REFER was not taken up.
                _ => TransferResult::Failed(TransferFailure {
                    reason: TransferReason::Rejected,
                    status,
                }),
            },
            TransferEvent::Notify {
                sipfrag,
                subscription,
            } => notify(sipfrag, subscription),
            TransferEvent::PeerBye => TransferResult::CallEnded,
            TransferEvent::Timeout => TransferResult::Failed(TransferFailure::new(
                TransferReason::RingingTimeout,
                408,
                phrase::TRANSFER_TIMEOUT,
            )),
            TransferEvent::CallEnding => TransferResult::Failed(TransferFailure::new(
                TransferReason::Canceled,
                487,
                phrase::TRANSFER_ABANDONED,
            )),
        };
        self.state = match &result {
            TransferResult::Waiting | TransferResult::Stale => State::InFlight,
            TransferResult::Completed(status) => State::Completed(status.clone()),
            TransferResult::CallEnded | TransferResult::Failed(_) => State::Idle,
        };
        result
    }
}

/// One NOTIFY of the REFER subscription.
fn notify(sipfrag: Option<SipStatus>, subscription: SubscriptionState) -> TransferResult {
    let terminated = subscription == SubscriptionState::Terminated;
    match sipfrag {
        // A final status decides, whatever the Subscription-State says.
        Some(status) if (200..=299).contains(&status.code) => TransferResult::Completed(status),
        Some(status) if (300..=699).contains(&status.code) => {
            // 408/480 mean the transferee never answered, which the proto names apart
            // from a refusal (mirroring USER_UNAVAILABLE in the outbound table).
            let reason = match status.code {
                408 | 480 => TransferReason::RingingTimeout,
                _ => TransferReason::Rejected,
            };
            TransferResult::Failed(TransferFailure { reason, status })
        }
        // 1xx, no usable body, or a code outside 100–699: no final status. That is only
        // an outcome when the notifier says no more NOTIFYs will come.
        _ if terminated => TransferResult::Failed(TransferFailure::new(
            TransferReason::SubscriptionTerminated,
            487,
            phrase::SUBSCRIPTION_TERMINATED,
        )),
        _ => TransferResult::Waiting,
    }
}

#[cfg(test)]
mod tests;
