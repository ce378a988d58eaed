//! What the bridge reports about calls: call detail records and Prometheus metrics.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Bed;

impl Bed {
    /// The call detail record of the call with this SIP Call-ID, waiting up to `limit` for
    /// it; panics if none appears. Also checks there is exactly one (never duplicated).
    pub fn cdr_of(&self, sip_call_id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.cdr).unwrap_or_default();
            let records: Vec<Value> = text
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|record| record["sipCallId"] == sip_call_id)
                .collect();
            match records.len() {
                1 => return records.into_iter().next().unwrap_or_default(),
                0 if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
                0 => panic!(
                    "no call detail record for {sip_call_id} in {}",
                    self.cdr.display()
                ),
                n => panic!("{n} call detail records for {sip_call_id}: {records:?}"),
            }
        }
    }

    /// The value of one metric sample (`name{labels}` exactly as exposed), 0 if absent.
    pub fn metric(&self, sample: &str) -> f64 {
        let output = std::process::Command::new("curl")
            .args(["-sf", &self.metrics_url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// The `calls_ended` sample for one outcome.
pub fn calls_ended(direction: &str, reason: &str, status_class: &str) -> String {
    format!(
        "sipbridge_calls_ended_total{{direction=\"{direction}\",reason=\"{reason}\",status_class=\"{status_class}\"}}"
    )
}
