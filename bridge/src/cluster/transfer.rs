//! `SIPInternal.TransferSIPParticipant`, served per answered call on the call's id: that
//! is the topic livekit-server asks on (it reads it from the participant's `sip.callID`).
//! The transfer runs exactly as the standalone API runs it (`transfer`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use livekit_protocol::TransferSipParticipantRequest;
use prost::Message as _;
use sipbridge_psrpc::server::{Accepting, Handler, Served, Server};
use sipbridge_psrpc::sip::{SIP_INTERNAL, TRANSFER_SIP_PARTICIPANT, TransferSipParticipant};
use sipbridge_psrpc::{Code, RpcError};
use tokio::task::JoinHandle;

use super::errors::rpc_error;
use super::time_to_answer;
use crate::api::fields::DEFAULT_RINGING_TIMEOUT;
use crate::call::directory::CallDirectory;
use crate::transfer::transfer_sip_participant;

/// The call's transfer topic, served until dropped (the call ended).
#[derive(Debug)]
pub struct CallTopic(JoinHandle<()>);

/// The transfer's ringing timeout: the one asked for (livekit-server fills it in: the
/// request's own, or 30 s), ending before livekit-server stops waiting, which it does at
/// that very time: the transfer's 408 must reach it first.
fn ringing_timeout(
    asked: Option<prost_types::Duration>,
    deadline: SystemTime,
) -> Result<Duration, RpcError> {
    let asked = super::duration(asked).unwrap_or(DEFAULT_RINGING_TIMEOUT);
    let left = time_to_answer(deadline);
    if left.is_zero() {
        return Err(RpcError::new(
            Code::DeadlineExceeded,
            "no time left to transfer",
        ));
    }
    Ok(asked.min(left))
}

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
    let handler: Handler = Arc::new(move |request, deadline| {
        let directory = directory.clone();
        let (room, identity) = (room.clone(), identity.clone());
        Box::pin(async move { transfer(&directory, &request, (room, identity), deadline).await })
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
    (room_name, participant_identity): (String, String),
    deadline: SystemTime,
) -> Result<Vec<u8>, RpcError> {
    let internal = TransferSipParticipant::decode(request)
        .map_err(|error| RpcError::new(Code::MalformedRequest, error.to_string()))?;
    let ringing_timeout = ringing_timeout(internal.ringing_timeout, deadline)?;
    let request = TransferSipParticipantRequest {
        participant_identity,
        room_name,
        transfer_to: internal.transfer_to,
        play_dialtone: internal.play_dialtone,
        headers: internal.headers.into_iter().collect(),
        ringing_timeout: Some(pbjson_types::Duration {
            seconds: i64::try_from(ringing_timeout.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(ringing_timeout.subsec_nanos()).unwrap_or(0),
        }),
    };
    transfer_sip_participant(directory, request)
        .await
        .map(|_| Vec::new())
        .map_err(rpc_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_ends_before_livekit_server_stops_waiting() {
        let seconds = |seconds| prost_types::Duration { seconds, nanos: 0 };
        let in_ten = SystemTime::now() + Duration::from_secs(10);
        // livekit-server waits exactly the ringing timeout: ours ends a little sooner.
        let timeout = ringing_timeout(Some(seconds(10)), in_ten).unwrap();
        assert!(timeout < Duration::from_secs(10), "{timeout:?}");
        assert!(timeout > Duration::from_secs(9), "{timeout:?}");
        // A shorter one is kept; none asked for is livekit's 30 s, within the deadline.
        assert_eq!(
            ringing_timeout(Some(seconds(3)), in_ten).unwrap(),
            Duration::from_secs(3)
        );
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(
            ringing_timeout(None, in_a_minute).unwrap(),
            Duration::from_secs(30)
        );
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(
            ringing_timeout(None, past).unwrap_err().code,
            Code::DeadlineExceeded
        );
    }
}
