//! The sipbridge service: the only crate that does I/O.
//!
//! [`run`] takes a validated config and already-bound sockets (so tests can bind port 0), serves
//! until `shutdown` resolves, drains, and returns.

pub mod api;
pub mod call;
pub mod cdr;
pub mod cluster;
mod error;
pub mod health;
mod http;
pub mod inbound;
pub mod load;
pub mod logging;
pub mod metrics;
pub mod outbound;
mod process_metrics;
pub mod room;
mod service;
pub mod sip;
pub mod sockets;
pub mod summary;
pub mod transfer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sipbridge_config::Config;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use call::context::CallContext;
use cdr::CdrSink;
pub use error::Error;
use health::{Health, Readiness};
use inbound::{LocalAddresses, call_starter};
use metrics::Metrics;
use sip::endpoint::Endpoint;
use sip::link::Command;
use sip::transport::Transports;
use sockets::BoundSockets;

/// Received SIP messages waiting for the endpoint task; beyond this, UDP receive waits (and
/// the kernel buffer then drops), which is the overload behaviour UDP SIP expects.
const SIP_INBOUND_QUEUE: usize = 4096;

/// How long calls get to send their BYE and leave their rooms once shut down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the exit waits for call detail records to reach the file.
const CDR_FLUSH: Duration = Duration::from_secs(5);

/// How often draining checks whether the last call has ended.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Runs the service until `shutdown` resolves, then drains: `/health` turns 503 and calls in
/// progress get `shutdown.drain_timeout` to end before the HTTP listener closes.
pub async fn run(
    config: Arc<Config>,
    sockets: BoundSockets,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let health = Health::default();
    let metrics = Arc::new(Metrics::new());
    let addrs = sockets.local_addrs().map_err(Error::Http)?;

    let mut sip_tasks = JoinSet::new();
    let (inbound_sender, inbound) = mpsc::channel(SIP_INBOUND_QUEUE);
    metrics.watch_udp_sockets(
        sockets
            .sip_udp
            .iter()
            .filter_map(sip::udp_buffer::inode)
            .collect(),
    );
    let transports = Transports::start(
        sockets.sip_udp,
        sockets.sip_tcp,
        inbound_sender,
        &mut sip_tasks,
    );
    let node = cluster::join(&config).await?;
    let report = node.as_ref().map(cluster::Node::call_state_reporter);
    let failures = Some(metrics.cdr_write_failures.clone());
    let cdr_path: std::path::PathBuf = config.cdr.path.clone().into();
    let left_over_byes = cdr::hangup::left_over(&cdr_path);
    let (cdr, cdr_writer) = CdrSink::start_reporting(cdr_path, report, failures);
    let (endpoint_commands, commands) = sip::endpoint::command_channel();
    let calls = Arc::new(call_context(
        &config,
        &addrs,
        cdr,
        metrics.clone(),
        endpoint_commands.clone(),
        node,
    ));
    // Cluster mode: livekit-server's calls, until the drain starts.
    let serving_calls = cluster::serve_calls(&config, &calls).await?;
    let endpoint = Endpoint::new(
        config.clone(),
        transports,
        metrics.clone(),
        (call_starter(calls.clone()), call_gate(&calls)),
        (endpoint_commands.clone(), commands),
    );
    sip_tasks.spawn(endpoint.run(inbound));
    // The far ends of the calls a crash left up hear from us now that the endpoint runs.
    sip_tasks.spawn(cdr::hangup::send_left_over(
        left_over_byes,
        endpoint_commands.clone(),
    ));

    let (mut http_server, stop_http) = serve_http(&config, sockets.http, &health, &metrics, &calls);

    health.set(Readiness::Ready);
    tracing::info!(
        sip_udp = ?addrs.sip_udp, sip_tcp = ?addrs.sip_tcp, http = %addrs.http,
        livekit = %config.livekit.url, "sipbridge ready"
    );

    until_shutdown(shutdown, &mut http_server).await?;

    health.set(Readiness::Draining);
    // A draining node takes no more calls from livekit-server; its calls and their
    // transfers go on.
    drop(serving_calls);
    end_calls(&calls, &endpoint_commands, config.shutdown.drain_timeout.0).await;

    sip_tasks.abort_all();
    // Every call task holds a CDR sink through the context; once the last one is gone the
    // writer drains its queue and ends, so no record is lost on the way out.
    drop(calls);
    if tokio::time::timeout(CDR_FLUSH, cdr_writer).await.is_err() {
        tracing::error!("call detail records still queued at exit");
    }
    let _ = stop_http.send(());
    match http_server.await {
        Ok(result) => result.map_err(Error::Http)?,
        Err(join_error) => tracing::error!(%join_error, "HTTP server task failed"),
    }
    tracing::info!("sipbridge stopped");
    Ok(())
}

/// Waits for `shutdown`. The HTTP server only ends when told to; ending by itself first is
/// a failure.
async fn until_shutdown(
    shutdown: impl Future<Output = ()> + Send,
    http_server: &mut tokio::task::JoinHandle<std::io::Result<()>>,
) -> Result<(), Error> {
    tokio::select! {
        () = shutdown => Ok(()),
        ended = http_server => {
            let error = match ended {
                Ok(Err(io_error)) => io_error,
                Ok(Ok(())) => std::io::Error::other("stopped unexpectedly"),
                Err(join_error) => std::io::Error::other(join_error),
            };
            Err(Error::Http(error))
        }
    }
}

