//! Call states for livekit-server (`IOInfo.UpdateSIPCallState`): each call's and transfer's
//! final record as it is written, the way LiveKit's own SIP service reports them. Best effort
//! and off the call's path: a report that fails is logged and dropped (the record is in the
//! file either way); livekit-server v1.13.5 accepts the reports and keeps nothing.

use std::time::Duration;

use prost::Message as _;
use sipbridge_psrpc::client::Client;
use sipbridge_psrpc::io::{CallStateUpdate, UPDATE_SIP_CALL_STATE};
use tokio::sync::mpsc;

use crate::cdr::{Report, Written};

/// How long one report may take.
const REPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Reports beyond this many waiting are dropped: a slow livekit-server must not grow the
/// bridge's memory.
const QUEUE: usize = 1024;

/// The record writer's report hook, feeding a task that sends the reports one by one.
pub(super) fn reporter(io_info: Client) -> Report {
    let (sender, reports) = mpsc::channel(QUEUE);
    tokio::spawn(send_reports(io_info, reports));
    Box::new(move |written| {
        if sender.try_send(written).is_err() {
            tracing::debug!("call state report dropped: too many waiting");
        }
    })
}

async fn send_reports(io_info: Client, mut reports: mpsc::Receiver<Written>) {
    while let Some(written) = reports.recv().await {
        let update = match written {
            Written::Call(info) => CallStateUpdate {
                call_info: Some(*info),
                transfer_info: None,
            },
            Written::Transfer(info) => CallStateUpdate {
                call_info: None,
                transfer_info: Some(info),
            },
        };
        let sent = io_info
            .call(
                UPDATE_SIP_CALL_STATE,
                &[],
                update.encode_to_vec(),
                REPORT_TIMEOUT,
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "call state not reported to livekit-server");
        }
    }
}
