//! The Prometheus registry served at `/metrics` (OpenMetrics text).
//!
//! Our own metrics are prefixed `sipbridge_`; the process metrics use the conventional
//! unprefixed `process_*` names so standard dashboards find them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::process_metrics::ProcessCollector;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls in progress, both directions.
    pub active_calls: Gauge,
    /// SIP requests received, by method (extension methods counted as `other`).
    pub sip_requests: Family<Vec<(&'static str, String)>, Counter>,
    /// Requests answered before any transaction: malformed (400/505/513) or refused by the
    /// checks of RFC 3261 §8.2 (405, 416, 420, 483…), by status code.
    pub sip_requests_refused: Family<Vec<(&'static str, String)>, Counter>,
    /// Messages dropped without an answer, by reason: `malformed` (no Via to answer to, or a
    /// response), `not_for_us` (a response with other than one Via), `overload`.
    pub sip_dropped: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Every call's end (shared/OUTCOMES.md delivery 4).
    pub calls_ended: Family<Vec<(&'static str, String)>, Counter>,
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
        let active_calls = Gauge::default();
        ours.register("active_calls", "Calls in progress", active_calls.clone());
        let sip_requests = Family::default();
        ours.register(
            "sip_requests",
            "SIP requests received, by method",
            sip_requests.clone(),
        );
        let sip_requests_refused = Family::default();
        ours.register(
            "sip_requests_refused",
            "SIP requests answered with an error before any transaction, by status",
            sip_requests_refused.clone(),
        );
        let sip_dropped = Family::default();
        ours.register(
            "sip_dropped",
            "SIP messages dropped without an answer, by reason",
            sip_dropped.clone(),
        );
        let calls_ended = Family::default();
        ours.register(
            "calls_ended",
            "Calls ended, by direction, disconnect reason and SIP status class",
            calls_ended.clone(),
        );
        Self {
            registry,
            active_calls,
            sip_requests,
            sip_requests_refused,
            sip_dropped,
            calls_ended,
        }
    }

    /// Counts one ended call: `direction` `inbound`/`outbound`, `reason` the
    /// DisconnectReason name, and the class of its SIP status (`4xx`, or `none` for 0).
    pub fn call_ended(&self, direction: &'static str, reason: &str, status: u16) {
        let class = sipbridge_signaling::outcome::status_class(status).to_owned();
        let labels = vec![
            ("direction", direction.to_owned()),
            ("reason", reason.to_owned()),
            ("status_class", class),
        ];
        self.calls_ended.get_or_create(&labels).inc();
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
