//! The Prometheus registry served at `/metrics` (OpenMetrics text).
//!
//! Our own metrics are prefixed `sipbridge_`; the process metrics use the conventional
//! unprefixed `process_*` names so standard dashboards find them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use sipbridge_signaling::outcome::Direction;

use crate::process_metrics::ProcessCollector;
use crate::sip::udp_buffer;

type Labels<V> = Vec<(&'static str, V)>;

/// The `direction` label of the RTP metrics: the phone's stream to us, and ours to it.
pub const FROM_PHONE: &str = "from_phone";
pub const TO_PHONE: &str = "to_phone";
type HistogramFamily = Family<Labels<&'static str>, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls in progress (answered and not yet ended), both directions.
    pub active_calls: Gauge,
    /// SIP requests received, by method (extension methods counted as `other`).
    pub sip_requests: Family<Labels<String>, Counter>,
    /// Requests answered before any transaction: malformed (400/505/513) or refused by the
    /// checks of RFC 3261 §8.2 (405, 416, 420, 483…), by status code.
    pub sip_requests_refused: Family<Labels<String>, Counter>,
    /// Messages dropped without an answer, by reason: `malformed` (no Via to answer to, or a
    /// response), `not_for_us` (a response with other than one Via).
    pub sip_dropped: Family<Labels<&'static str>, Counter>,
    /// New inbound INVITEs by the final status we answered (200 = accepted).
    pub inbound_invites: Family<Labels<String>, Counter>,
    /// Every call's end (docs/OUTCOMES.md, the metric).
    pub calls_ended: Family<Labels<String>, Counter>,
    /// How long answered calls lasted, by direction.
    pub call_duration: HistogramFamily,
    /// RTP on the phone leg, by direction (`from_phone`, `to_phone`).
    pub rtp_packets: Family<Labels<&'static str>, Counter>,
    pub rtp_bytes: Family<Labels<&'static str>, Counter>,
    /// RTP packets that never arrived (RFC 3550 A.3), by direction: `from_phone` as we
    /// counted it, `to_phone` as the phone's last RTCP report said.
    pub rtp_lost: Family<Labels<&'static str>, Counter>,
    /// Interarrival jitter (RFC 3550 A.8) at the end of each call, by direction as above.
    pub rtp_jitter: HistogramFamily,
    /// Transfers (TransferSIPParticipant) by outcome; see [`Metrics::transfer_ended`].
    pub transfers: Family<Labels<&'static str>, Counter>,
    /// SIP events dropped because their call's input queue was full (a flooding peer).
    pub call_inputs_dropped: Counter,
    /// Attempts to write call detail records that failed (disk full, read-only); the records
    /// wait in memory and are written once the file works again.
    pub cdr_write_failures: Counter,
    /// The SIP UDP sockets (by inode) whose kernel drops are reported at each scrape.
    udp_sockets: Arc<OnceLock<Vec<u64>>>,
}

/// `sipbridge_sip_udp_receive_drops_total`, read from the kernel at scrape time.
#[derive(Debug)]
struct UdpDropsCollector(Arc<OnceLock<Vec<u64>>>);

impl Collector for UdpDropsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(drops) = self.0.get().and_then(|inodes| udp_buffer::drops(inodes)) else {
            return Ok(());
        };
        let counter = ConstCounter::new(drops);
        counter.encode(encoder.encode_descriptor(
            "sip_udp_receive_drops",
            "SIP datagrams the kernel dropped because a SIP UDP socket's receive buffer was full",
            None,
            counter.metric_type(),
        )?)
    }
}

