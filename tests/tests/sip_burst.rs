//! A burst of 200 INVITEs within a second into a bridge that takes 40 calls at a time: every
//! one gets a final answer — 200 for those within the limit, 503 for the others — none is
//! dropped silently, and each has exactly one record (calls in = records out).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use sipbridge_tests::sipp::{PHONE_HANGS_UP, run_uac, scenario};
use sipbridge_tests::{Bed, OwnBridge};

const INVITES: usize = 200;

const YAML: &str = "inbound_trunks:
  - { id: burst, numbers: [\"+15550178\"], allowed_addresses: [127.0.0.0/8] }
dispatch_rules:
  - { id: burst-rooms, trunk_ids: [burst], rule: { callee: { room_prefix: burst- } } }
limits: { max_active_calls: 40, max_cpu_utilization: 1.0 }
";

#[test]
fn a_burst_of_200_invites_is_answered_or_refused_one_by_one_and_each_recorded() {
    let test = "a_burst_of_200_invites_is_answered_or_refused_one_by_one_and_each_recorded";
    let Some(bed) = Bed::get(test) else { return };
    let bridge = OwnBridge::start(&bed, "burst", YAML);
    let own = &bridge.bed;
    let calls = INVITES.to_string();
    let extra = [
        "-m",
        calls.as_str(),
        "-r",
        "200",
        "-rp",
        "1000",
        "-l",
        calls.as_str(),
    ];
    let text = scenario("uac_burst", &[]);
    let run = run_uac(
        own,
        "burst",
        &text,
        "+15550178",
        &extra,
        Duration::from_secs(60),
    );
    assert!(
        run.passed,
        "an INVITE got no final answer, or a wrong one:\n{}",
        run.trace
    );

    // The bridge's own record file holds this burst only. Every record is written once its
    // call is over, the last ones within seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = own.records(|_| true);
        if records.len() >= INVITES || std::time::Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for record in &records {
        let key = format!(
            "{} {}",
            record["disconnectReason"].as_str().unwrap_or("?"),
            record["callStatusCode"]["code"]
        );
        *by_status.entry(key).or_default() += 1;
    }
    println!("{INVITES} INVITEs in a second: records by outcome {by_status:?}");
    let ids: std::collections::HashSet<&str> = records
        .iter()
        .filter_map(|r| r["sipCallId"].as_str())
        .collect();
    assert_eq!(
        records.len(),
        INVITES,
        "one record per INVITE: {by_status:?}"
    );
    assert_eq!(ids.len(), INVITES, "never two records for one call");
    let answered = by_status.get("CLIENT_INITIATED 200").copied().unwrap_or(0);
    let refused = by_status.get("JOIN_FAILURE 503").copied().unwrap_or(0);
    assert_eq!(answered + refused, INVITES, "{by_status:?}");
    assert!(
        answered >= 40,
        "the limit's worth were answered: {by_status:?}"
    );
}

/// A flood of datagrams several times the size of the SIP UDP socket's receive buffer, sent
/// as fast as one thread can: whatever the kernel drops for want of room is counted
/// (`sipbridge_sip_udp_receive_drops_total`), so every datagram sent is accounted for — read
/// and counted (this junk as `malformed`), or counted as dropped — and a call right after the
/// flood is answered.
#[test]
fn a_udp_flood_loses_no_datagram_uncounted_and_calls_go_on() {
    let test = "a_udp_flood_loses_no_datagram_uncounted_and_calls_go_on";
    let Some(bed) = Bed::get(test) else { return };
    let bridge = OwnBridge::start(&bed, "flood", YAML);
    let own = &bridge.bed;
    const MALFORMED: &str = "sipbridge_sip_dropped_total{reason=\"malformed\"}";
    const KERNEL_DROPS: &str = "sipbridge_sip_udp_receive_drops_total";
    let counted = || own.metric(MALFORMED) + own.metric(KERNEL_DROPS);
    assert_eq!(counted(), 0.0, "a fresh bridge");

    // 48 MB: twelve times the 4 MiB buffer the bridge asks for.
    const FLOOD: usize = 40_000;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let junk = vec![b'x'; 1200];
    let started = std::time::Instant::now();
    for _ in 0..FLOOD {
        socket.send_to(&junk, &own.sip_addr).unwrap();
    }
    let sent_in = started.elapsed();
    // Counted once the bridge has read what the kernel kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while counted() < FLOOD as f64 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (malformed, dropped) = (own.metric(MALFORMED), own.metric(KERNEL_DROPS));
    println!(
        "{FLOOD} datagrams sent in {sent_in:?}: {malformed} read (malformed), {dropped} dropped by \
         the kernel for want of buffer"
    );
    assert_eq!(
        malformed + dropped,
        FLOOD as f64,
        "every datagram accounted for"
    );

    let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
    let run = run_uac(
        own,
        "flood-after",
        &text,
        "+15550178",
        &[],
        Duration::from_secs(30),
    );
    assert!(run.passed, "a call after the flood: {}", run.trace);
}
