//! Figures, not assertions: what cluster mode adds to the API, measured on this machine.
//! CreateSIPParticipant through livekit-server (psrpc: request, bid, award, response on
//! Redis) against the same request to a standalone bridge's own Twirp API, 20 calls each
//! one after another, the Python SDK timing only the API call; p50 and p95 printed side by
//! side. The calls do not wait for the answer: the API returns once the phone is dialled, so
//! the figure is the API path, not the carrier.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::sipp;
use sipbridge_tests::sipp_uas::{SippUas, answer, carrier_hangs_up_after};
use sipbridge_tests::{Bed, OwnBridge, OwnCluster};

const CALLS: u32 = 20;

#[test]
fn prints_create_sip_participant_latency_through_livekit_server_and_standalone() {
    let test = "prints_create_sip_participant_latency_through_livekit_server_and_standalone";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let standalone = OwnBridge::start(&bed, "figures-standalone", "");
    let cluster = OwnCluster::start(&bed, "figures-cluster", 1, "");
    let through_bridge = api_latencies(&standalone.bed, "standalone");
    let through_livekit = api_latencies(cluster.bed(), "cluster");
    println!("\nCreateSIPParticipant, Python SDK, {CALLS} calls each (ms)");
    println!("| path | p50 | p95 | max |");
    println!("|---|---|---|---|");
    for (path, times) in [
        ("standalone: the bridge's Twirp API", &through_bridge),
        ("cluster: livekit-server → psrpc → node", &through_livekit),
    ] {
        println!(
            "| {path} | {} | {} | {} |",
            percentile(times, 50),
            percentile(times, 95),
            times.last().unwrap()
        );
    }
}

/// The API times of [`CALLS`] calls placed through `bed`'s API, sorted.
fn api_latencies(bed: &Bed, label: &str) -> Vec<u128> {
    let carrier = SippUas::start(
        bed,
        label,
        &answer(&carrier_hangs_up_after(500)),
        CALLS,
        &[],
    );
    let caller = ApiCaller::of(bed);
    let mut times: Vec<u128> = (0..CALLS)
        .map(|index| {
            let request = json!({
                "trunk": { "hostname": carrier.addr(), "transport": "udp" },
                "sip_number": "+15550199",
                "sip_call_to": "+15557654321",
                "room_name": format!("figures-{label}-{index}"),
                "participant_identity": "callee",
            });
            let reply =
                caller.create_sip_participant(Sdk::Python, &request, &[], Duration::from_secs(30));
            assert!(reply.ok.is_some(), "{label} call {index}: {reply:?}");
            reply.elapsed.as_millis()
        })
        .collect();
    let run = carrier.finish(Duration::from_secs(30));
    assert!(
        run.passed,
        "{label}: the carrier's scenario failed\n{}",
        run.trace
    );
    times.sort_unstable();
    times
}

/// The `p`th percentile of sorted `times` (nearest rank).
fn percentile(times: &[u128], p: usize) -> u128 {
    let rank = (p * times.len()).div_ceil(100).max(1);
    times[rank - 1]
}
