//! A transfer inside an answered call (docs/OUTCOMES.md, "Transfers"): the REFER, the
//! NOTIFYs of its implicit subscription (RFC 3515), the timers, and the answer to the API
//! caller. The rules of the table live in `signaling`'s [`Transfer`]; this file feeds it
//! what the network and the clock say and carries out what it decides.

use std::time::{Duration, Instant};

use sipbridge_media::tone::Progress;
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{
    SipStatus, SubscriptionState, Transfer, TransferEvent, TransferReason, TransferResult,
};
use sipbridge_signaling::refer::{match_notify, read_notify};
use sipbridge_signaling::transaction::ClientTxId;
use tokio::sync::{mpsc, oneshot};

use super::context::CallContext;
use super::directory::{CallCommand, Listing};
use super::session::Established;
use crate::cdr::{CallRecord, CdrSink, TransferRecord};
use crate::transfer::{TransferEnd, TransferOrder, TransferPlan};

/// After a successful transfer, how long the peer has to hang up before the bridge sends
/// its own BYE: many transferors' peers end the old call themselves right after the final
/// NOTIFY, and a BYE crossing theirs only makes noise.
const LEAVE_GRACE: Duration = Duration::from_secs(1);

/// The transfers of one call: at most one in flight.
#[derive(Debug)]
pub struct Transfers {
    commands: mpsc::UnboundedReceiver<CallCommand>,
    /// Keeps the call findable by the API until the call ends.
    _listing: Listing,
    machine: Transfer,
    current: Option<Current>,
    subscription: Option<Subscription>,
    /// After a completed transfer: when the bridge hangs up unless the peer did.
    leave_at: Option<Instant>,
    cdr: CdrSink,
    call_id: String,
}

/// The transfer in flight.
#[derive(Debug)]
struct Current {
    reply: oneshot::Sender<TransferEnd>,
    record: TransferRecord,
    /// The REFER's transaction, until its final response.
    refer: Option<ClientTxId>,
    deadline: Instant,
    dialtone: bool,
}

/// The REFER's implicit subscription (RFC 3515 §2.4.4): which NOTIFYs are ours.
#[derive(Debug, Clone, Copy)]
struct Subscription {
    /// The REFER's CSeq number, the `id` of the NOTIFYs' `Event: refer` (§2.4.6).
    id: u32,
    /// From the last NOTIFY's `Subscription-State: active;expires=N`.
    expires_at: Option<Instant>,
}

impl Transfers {
    /// Lists the answered call of `record`'s participant so that the API can transfer it.
    pub fn list(context: &CallContext, record: &CallRecord) -> Self {
        let (room, identity, call_id) = record.participant();
        let (listing, commands) = context.directory.list(&room, &identity);
        Self {
            commands,
            _listing: listing,
            machine: Transfer::new(),
            current: None,
            subscription: None,
            leave_at: None,
            cdr: context.cdr.clone(),
            call_id,
        }
    }

    /// The next API command for this call; pending forever when there is none.
    pub async fn command(&mut self) -> CallCommand {
        match self.commands.recv().await {
            Some(command) => command,
            // The directory keeps a sender while the call is listed, so this is not
            // reached; if it were, there is nothing more to wait for.
            None => std::future::pending().await,
        }
    }

    /// The earliest transfer timer: the ringing timeout, the subscription's expiry, the
    /// BYE after a completed transfer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.current.as_ref().map(|current| current.deadline);
        let expiry = self.subscription.and_then(|s| s.expires_at);
        [deadline, expiry, self.leave_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The final sipfrag status of the transfer that succeeded, if one did: the call's
    /// outcome whoever hangs up afterwards.
    pub fn completed(&self) -> Option<SipStatus> {
        self.machine.completed().cloned()
    }

    /// Once the grace after a completed transfer is over, its final status: time to hang
    /// up.
    pub fn leaving(&self, now: Instant) -> Option<SipStatus> {
        self.leave_at
            .is_some_and(|at| now >= at)
            .then(|| self.completed())
            .flatten()
    }
}

impl Established {
    /// Carries out an API command.
    pub(super) async fn handle_command(&mut self, command: CallCommand, now: Instant) {
        match command {
            CallCommand::Transfer(order) => self.start_transfer(order, now).await,
        }
    }

