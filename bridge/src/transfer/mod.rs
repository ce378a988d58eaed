//! Transfers (TransferSIPParticipant): the API finds the participant's answered call and
//! hands it a [`TransferOrder`]; the call sends the REFER and follows its NOTIFYs
//! (`call/transfer.rs`), then answers with the outcome of docs/OUTCOMES.md's transfer
//! table, which becomes the API response or a Twirp error here.

mod plan;

use livekit_protocol::{
    SipStatus as ProtoStatus, SipTransferStatus, TransferSipParticipantRequest,
    TransferSipParticipantResponse,
};
use tokio::sync::oneshot;

use crate::api::{ApiError, TwirpCode};
use crate::call::directory::{CallCommand, CallDirectory};
pub use crate::call::order::{TransferEnd, TransferOrder, TransferPlan};
pub use plan::URI_HEADER_PREFIX;

/// Transfers the participant's call. Returns only once the outcome is known (or the
/// ringing timeout passed). When the API caller goes away first, the transfer goes on: a
/// REFER cannot be taken back.
pub async fn transfer_sip_participant(
    directory: &CallDirectory,
    request: TransferSipParticipantRequest,
) -> Result<TransferSipParticipantResponse, ApiError> {
    let plan = TransferPlan::new(&request)
        .map_err(|msg| ApiError::new(TwirpCode::InvalidArgument, msg))?;
    let missing = format!(
        "no answered SIP call for participant {:?} in room {:?}",
        plan.identity, plan.room
    );
    let not_found = || ApiError::new(TwirpCode::NotFound, missing.clone());
    let call = directory
        .find(&plan.room, &plan.identity)
        .ok_or_else(not_found)?;
    let transfer_id = plan.transfer_id.clone();
    let (reply, outcome) = oneshot::channel();
    call.send(CallCommand::Transfer(TransferOrder { plan, reply }))
        .map_err(|_| not_found())?;
    // The call always answers, the last time when it ends; a dropped reply is a bug.
    let end = outcome.await.map_err(|_| {
        ApiError::new(
            TwirpCode::Internal,
            "the call ended without reporting the transfer's outcome",
        )
    })?;
    response(transfer_id, end)
}

/// The API's answer for a transfer that ended as `end`.
fn response(
    transfer_id: String,
    end: TransferEnd,
) -> Result<TransferSipParticipantResponse, ApiError> {
    match end {
        TransferEnd::Succeeded { reason, status } => Ok(TransferSipParticipantResponse {
            transfer_id,
            status: SipTransferStatus::StsTransferSuccessful as i32,
            reason: reason as i32,
            // livekit.proto: set only when a SIP response reported the outcome.
            sip_status: status.map(|status| ProtoStatus {
                code: i32::from(status.code),
                status: status.reason,
            }),
        }),
        TransferEnd::Failed(failure) => {
            let status = &failure.status;
            let message = format!(
                "transfer failed: sip status {}: {} ({})",
                status.code,
                status.reason,
                failure.reason.as_str()
            );
            Err(ApiError::from_sip(status, message)
                .with_meta("sip_transfer_reason", failure.reason.as_str())
                .with_meta("sip_transfer_id", transfer_id))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sipbridge_signaling::outcome::{SipStatus, TransferFailure, TransferReason};

    use super::*;

    #[test]
    fn success_carries_reason_and_status() {
        let completed = TransferEnd::Succeeded {
            reason: TransferReason::Completed,
            status: Some(SipStatus::new(200, "OK")),
        };
        let ok = response("STF_1".into(), completed).unwrap();
        assert_eq!(ok.transfer_id, "STF_1");
        assert_eq!(ok.status, SipTransferStatus::StsTransferSuccessful as i32);
        assert_eq!(ok.reason, TransferReason::Completed as i32);
        assert_eq!(ok.sip_status.unwrap().code, 200);

        let ended = TransferEnd::Succeeded {
            reason: TransferReason::CallEnded,
            status: None,
        };
        let ok = response("STF_2".into(), ended).unwrap();
        assert_eq!(ok.reason, TransferReason::CallEnded as i32);
        assert_eq!(ok.sip_status, None);
    }

    #[test]
    fn failures_are_sip_errors_with_the_transfer_meta() {
        let busy = TransferEnd::Failed(TransferFailure {
            reason: TransferReason::Rejected,
            status: SipStatus::new(486, "Busy Here"),
        });
        let error = response("STF_3".into(), busy).unwrap_err();
        assert_eq!(error.code, TwirpCode::ResourceExhausted);
        let meta = error.meta();
        assert_eq!(meta["sip_status_code"], "486");
        assert_eq!(meta["sip_status"], "Busy Here");
        assert_eq!(meta["sip_transfer_reason"], "STR_REJECTED");
        assert_eq!(meta["sip_transfer_id"], "STF_3");

        let timeout = TransferEnd::Failed(TransferFailure {
            reason: TransferReason::RingingTimeout,
            status: SipStatus::new(408, "Transfer timeout"),
        });
        let error = response("STF_4".into(), timeout).unwrap_err();
        assert_eq!(error.code, TwirpCode::DeadlineExceeded);

        let second = TransferEnd::Failed(TransferFailure {
            reason: TransferReason::Unspecified,
            status: SipStatus::new(491, "Transfer in progress"),
        });
        let error = response("STF_5".into(), second).unwrap_err();
        assert_eq!(error.code, TwirpCode::FailedPrecondition);
    }
}
