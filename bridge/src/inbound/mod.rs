//! Inbound calls: from an INVITE to a caller in a LiveKit room.

pub mod admit;
mod call;
mod identity;
mod pin;
pub mod routing;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sipbridge_config::Config;
use sipbridge_signaling::auth::Challenger;
use sipbridge_signaling::message::{Host, NameAddr, Param, SipUri, Uri, Via};
use sipbridge_signaling::transaction::{Transport, make_branch};

use crate::call::ports::RtpPorts;
use crate::cdr::CdrSink;
use crate::metrics::Metrics;
use crate::room::RoomSettings;
use crate::sip::endpoint::CallStarter;

/// The addresses we put in Via, Contact and SDP.
#[derive(Debug, Clone)]
pub struct LocalAddresses {
    /// The address carriers reach us at (`sip.external_ip`, else the listen address).
    pub sip_ip: IpAddr,
    pub udp_port: Option<u16>,
    pub tcp_port: Option<u16>,
    /// The address in SDP `c=` (`rtp.external_ip`, else the SIP one).
    pub rtp_ip: IpAddr,
}

impl LocalAddresses {
    fn port(&self, transport: Transport) -> u16 {
        let port = match transport {
            Transport::Udp => self.udp_port,
            Transport::Tcp | Transport::Tls => self.tcp_port,
        };
        port.or(self.udp_port).or(self.tcp_port).unwrap_or(5060)
    }

    /// Our Contact for a dialog on `transport` (RFC 3261 §8.1.1.8).
    pub fn contact(&self, transport: Transport) -> NameAddr {
        let params: Vec<Param> = match transport {
            Transport::Udp => Vec::new(),
            other => vec![Param {
                name: "transport".into(),
                value: Some(other.via_name().to_ascii_lowercase()),
            }],
        };
        let uri = SipUri::build(
            None,
            &Host::Ip(self.sip_ip),
            Some(self.port(transport)),
            &params,
        );
        NameAddr::new(Uri::Sip(uri))
    }

    /// A Via for a request we send on `transport`, with a fresh branch.
    pub fn via(&self, transport: Transport) -> Via {
        let sent_by = SocketAddr::new(self.sip_ip, self.port(transport));
        let mut via = Via::new(transport.via_name(), sent_by, &make_branch(rand::random()));
        via.params.set("rport", None);
        via
    }
}

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
