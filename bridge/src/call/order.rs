//! What a call is asked to transfer and how a transfer ends: the contract between the API
//! (`crate::transfer`, which checks the request) and the answered call (`call::answered`,
//! which carries it out).

use std::time::Duration;

use sipbridge_signaling::outcome::{SipStatus, TransferFailure, TransferReason};
use tokio::sync::oneshot;

/// Everything a transfer is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferPlan {
    /// `STF_` and 12 hex digits: the response's and the record's `transfer_id`.
    pub transfer_id: String,
    pub room: String,
    pub identity: String,
    /// The target as the API caller wrote it (for the record).
    pub transfer_to: String,
    /// The `Refer-To` header value.
    pub refer_to: String,
    /// Extra headers for the REFER, sorted by name (a `Referred-By` replaces ours).
    pub headers: Vec<(String, String)>,
    pub play_dialtone: bool,
    pub ringing_timeout: Duration,
}

/// A transfer for a call to carry out; the outcome goes back on `reply`.
#[derive(Debug)]
pub struct TransferOrder {
    pub plan: TransferPlan,
    pub reply: oneshot::Sender<TransferEnd>,
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEnd {
    /// `COMPLETED` with the final sipfrag status, or `CALL_ENDED` with none (the peer hung
    /// up before any final NOTIFY).
    Succeeded {
        reason: TransferReason,
        status: Option<SipStatus>,
    },
    /// The transfer did not happen; the call stays up.
    Failed(TransferFailure),
}
