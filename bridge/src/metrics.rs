//! The Prometheus registry served at `/metrics` (OpenMetrics text).
//!
//! Our own metrics are prefixed `sipbridge_`; the process metrics use the conventional
//! unprefixed `process_*` names so standard dashboards find them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::process_metrics::ProcessCollector;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls in progress, both directions.
    pub active_calls: Gauge,
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
        Self {
            registry,
            active_calls,
        }
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