/// Whether new calls are taken, for the endpoint's answer to OPTIONS probes: the status and
/// `Retry-After` an INVITE would get now.
fn call_gate(calls: &Arc<CallContext>) -> sip::endpoint::CallGate {
    let calls = Arc::downgrade(calls);
    Box::new(move || {
        let calls = calls.upgrade()?;
        if calls.draining.load(std::sync::atomic::Ordering::Acquire) {
            let status = sipbridge_signaling::outcome::InboundRejection::Draining.outcome();
            return Some((status.status, 30));
        }
        let overload = calls.would_refuse_a_call()?;
        let refused = sipbridge_signaling::outcome::SetupFailure::Overloaded(overload);
        Some((refused.outcome().status, 5))
    })
}

/// The HTTP listener (`/health`, `/metrics`, the Twirp API) as a task, and the sender that
/// stops it gracefully.
fn serve_http(
    config: &Config,
    listener: tokio::net::TcpListener,
    health: &Health,
    metrics: &Arc<Metrics>,
    calls: &Arc<CallContext>,
) -> (
    tokio::task::JoinHandle<std::io::Result<()>>,
    oneshot::Sender<()>,
) {
    let (stop_http, http_stopped) = oneshot::channel::<()>();
    let router = http::router(http::HttpState {
        health: health.clone(),
        metrics: metrics.clone(),
        verifier: livekit_api::access_token::TokenVerifier::with_api_key(
            &config.livekit.api_key,
            config.livekit.api_secret.expose(),
        ),
        // Weak: the HTTP server outlives the calls at shutdown, and must not keep the
        // record sink open while the records are flushed. In cluster mode the API is
        // livekit-server's.
        sip: calls.cluster.is_none().then(|| {
            Arc::new(service::BridgeService::new(Arc::downgrade(calls))) as Arc<dyn api::SipService>
        }),
        overload: {
            let calls = Arc::downgrade(calls);
            Arc::new(move || {
                calls
                    .upgrade()
                    .and_then(|calls| calls.would_refuse_a_call())
            })
        },
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_stopped.await;
            })
            .await
    });
    (server, stop_http)
}

/// Draining: new calls are refused, calls in progress get `drain_timeout` to end on their
/// own; those still up then get BYE with SERVER_SHUTDOWN (docs/OUTCOMES.md) and their
/// records, with a short grace to send them.
async fn end_calls(calls: &CallContext, endpoint: &mpsc::Sender<Command>, drain_timeout: Duration) {
    calls
        .draining
        .store(true, std::sync::atomic::Ordering::Release);
    tracing::info!(
        ?drain_timeout,
        calls = calls.calls_in_progress(),
        "draining"
    );
    drain(calls, drain_timeout).await;
    if calls.calls_in_progress() > 0 {
        tracing::info!(
            calls = calls.calls_in_progress(),
            "ending the calls still in progress"
        );
        let _ = endpoint.send(Command::ShutdownCalls).await;
        drain(calls, SHUTDOWN_GRACE).await;
    }
}

/// Waits until no call is in progress (answered or still being set up), or `timeout`.
async fn drain(calls: &CallContext, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while calls.calls_in_progress() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// What calls share, inbound and outbound: the room settings, RTP ports, the digest challenger,
/// the addresses we advertise and the SIP endpoint.
fn call_context(
    config: &Arc<Config>,
    addrs: &sockets::LocalAddrs,
    cdr: CdrSink,
    metrics: Arc<Metrics>,
    endpoint: mpsc::Sender<Command>,
    node: Option<cluster::Node>,
) -> CallContext {
    let listen_ip = addrs
        .sip_udp
        .iter()
        .chain(&addrs.sip_tcp)
        .map(|a| a.ip())
        .next();
    let sip_ip = config
        .sip
        .external_ip
        .as_ref()
        .map(|ip| ip.0)
        .or(listen_ip)
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    let rtp_ip = config.rtp.external_ip.as_ref().map_or(sip_ip, |ip| ip.0);
    // RTP binds where SIP listens when that is one address, else everywhere.
    let bind_ip = listen_ip
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let realm = config
        .sip
        .hostname
        .clone()
        .unwrap_or_else(|| "sipbridge".to_owned());
    let challenger = sipbridge_signaling::auth::Challenger::new(rand::random(), &realm)
        .or_else(|_| sipbridge_signaling::auth::Challenger::new(rand::random(), "sipbridge"))
        .expect("the literal realm is quotable");
    CallContext {
        config: config.clone(),
        room: room::RoomSettings {
            url: config.livekit.url.clone(),
            api_key: config.livekit.api_key.clone(),
            api_secret: config.livekit.api_secret.expose().to_owned(),
        },
        ports: call::ports::RtpPorts::new(config.rtp.port_range, bind_ip),
        cdr,
        metrics,
        challenger: std::sync::Mutex::new(challenger),
        cpu: load::CpuLoad::start(),
        draining: std::sync::atomic::AtomicBool::new(false),
        in_progress: std::sync::atomic::AtomicUsize::new(0),
        endpoint,
        directory: call::directory::CallDirectory::default(),
        identities: call::identities::Identities::default(),
        routes: match &node {
            Some(node) => Arc::new(inbound::routes::cluster::ClusterRoutes::new(node.io_info())),
            None => Arc::new(inbound::routes::yaml::YamlRoutes::new(config.clone())),
        },
        cluster: node,
        local: LocalAddresses {
            sip_ip,
            hostname: config.sip.hostname.clone(),
            udp_port: addrs.sip_udp.first().map(|a| a.port()),
            tcp_port: addrs.sip_tcp.first().map(|a| a.port()),
            rtp_ip,
        },
    }
}
