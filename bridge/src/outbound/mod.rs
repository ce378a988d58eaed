//! Outbound calls (CreateSIPParticipant): the participant joins the room, the bridge dials
//! the phone through a trunk, and the call ends with one outcome of docs/OUTCOMES.md,
//! delivered to the API caller (when waiting), the room, the record and the metrics.

mod call;
mod identity;
mod invite;
mod overrides;
mod placing;
mod plan;
mod unbuilt;

use std::sync::Arc;

use livekit_protocol::{CreateSipParticipantRequest, SipParticipantInfo};
use sipbridge_signaling::outcome::{DisconnectReason, Ending, Outcome, SetupFailure};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::api::{ApiError, TwirpCode};
use crate::call::context::{CallContext, InProgress};
pub use plan::Plan;

/// Why CreateSIPParticipant did not return a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The request itself is wrong (a missing field, a header we set ourselves).
    Invalid(String),
    /// It names a trunk the configuration does not have.
    NotFound(String),
    /// The bridge cannot take the call now (draining, over its limits, no RTP port).
    Unavailable(String),
    /// The call was placed and ended before it was answered (or could not join the room):
    /// its outcome (docs/OUTCOMES.md).
    Call(Outcome),
}

/// The answer a call task owes its API caller.
type Reply = oneshot::Sender<Result<SipParticipantInfo, CreateError>>;

/// Places the call. Returns once the phone is being dialled, or with
/// `wait_until_answered` once it answered; the call goes on in its own task. Dropping the
/// returned future before then (the API caller went away) cancels the call.
pub async fn create_sip_participant(
    context: Arc<CallContext>,
    request: CreateSipParticipantRequest,
) -> Result<SipParticipantInfo, CreateError> {
    let plan = Plan::new(&context.config, request)?;
    place(context, plan).await
}

/// Places the call of a checked `plan` ([`create_sip_participant`]; cluster mode makes its
/// plan from livekit-server's request).
pub async fn place(
    context: Arc<CallContext>,
    plan: Plan,
) -> Result<SipParticipantInfo, CreateError> {
    if context.draining.load(std::sync::atomic::Ordering::Acquire) {
        return Err(CreateError::Unavailable(
            "the bridge is shutting down".into(),
        ));
    }
    let running = InProgress::new(context.clone());
    if let Some(overload) = context.overloaded() {
        let refused = Ending::from(SetupFailure::Overloaded(overload));
        return Err(CreateError::Call(refused.outcome()));
    }
    let (reply, answer) = oneshot::channel();
    // Every log line of the call carries its ids (`call` once the record has one).
    let span = tracing::info_span!(
        "call",
        direction = "outbound",
        call = tracing::field::Empty,
        sip_call_id = tracing::field::Empty,
    );
    let call = async move {
        call::run(context, plan, reply).await;
        drop(running);
    };
    tokio::spawn(call.instrument(span));
    answer.await.unwrap_or_else(|_| {
        Err(CreateError::Unavailable(
            "the call ended without an answer".into(),
        ))
    })
}

/// How each refusal reaches the API caller; a call's outcome carries its SIP status, which
/// the SDKs raise as `SipCallError`.
pub(crate) fn api_error(error: CreateError) -> ApiError {
    match error {
        CreateError::Invalid(message) => ApiError::new(TwirpCode::InvalidArgument, message),
        CreateError::NotFound(message) => ApiError::new(TwirpCode::NotFound, message),
        CreateError::Unavailable(message) => ApiError::new(TwirpCode::Unavailable, message),
        CreateError::Call(outcome) => {
            let status = &outcome.status;
            let message = format!(
                "sip status {}: {} ({})",
                status.code,
                status.reason,
                outcome.reason.as_str()
            );
            let error = ApiError::from_sip(status, message);
            // The bridge itself could not take the call on (limits, RTP ports, the room):
            // the caller may try again, or another instance, unlike a refusal by the far end.
            if outcome.reason == DisconnectReason::JoinFailure {
                return ApiError {
                    code: TwirpCode::Unavailable,
                    ..error
                };
            }
            error
        }
    }
}