    /// Sends the REFER, unless a transfer is already under way (then 491 at once).
    async fn start_transfer(&mut self, order: TransferOrder, now: Instant) {
        let TransferOrder { plan, reply } = order;
        let transfers = &mut self.transfers;
        let record =
            transfers
                .cdr
                .transfer(&plan.transfer_id, &transfers.call_id, &plan.transfer_to);
        if let Err(failure) = transfers.machine.start() {
            tracing::info!(transfer_id = %plan.transfer_id, "transfer refused: another is in flight");
            finish(record, &TransferEnd::Failed(failure.clone()));
            self.metrics.transfer_ended("in_progress");
            let _ = reply.send(TransferEnd::Failed(failure));
            return;
        }
        tracing::info!(transfer_id = %plan.transfer_id, "transfer: sending REFER");
        transfers.current = Some(Current {
            reply,
            record,
            refer: None,
            deadline: now + plan.ringing_timeout,
            dialtone: plan.play_dialtone,
        });
        let Some((refer, cseq)) = self.refer(&plan) else {
            let status = SipStatus::refer_not_built();
            self.settle(TransferEvent::ReferResponse(status), now);
            return;
        };
        // Before the REFER leaves: a NOTIFY may overtake the REFER's 202 (RFC 3515 §2.4.4).
        self.transfers.subscription = Some(Subscription {
            id: cseq,
            expires_at: None,
        });
        if plan.play_dialtone {
            self.leg.media.set_prompt(Some(Progress::Dial));
        }
        match self.sip.send(refer).await {
            Some(id) => {
                if let Some(current) = self.transfers.current.as_mut() {
                    current.refer = Some(id);
                }
            }
            None => {
                self.transfers.subscription = None;
                let status = SipStatus::transport_failure("REFER not sent");
                self.settle(TransferEvent::ReferResponse(status), Instant::now());
            }
        }
    }

    /// The REFER of `plan` in this dialog, and its CSeq number.
    fn refer(
        &mut self,
        plan: &TransferPlan,
    ) -> Option<(sipbridge_signaling::dialog::OutgoingRequest, u32)> {
        let via = self.local.via(self.sip.transport);
        let mut refer = self
            .dialog
            .build_request(Method::Refer, via, None)
            .inspect_err(|error| tracing::warn!(%error, "cannot build the REFER"))
            .ok()?;
        let head = &mut refer.request.head;
        head.other.push("Refer-To", plan.refer_to.clone());
        if !plan
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("referred-by"))
        {
            head.other
                .push("Referred-By", format!("<{}>", self.dialog.local_uri()));
        }
        for (name, value) in &plan.headers {
            head.other.push(name, value.clone());
        }
        let cseq = head.cseq.seq;
        Some((refer, cseq))
    }

    /// A final response, a timeout or a transport error for a request this call sent:
    /// the REFER's outcome if it was the REFER.
    pub(super) fn transfer_response(&mut self, id: ClientTxId, status: SipStatus, now: Instant) {
        let ours = self
            .transfers
            .current
            .as_ref()
            .is_some_and(|current| current.refer == Some(id));
        if !ours || status.code < 200 {
            return;
        }
        if let Some(current) = self.transfers.current.as_mut() {
            current.refer = None;
        }
        if status.code >= 300 {
            // Refused: no subscription was created (RFC 3515 §2.4.4).
            self.transfers.subscription = None;
        }
        self.settle(TransferEvent::ReferResponse(status), now);
    }

