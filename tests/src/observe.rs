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
            let records = self.records(|record| record["sipCallId"] == sip_call_id);
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

    /// The transfer records (lines with a `transferId`) of the call whose id (`SCL_…`) is
    /// `call_id`, once there are `count` of them, waiting up to `limit`; panics if fewer
    /// appear, or more.
    pub fn transfer_records_of(&self, call_id: &str, count: usize, limit: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let records = self.records(|record| {
                record["callId"] == call_id && record.get("transferId").is_some()
            });
            if records.len() > count {
                panic!(
                    "{} transfer records for {call_id}, not {count}: {records:?}",
                    records.len()
                );
            }
            if records.len() == count {
                return records;
            }
            if started.elapsed() > limit {
                panic!(
                    "{} transfer records for {call_id} after {limit:?}, not {count}: {records:?}",
                    records.len()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The records of the file (calls and transfers) that `keep` keeps, as they are now.
    pub fn records(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.cdr).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| keep(record))
            .collect()
    }

    /// Waits until at least `calls` answered calls are up (`sipbridge_active_calls`); panics
    /// after `limit`.
    pub fn wait_for_active_calls(&self, calls: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.metric("sipbridge_active_calls") < calls as f64 {
            assert!(
                Instant::now() < deadline,
                "{calls} calls did not come up within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
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

/// The `transfers_total` sample for one outcome label.
pub fn transfers(outcome: &str) -> String {
    format!("sipbridge_transfers_total{{outcome=\"{outcome}\"}}")
}

/// The `calls_ended` sample for one outcome.
pub fn calls_ended(direction: &str, reason: &str, status_class: &str) -> String {
    format!(
        "sipbridge_calls_ended_total{{direction=\"{direction}\",reason=\"{reason}\",status_class=\"{status_class}\"}}"
    )
}

/// The livekit-server versions the tests compare, each with the reasons of a client
/// LeaveRequest it keeps as the participant's `disconnect_reason` (what other room members
/// see); every other reason becomes CLIENT_INITIATED. Read from each version's
/// pkg/rtc/signalling/signalhandler.go (the LeaveRequest case; AGENT_ERROR, kept by both, is
/// not a reason the bridge sends): v1.13.8 added SIP_TRUNK_FAILURE (livekit/livekit#4890);
/// MEDIA_FAILURE and CONNECTION_TIMEOUT read CLIENT_INITIATED on both. The departure
/// attributes carry the exact reason on every version.
pub const LIVEKIT_SERVERS: [(&str, &[&str]); 2] = [
    (
        "v1.13.5",
        &["CLIENT_INITIATED", "USER_UNAVAILABLE", "USER_REJECTED"],
    ),
    (
        "v1.13.11",
        &[
            "CLIENT_INITIATED",
            "USER_UNAVAILABLE",
            "USER_REJECTED",
            "SIP_TRUNK_FAILURE",
        ],
    ),
];

/// The `disconnect_reason` livekit-server `version` shows for a departure with `sent`.
/// Panics for a version [`LIVEKIT_SERVERS`] does not list (its behaviour is unknown).
pub fn reason_server_shows<'a>(version: &str, sent: &'a str) -> &'a str {
    let Some((_, kept)) = LIVEKIT_SERVERS.iter().find(|(v, _)| *v == version) else {
        panic!("livekit-server {version}: which leave reasons it keeps is not known");
    };
    if kept.contains(&sent) {
        sent
    } else {
        "CLIENT_INITIATED"
    }
}
