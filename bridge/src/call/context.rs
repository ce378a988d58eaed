//! What every call task shares, inbound or outbound: settings, RTP ports, the record sink,
//! metrics, the addresses we advertise, and the count of calls in progress that admission
//! control and the drain read.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sipbridge_config::Config;
use sipbridge_signaling::auth::Challenger;
use sipbridge_signaling::outcome::{Direction, Outcome, Overload};
use tokio::sync::mpsc;

use super::directory::CallDirectory;
use super::ports::RtpPorts;
use crate::cdr::{CallRecord, CdrSink};
use crate::metrics::Metrics;
use crate::room::RoomSettings;
use crate::sip::link::Command;
use crate::sip::local::LocalAddresses;

/// What every call task shares.
#[derive(Debug)]
pub struct CallContext {
    pub config: Arc<Config>,
    pub room: RoomSettings,
    pub ports: RtpPorts,
    pub cdr: CdrSink,
    pub metrics: Arc<Metrics>,
    /// One digest challenger for every trunk with credentials (realm: the bridge).
    pub challenger: Mutex<Challenger>,
    pub local: LocalAddresses,
    /// The machine's CPU utilization, for `limits.max_cpu_utilization`.
    pub cpu: crate::load::CpuLoad,
    /// Set when the bridge drains: new calls are refused 503.
    pub draining: AtomicBool,
    /// Call tasks still running (set-up or answered).
    pub in_progress: AtomicUsize,
    /// The SIP endpoint task, for calls we place.
    pub endpoint: mpsc::Sender<Command>,
    /// Answered calls by participant, for the API's transfers.
    pub directory: CallDirectory,
    /// The identities our inbound callers hold in each room: no call evicts another.
    pub identities: super::identities::Identities,
    /// Where inbound calls go: the YAML's trunks and rules, or livekit-server's.
    pub routes: Arc<dyn crate::inbound::routes::Routes>,
    /// This bridge as a node of a LiveKit cluster (`mode: cluster`).
    pub cluster: Option<crate::cluster::Node>,
}

impl CallContext {
    /// Calls still running: the shutdown waits for this to reach zero.
    pub fn calls_in_progress(&self) -> usize {
        self.in_progress.load(Ordering::Acquire)
    }

    /// Which limit (`limits:`) refuses a new call, if one does. The count includes the
    /// asking call's own task.
    pub fn overloaded(&self) -> Option<Overload> {
        self.over_limits(self.calls_in_progress())
    }

    /// Whether a new call would be taken now: not draining, not over a limit. A cluster
    /// node that would refuse does not bid for calls, so another node gets them.
    pub fn accepts_calls(&self) -> bool {
        !self.draining.load(Ordering::Acquire) && self.would_refuse_a_call().is_none()
    }

    /// Which limit would refuse a call arriving now (for `/health`: no call is asking).
    pub fn would_refuse_a_call(&self) -> Option<Overload> {
        self.over_limits(self.calls_in_progress() + 1)
    }

    /// The limits with `calls` in progress.
    fn over_limits(&self, calls: usize) -> Option<Overload> {
        let limits = &self.config.limits;
        if limits
            .max_active_calls
            .is_some_and(|max| calls > max as usize)
        {
            return Some(Overload::TooManyCalls);
        }
        if self.cpu.utilization() > limits.max_cpu_utilization {
            return Some(Overload::Cpu);
        }
        None
    }

    /// The call's end: its record written and `calls_ended` counted, with one outcome.
    pub fn finish(&self, direction: Direction, record: CallRecord, outcome: &Outcome, error: &str) {
        let reason = crate::call::sip::livekit_reason(outcome.reason);
        self.metrics
            .call_ended(direction, reason.as_str_name(), outcome.status.code);
        record.finish(reason, outcome.status.code, &outcome.status.reason, error);
    }
}

/// Counts a running call task until dropped.
#[derive(Debug)]
pub struct InProgress(Arc<CallContext>);

impl InProgress {
    pub fn new(context: Arc<CallContext>) -> Self {
        context.in_progress.fetch_add(1, Ordering::AcqRel);
        Self(context)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}
