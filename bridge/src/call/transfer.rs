//! The I/O half of an answered call's transfers: the API's orders reach the call through
//! its directory listing, and each transfer's end goes back to its API caller, into its
//! record and its count. What a transfer does and how it ends is decided in
//! `call::answered` (docs/OUTCOMES.md, "Transfers").

use std::collections::HashMap;

use sipbridge_signaling::outcome::TransferReason;
use tokio::sync::{mpsc, oneshot};

use super::context::CallContext;
use super::directory::{CallCommand, Listing};
use crate::call::order::{TransferEnd, TransferOrder, TransferPlan};
use crate::cdr::{CallRecord, CdrSink, TransferRecord};
use crate::metrics::Metrics;

/// The transfers of one call, as far as the API and the records are concerned.
#[derive(Debug)]
pub struct TransferDesk {
    commands: mpsc::UnboundedReceiver<CallCommand>,
    /// Keeps the call findable by the API until the call ends.
    _listing: Listing,
    /// In cluster mode, livekit-server's transfer requests for this call.
    _topic: Option<crate::cluster::CallTopic>,
    cdr: CdrSink,
    call_id: String,
    /// Transfers asked for and not yet ended, by transfer id: who waits, and the record.
    waiting: HashMap<String, (oneshot::Sender<TransferEnd>, TransferRecord)>,
}

impl TransferDesk {
    /// Lists the answered call of `record`'s participant so that the API can transfer it.
    pub fn list(context: &CallContext, record: &CallRecord) -> Self {
        let (room, identity, call_id) = record.participant();
        let (listing, commands) = context.directory.list(&room, &identity);
        let topic = context
            .cluster
            .as_ref()
            .map(|node| node.serve_transfers(context, &call_id, &room, &identity));
        Self {
            commands,
            _listing: listing,
            _topic: topic,
            cdr: context.cdr.clone(),
            call_id,
            waiting: HashMap::new(),
        }
    }

    /// The next transfer the API asks for (its record started); pending forever when there
    /// is none.
    pub async fn order(&mut self) -> Box<TransferPlan> {
        let Some(CallCommand::Transfer(TransferOrder { plan, reply })) = self.commands.recv().await
        else {
            // The directory keeps a sender while the call is listed, so this is not
            // reached; if it were, there is nothing more to wait for.
            return std::future::pending().await;
        };
        let record = self
            .cdr
            .transfer(&plan.transfer_id, &self.call_id, &plan.transfer_to);
        self.waiting
            .insert(plan.transfer_id.clone(), (reply, record));
        Box::new(plan)
    }

    /// A transfer ended: its API caller hears it, its record is written, it is counted.
    pub fn ended(
        &mut self,
        transfer_id: &str,
        end: TransferEnd,
        label: &'static str,
        metrics: &Metrics,
    ) {
        metrics.transfer_ended(label);
        let Some((reply, record)) = self.waiting.remove(transfer_id) else {
            tracing::error!(transfer_id, "a transfer ended that nobody asked for");
            return;
        };
        write(record, &end);
        let _ = reply.send(end);
    }
}

/// Writes a transfer's record.
fn write(record: TransferRecord, end: &TransferEnd) {
    match end {
        TransferEnd::Succeeded { reason, status } => record.finish(
            true,
            proto_reason(*reason),
            status.as_ref().map(|s| (s.code, s.reason.as_str())),
            "",
        ),
        TransferEnd::Failed(failure) => {
            let status = &failure.status;
            let error = format!("{} {}", status.code, status.reason);
            record.finish(
                false,
                proto_reason(failure.reason),
                Some((status.code, &status.reason)),
                &error,
            );
        }
    }
}

/// Our reason enum mirrors the proto's one to one.
fn proto_reason(reason: TransferReason) -> livekit_protocol::SipTransferReason {
    livekit_protocol::SipTransferReason::from_str_name(reason.as_str())
        .unwrap_or(livekit_protocol::SipTransferReason::StrUnspecified)
}
