//! The Twirp-compatible `livekit.SIP` API: what the official
//! SDKs' SIP clients call, served at `POST /twirp/livekit.SIP/{Method}` on the HTTP listener.
//!
//! [`twirp`] checks the request the way a twirp server and livekit-server would (method,
//! route, encoding, token, grant), [`codec`] decodes and encodes the bodies, [`error`] says
//! how each failure, SIP ones included, looks on the wire. What a method *does* is a
//! [`SipService`]: the HTTP layer only awaits its future.

mod auth;
pub(crate) mod codec;
mod error;
pub(crate) mod fields;
mod twirp;

use std::future::Future;
use std::pin::Pin;

use livekit_protocol::{
    CreateSipParticipantRequest, SipParticipantInfo, TransferSipParticipantRequest,
    TransferSipParticipantResponse,
};

pub use error::{ApiError, TwirpCode, twirp_code_for_sip};
pub(crate) use twirp::handle;

/// The future a [`SipService`] method returns.
pub type ServiceFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'static>>;

/// What the `livekit.SIP` methods do, behind the HTTP layer.
///
/// Cancellation is by drop: the handler awaits the returned future and nothing else, so when
/// the API client goes away (it gave up, or its request timeout passed) hyper drops the
/// handler and with it this future. An implementation that must undo something on the way
/// out (CANCEL a ringing call, leave the room) does it when its future is dropped.
pub trait SipService: Send + Sync + 'static {
    /// Dials out (CreateSIPParticipant). A call the far end refused is
    /// [`ApiError::from_sip`], so the SDKs raise `SipCallError` with its status.
    fn create_sip_participant(
        &self,
        request: CreateSipParticipantRequest,
    ) -> ServiceFuture<SipParticipantInfo>;

    /// Transfers a participant's call with a REFER (TransferSIPParticipant); returns once
    /// the transfer's outcome is known. A failed transfer is [`ApiError::from_sip`] with
    /// the status that decided it.
    fn transfer_sip_participant(
        &self,
        request: TransferSipParticipantRequest,
    ) -> ServiceFuture<TransferSipParticipantResponse>;
}

#[cfg(test)]
mod tests;
