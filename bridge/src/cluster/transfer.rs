//! `SIPInternal.TransferSIPParticipant`, served per answered call on the call's id: that
//! is the topic livekit-server asks on (it reads it from the participant's `sip.callID`).
//! The transfer runs exactly as the standalone API runs it (`transfer`).

use std::sync::Arc;

use livekit_protocol::TransferSipParticipantRequest;
use prost::Message as _;
use sipbridge_psrpc::server::{Accepting, Handler, Served, Server};
use sipbridge_psrpc::sip::{SIP_INTERNAL, TRANSFER_SIP_PARTICIPANT, TransferSipParticipant};
use sipbridge_psrpc::{Code, RpcError};
use tokio::task::JoinHandle;

use super::errors::rpc_error;
use crate::call::directory::CallDirectory;
use crate::transfer::transfer_sip_participant;

/// The call's transfer topic, served until dropped (the call ended).
#[derive(Debug)]
pub struct CallTopic(JoinHandle<()>);

impl Drop for CallTopic {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn serve(
    server: &Server,
    directory: CallDirectory,
    call_id: &str,
    room: &str,
    identity: &str,
) -> CallTopic {
    let served = Served {
        service: SIP_INTERNAL.to_owned(),
        method: TRANSFER_SIP_PARTICIPANT.to_owned(),
        topic: vec![call_id.to_owned()],
    };
    // The call is ours: a transfer for it is always taken.
    let accepting: Accepting = Arc::new(|| true);
    let (room, identity) = (room.to_owned(), identity.to_owned());
    let handler: Handler = Arc::new(move |request, _deadline| {
        let directory = directory.clone();
        let (room, identity) = (room.clone(), identity.clone());
        Box::pin(async move { transfer(&directory, &request, room, identity).await })
    });
    let server = server.clone();
    let call_id = call_id.to_owned();
    CallTopic(tokio::spawn(async move {
        match server.serve(served, accepting, handler).await {
            // Served for as long as this task lives.
            Ok(_serving) => std::future::pending().await,
            Err(error) => {
                tracing::warn!(%error, %call_id, "transfers of this call cannot be served");
            }
        }
    }))
}

/// Runs the transfer; livekit-server's answer is `google.protobuf.Empty`, no bytes.
async fn transfer(
    directory: &CallDirectory,
    request: &[u8],
    room_name: String,
    participant_identity: String,
) -> Result<Vec<u8>, RpcError> {
    let internal = TransferSipParticipant::decode(request)
        .map_err(|error| RpcError::new(Code::MalformedRequest, error.to_string()))?;
    let request = TransferSipParticipantRequest {
        participant_identity,
        room_name,
        transfer_to: internal.transfer_to,
        play_dialtone: internal.play_dialtone,
        headers: internal.headers.into_iter().collect(),
        ringing_timeout: internal.ringing_timeout.map(|d| pbjson_types::Duration {
            seconds: d.seconds,
            nanos: d.nanos,
        }),
    };
    transfer_sip_participant(directory, request)
        .await
        .map(|_| Vec::new())
        .map_err(rpc_error)
}
