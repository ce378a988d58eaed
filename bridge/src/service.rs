//! The `livekit.SIP` methods the Twirp API serves, on this bridge's calls.

use std::sync::Weak;

use livekit_protocol::{
    CreateSipParticipantRequest, SipParticipantInfo, TransferSipParticipantRequest,
    TransferSipParticipantResponse,
};

use crate::api::{ApiError, ServiceFuture, SipService, TwirpCode};
use crate::call::context::CallContext;
use crate::{outbound, transfer};

/// The API's view of the bridge. Holds the call context weakly: once the bridge has shut
/// down, requests are refused rather than keeping it alive.
#[derive(Debug)]
pub(crate) struct BridgeService {
    context: Weak<CallContext>,
}

impl BridgeService {
    pub(crate) fn new(context: Weak<CallContext>) -> Self {
        Self { context }
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(TwirpCode::Unavailable, "the bridge is shutting down")
}

impl SipService for BridgeService {
    fn create_sip_participant(
        &self,
        request: CreateSipParticipantRequest,
    ) -> ServiceFuture<SipParticipantInfo> {
        let context = self.context.upgrade();
        Box::pin(async move {
            let context = context.ok_or_else(shutting_down)?;
            outbound::create_sip_participant(context, request)
                .await
                .map_err(outbound::api_error)
        })
    }

    fn transfer_sip_participant(
        &self,
        request: TransferSipParticipantRequest,
    ) -> ServiceFuture<TransferSipParticipantResponse> {
        let context = self.context.upgrade();
        Box::pin(async move {
            let context = context.ok_or_else(shutting_down)?;
            transfer::transfer_sip_participant(&context.directory, request).await
        })
    }
}
