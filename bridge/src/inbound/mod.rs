//! Inbound calls: from an INVITE to a caller in a LiveKit room.

pub mod admit;
mod call;
mod identity;
mod pin;
pub mod routing;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sipbridge_config::Config;
use sipbridge_signaling::auth::Challenger;

use crate::call::ports::RtpPorts;
use crate::cdr::CdrSink;
use crate::metrics::Metrics;
use crate::room::RoomSettings;
use crate::sip::endpoint::CallStarter;
pub use crate::sip::local::LocalAddresses;

/// What every inbound call task shares.
#[derive(Debug)]
pub struct InboundContext {
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
}

impl InboundContext {
    /// Calls still running: the shutdown waits for this to reach zero.
    pub fn calls_in_progress(&self) -> usize {
        self.in_progress.load(Ordering::Acquire)
    }
}

/// Counts a running call task until dropped.
struct InProgress(Arc<InboundContext>);

impl InProgress {
    fn new(context: Arc<InboundContext>) -> Self {
        context.in_progress.fetch_add(1, Ordering::AcqRel);
        Self(context)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Starts a task per new INVITE.
pub fn call_starter(context: Arc<InboundContext>) -> CallStarter {
    Box::new(move |new_call| {
        let running = InProgress::new(context.clone());
        let context = context.clone();
        tokio::spawn(async move {
            call::run(context, new_call).await;
            drop(running);
        });
    })
}