    /// Answers a NOTIFY: 200 for one of our REFER's subscription, after feeding its
    /// sipfrag to the transfer; 489 for another event package; 481 when no subscription
    /// of ours matches (RFC 6665 §4.1.3, §8.2.1).
    pub(super) fn notify(&mut self, request: &Request, now: Instant) -> Response {
        let subscription = self.transfers.subscription;
        if let Err((code, phrase)) = match_notify(&request.head, subscription.map(|s| s.id)) {
            return Response::to(request, code, Some(phrase));
        }
        let report = read_notify(&request.head, &request.body);
        let terminated = report.state == SubscriptionState::Terminated;
        self.transfers.subscription = subscription.filter(|_| !terminated).map(|s| Subscription {
            id: s.id,
            expires_at: report
                .expires
                .map(|seconds| now + Duration::from_secs(seconds.into())),
        });
        let event = TransferEvent::Notify {
            sipfrag: report.sipfrag,
            subscription: report.state,
        };
        self.settle(event, now);
        Response::to(request, 200, None)
    }

    /// Fires the transfer timers due at `now`.
    pub(super) fn transfer_timers(&mut self, now: Instant) {
        let transfers = &mut self.transfers;
        if let Some(subscription) = transfers.subscription
            && subscription.expires_at.is_some_and(|at| now >= at)
        {
            // Expired without a terminating NOTIFY: as good as terminated (RFC 6665 §4.1.3).
            transfers.subscription = None;
            let expired = TransferEvent::Notify {
                sipfrag: None,
                subscription: SubscriptionState::Terminated,
            };
            self.settle(expired, now);
        }
        let late = self
            .transfers
            .current
            .as_ref()
            .is_some_and(|current| now >= current.deadline);
        if late {
            self.settle(TransferEvent::Timeout, now);
        }
    }

    /// The peer hung up: a transfer in flight ends as CALL_ENDED.
    pub(super) fn transfer_peer_bye(&mut self, now: Instant) {
        self.settle(TransferEvent::PeerBye, now);
    }

    /// The call is ending for another reason: a transfer in flight is abandoned.
    pub(super) fn abandon_transfer(&mut self, now: Instant) {
        self.settle(TransferEvent::CallEnding, now);
    }

    /// Feeds `event` to the transfer and, when that decides it, answers the API caller,
    /// writes the record and counts the outcome.
    fn settle(&mut self, event: TransferEvent, now: Instant) {
        let failure_label = failure_label(&event);
        let end = match self.transfers.machine.handle(event) {
            TransferResult::Waiting | TransferResult::Stale => return,
            TransferResult::Completed(status) => {
                self.transfers.leave_at = Some(now + LEAVE_GRACE);
                TransferEnd::Succeeded {
                    reason: TransferReason::Completed,
                    status: Some(status),
                }
            }
            TransferResult::CallEnded => TransferEnd::Succeeded {
                reason: TransferReason::CallEnded,
                status: None,
            },
            TransferResult::Failed(failure) => TransferEnd::Failed(failure),
        };
        let Some(current) = self.transfers.current.take() else {
            return;
        };
        if current.dialtone {
            self.leg.media.set_prompt(None);
        }
        let label = match &end {
            TransferEnd::Succeeded {
                reason: TransferReason::Completed,
                ..
            } => "completed",
            TransferEnd::Succeeded { .. } => "call_ended",
            TransferEnd::Failed(_) => failure_label,
        };
        tracing::info!(outcome = label, "transfer ended");
        self.metrics.transfer_ended(label);
        finish(current.record, &end);
        let _ = current.reply.send(end);
    }
}

/// The `transfers_total` label of a failure caused by `event`.
fn failure_label(event: &TransferEvent) -> &'static str {
    match event {
        TransferEvent::ReferResponse(_) => "refer_rejected",
        TransferEvent::Notify {
            sipfrag: Some(status),
            ..
        } if status.code >= 300 => "failed",
        TransferEvent::Notify { .. } => "subscription_terminated",
        TransferEvent::Timeout => "timeout",
        TransferEvent::CallEnding | TransferEvent::PeerBye => "abandoned",
    }
}

/// Writes a transfer's record.
fn finish(record: TransferRecord, end: &TransferEnd) {
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