fn duration_histogram() -> Histogram {
    // 1 s to about 4.5 hours.
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

fn jitter_histogram() -> Histogram {
    // 1 ms to about 1 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 11))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        let ours = registry.sub_registry_with_prefix("sipbridge");
        ours.register(
            "build",
            "Version of the running sipbridge",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let metrics = Self {
            active_calls: Gauge::default(),
            sip_requests: Family::default(),
            sip_requests_refused: Family::default(),
            sip_dropped: Family::default(),
            inbound_invites: Family::default(),
            calls_ended: Family::default(),
            call_duration: Family::new_with_constructor(duration_histogram),
            rtp_packets: Family::default(),
            rtp_bytes: Family::default(),
            rtp_lost: Family::default(),
            rtp_jitter: Family::new_with_constructor(jitter_histogram),
            transfers: Family::default(),
            call_inputs_dropped: Counter::default(),
            cdr_write_failures: Counter::default(),
            udp_sockets: Arc::default(),
            registry: Registry::default(),
        };
        metrics.register(ours);
        ours.register_collector(Box::new(UdpDropsCollector(metrics.udp_sockets.clone())));
        Self {
            registry,
            ..metrics
        }
    }

    /// Reports the kernel's drops for these SIP UDP sockets (their inodes) from now on.
    pub fn watch_udp_sockets(&self, inodes: Vec<u64>) {
        let _ = self.udp_sockets.set(inodes);
    }

    /// Registers every metric of ours (under the `sipbridge_` prefix).
    fn register(&self, ours: &mut Registry) {
        ours.register(
            "call_inputs_dropped",
            "SIP events dropped because their call's input queue was full",
            self.call_inputs_dropped.clone(),
        );
        ours.register(
            "cdr_write_failures",
            "Failed attempts to write call detail records (kept in memory and retried)",
            self.cdr_write_failures.clone(),
        );
        ours.register(
            "active_calls",
            "Calls in progress",
            self.active_calls.clone(),
        );
        ours.register(
            "sip_requests",
            "SIP requests received, by method",
            self.sip_requests.clone(),
        );
        ours.register(
            "sip_requests_refused",
            "SIP requests answered with an error before any transaction, by status",
            self.sip_requests_refused.clone(),
        );
        ours.register(
            "sip_dropped",
            "SIP messages dropped without an answer, by reason",
            self.sip_dropped.clone(),
        );
        ours.register(
            "inbound_invites",
            "New inbound INVITEs by the final status answered (200: accepted)",
            self.inbound_invites.clone(),
        );
        ours.register(
            "calls_ended",
            "Calls ended, by direction, disconnect reason and SIP status class",
            self.calls_ended.clone(),
        );
        ours.register(
            "call_duration_seconds",
            "Length of answered calls",
            self.call_duration.clone(),
        );
        ours.register(
            "rtp_packets",
            "RTP packets on the phone leg, by direction",
            self.rtp_packets.clone(),
        );
        ours.register(
            "rtp_bytes",
            "RTP payload and header bytes on the phone leg, by direction",
            self.rtp_bytes.clone(),
        );
        ours.register(
            "rtp_lost_packets",
            "RTP packets that never arrived, by direction",
            self.rtp_lost.clone(),
        );
        ours.register(
            "rtp_jitter_seconds",
            "Interarrival jitter of the phone leg's RTP at the end of each call, by direction",
            self.rtp_jitter.clone(),
        );
        ours.register(
            "transfers",
            "Transfers requested through the API, by outcome",
            self.transfers.clone(),
        );
    }

    /// Counts one ended call: `direction` `inbound`/`outbound`, `reason` the
    /// DisconnectReason name, and the class of its SIP status (`4xx`, or `none` for 0).
    pub fn call_ended(&self, direction: Direction, reason: &str, status: u16) {
        let class = sipbridge_signaling::outcome::status_class(status).to_owned();
        let labels = vec![
            ("direction", direction.as_str().to_owned()),
            ("reason", reason.to_owned()),
            ("status_class", class),
        ];
        self.calls_ended.get_or_create(&labels).inc();
    }

    /// Counts one transfer's outcome: `completed`, `call_ended` (the peer hung up first),
    /// `refer_rejected` (the REFER got a failure response), `failed` (a 3xx–6xx sipfrag),
    /// `subscription_terminated`, `timeout`, `abandoned` (the call ended otherwise) or
    /// `in_progress` (refused: another transfer was running).
    pub fn transfer_ended(&self, outcome: &'static str) {
        self.transfers
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    /// One direction of a call's RTP at its end: packets lost (a negative count, more
    /// duplicates than losses, counts as none) and the last interarrival jitter.
    pub fn rtp_stream_ended(&self, direction: &'static str, lost: i64, jitter: Duration) {
        let labels = vec![("direction", direction)];
        self.rtp_lost
            .get_or_create(&labels)
            .inc_by(lost.max(0).unsigned_abs());
        self.rtp_jitter
            .get_or_create(&labels)
            .observe(jitter.as_secs_f64());
    }

    /// Counts the final status of a new inbound INVITE.
    pub fn inbound_invite(&self, status: u16) {
        self.inbound_invites
            .get_or_create(&vec![("status", status.to_string())])
            .inc();
    }

    /// The registry in OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
