//! A transfer inside an answered call (docs/OUTCOMES.md, "Transfers"): the REFER, the
//! NOTIFYs of its implicit subscription (RFC 3515), the timers. The rules of the table live
//! in `signaling`'s [`Transfer`]; this feeds it what the network and the clock say and turns
//! what it decides into actions.

use std::time::{Duration, Instant};

use sipbridge_media::tone::Progress;
use sipbridge_signaling::dialog::OutgoingRequest;
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{
    SipStatus, SubscriptionState, Transfer, TransferEvent, TransferReason, TransferResult,
};
use sipbridge_signaling::refer::{match_notify, read_notify};

use super::Answered;
use crate::call::machine::Action;
use crate::call::order::{TransferEnd, TransferPlan};

/// After a successful transfer, how long the peer has to hang up before the bridge sends
/// its own BYE: many transferors' peers end the old call themselves right after the final
/// NOTIFY, and a BYE crossing theirs only makes noise.
pub(super) const LEAVE_GRACE: Duration = Duration::from_secs(1);

/// The transfers of one call: at most one in flight.
#[derive(Debug, Default)]
pub struct TransferState {
    machine: Transfer,
    current: Option<Current>,
    subscription: Option<Subscription>,
    /// After a completed transfer: when the bridge hangs up unless the peer did.
    leave_at: Option<Instant>,
}

/// The transfer in flight.
#[derive(Debug)]
struct Current {
    transfer_id: String,
    /// The REFER's CSeq number until its final response.
    refer: Option<u32>,
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

impl TransferState {
    /// The earliest transfer timer: the ringing timeout, the subscription's expiry, the
    /// BYE after a completed transfer.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.current.as_ref().map(|current| current.deadline);
        let expiry = self.subscription.and_then(|s| s.expires_at);
        [deadline, expiry, self.leave_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The final sipfrag status of the transfer that succeeded, if one did.
    pub(super) fn completed(&self) -> Option<SipStatus> {
        self.machine.completed().cloned()
    }

    /// Once the grace after a completed transfer is over, its final status.
    pub(super) fn leaving(&self, now: Instant) -> Option<SipStatus> {
        self.leave_at
            .is_some_and(|at| now >= at)
            .then(|| self.completed())
            .flatten()
    }
}

impl Answered {
    /// Sends the REFER, unless a transfer is already under way (then 491 at once).
    pub(super) fn start_transfer(&mut self, now: Instant, plan: TransferPlan) {
        if let Err(failure) = self.transfer.machine.start() {
            tracing::info!(transfer_id = %plan.transfer_id, "transfer refused: another is in flight");
            self.actions.push_back(Action::TransferEnded {
                transfer_id: plan.transfer_id,
                end: TransferEnd::Failed(failure),
                label: "in_progress",
            });
            return;
        }
        tracing::info!(transfer_id = %plan.transfer_id, "transfer: sending REFER");
        self.transfer.current = Some(Current {
            transfer_id: plan.transfer_id.clone(),
            refer: None,
            deadline: now + plan.ringing_timeout,
            dialtone: plan.play_dialtone,
        });
        let Some(refer) = self.refer(&plan) else {
            let status = SipStatus::refer_not_built();
            self.settle(TransferEvent::ReferResponse(status), now);
            return;
        };
        let cseq = refer.request.head.cseq.seq;
        // Before the REFER leaves: a NOTIFY may overtake the REFER's 202 (RFC 3515 §2.4.4).
        self.transfer.subscription = Some(Subscription {
            id: cseq,
            expires_at: None,
        });
        if let Some(current) = self.transfer.current.as_mut() {
            current.refer = Some(cseq);
        }
        if plan.play_dialtone {
            self.actions.push_back(Action::Prompt(Some(Progress::Dial)));
        }
        self.actions.push_back(Action::Send(refer));
    }

    /// The REFER of `plan` in this dialog.
    fn refer(&mut self, plan: &TransferPlan) -> Option<OutgoingRequest> {
        let via = self.local.via(self.transport);
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
        Some(refer)
    }

    /// A final status for a request this call sent (a response, a timeout, a transport
    /// error): the REFER's outcome if it was the REFER.
    pub(super) fn transfer_response(
        &mut self,
        now: Instant,
        method: &Method,
        cseq: u32,
        status: SipStatus,
    ) {
        let ours = *method == Method::Refer
            && self
                .transfer
                .current
                .as_ref()
                .is_some_and(|current| current.refer == Some(cseq));
        if !ours || status.code < 200 {
            return;
        }
        if let Some(current) = self.transfer.current.as_mut() {
            current.refer = None;
        }
        if status.code >= 300 {
            // Refused: no subscription was created (RFC 3515 §2.4.4).
            self.transfer.subscription = None;
        }
        self.settle(TransferEvent::ReferResponse(status), now);
    }

    /// Answers a NOTIFY: 200 for one of our REFER's subscription, after feeding its
    /// sipfrag to the transfer; 489 for another event package; 481 when no subscription
    /// of ours matches (RFC 6665 §4.1.3, §8.2.1).
    pub(super) fn notify(&mut self, request: &Request, now: Instant) -> Response {
        let subscription = self.transfer.subscription;
        if let Err((code, phrase)) = match_notify(&request.head, subscription.map(|s| s.id)) {
            return Response::to(request, code, Some(phrase));
        }
        let report = read_notify(&request.head, &request.body);
        let terminated = report.state == SubscriptionState::Terminated;
        self.transfer.subscription = subscription.filter(|_| !terminated).map(|s| Subscription {
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
        if let Some(subscription) = self.transfer.subscription
            && subscription.expires_at.is_some_and(|at| now >= at)
        {
            // Expired without a terminating NOTIFY: as good as terminated (RFC 6665 §4.1.3).
            self.transfer.subscription = None;
            let expired = TransferEvent::Notify {
                sipfrag: None,
                subscription: SubscriptionState::Terminated,
            };
            self.settle(expired, now);
        }
        let late = self
            .transfer
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
    pub(super) fn abandon_transfer(&mut self) {
        // No timer starts on abandonment, so any instant will do.
        self.settle(TransferEvent::CallEnding, Instant::now());
    }

    /// Feeds `event` to the transfer and, when that decides it, reports the end.
    fn settle(&mut self, event: TransferEvent, now: Instant) {
        let failure_label = failure_label(&event);
        let end = match self.transfer.machine.handle(event) {
            TransferResult::Waiting | TransferResult::Stale => return,
            TransferResult::Completed(status) => {
                self.transfer.leave_at = Some(now + LEAVE_GRACE);
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
        let Some(current) = self.transfer.current.take() else {
            return;
        };
        if current.dialtone {
            self.actions.push_back(Action::Prompt(None));
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
        self.actions.push_back(Action::TransferEnded {
            transfer_id: current.transfer_id,
            end,
            label,
        });
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
