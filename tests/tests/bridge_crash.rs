//! The bridge stopped with calls up, as a process of its own (the bed's binary). Killed
//! outright (SIGKILL, as an OOM kill or a host crash would), then started again: every call
//! that was up gets its record on the new start, from the live-call journal, with the
//! "recovered after a bridge restart" outcome — calls in, records out, across a crash — and
//! its phone a BYE from the new run.
//! SIGTERMed: new calls refused at once, the calls up ended at the drain timeout, exit 0.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sipbridge_tests::Bed;
use sipbridge_tests::node_process::NodeProcess;
use sipbridge_tests::sipp::{PCMU_OFFER, ROOM_HANGS_UP, run_uac, scenario};

const WAIT: Duration = Duration::from_secs(30);
const CALLS: usize = 3;
const NUMBER: &str = "+15550177";

const YAML: &str = "inbound_trunks:
  - { id: crash-callers, numbers: [\"+15550177\"], allowed_addresses: [127.0.0.0/8] }
dispatch_rules:
  - { id: crash-rooms, trunk_ids: [crash-callers], rule: { individual: { room_prefix: crash- } } }
";

#[test]
fn calls_up_when_the_bridge_is_killed_get_recovered_records_on_its_next_start() {
    let test = "calls_up_when_the_bridge_is_killed_get_recovered_records_on_its_next_start";
    let Some(bed) = Bed::get(test) else { return };
    let Some(binary) = NodeProcess::binary(&bed, test) else {
        return;
    };
    let mut bridge = NodeProcess::standalone(&bed, &binary, "crash", YAML);
    let own = bridge.bed.clone();
    // The phones stay on the line until the bridge's BYE, which only the next run can send.
    let phones: Vec<_> = (0..CALLS)
        .map(|i| {
            let own = own.clone();
            std::thread::spawn(move || {
                let call = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
                run_uac(&own, &format!("crash-{i}"), &call, NUMBER, &[], WAIT)
            })
        })
        .collect();
    own.wait_for_active_calls(CALLS, WAIT);
    assert!(own.records(|_| true).is_empty(), "no call has ended yet");
    // The answers' journal entries (and the BYEs kept for a crash) are written and synced
    // by the record writer moments after each 200.
    std::thread::sleep(Duration::from_millis(500));

    bridge.kill();
    let killed_at = Instant::now();
    bridge.start_again();
    println!("bridge back {:?} after the SIGKILL", killed_at.elapsed());
    let recovered =
        own.records(|r| r["callStatusCode"]["status"] == "Recovered after a bridge restart");
    assert_eq!(recovered.len(), CALLS, "{recovered:?}");
    for record in &recovered {
        assert_eq!(record["disconnectReason"], "UNKNOWN_REASON", "{record}");
        assert_eq!(record["callStatusCode"]["code"], 500, "{record}");
        assert_eq!(
            record["callStatus"], "SCS_DISCONNECTED",
            "answered: {record}"
        );
    }
    // Calls in = records out, by SIP Call-ID; and each phone got its BYE from the new run
    // (the old one never sent any), in the dialog the phone knows, and answered it 200.
    for phone in phones {
        let run = phone.join().unwrap();
        println!(
            "{}: BYE taken and answered, SIPp done {:?} after the SIGKILL",
            run.call_id,
            killed_at.elapsed()
        );
        assert!(run.passed, "the phone got a BYE: {}", run.trace);
        let bye = run.received("BYE")[0];
        assert!(bye.contains(&format!("Call-ID: {}", run.call_id)), "{bye}");
        let records = own.records(|r| r["sipCallId"] == run.call_id.as_str());
        assert_eq!(records.len(), 1, "{}: {records:?}", run.call_id);
    }
    let lines = std::fs::read_to_string(&own.cdr).unwrap();
    assert!(
        lines.ends_with('\n'),
        "the record file ends in a whole line"
    );
}

/// SIGTERM with calls up: a new INVITE gets 503 with Retry-After at once, the calls up are
/// ended at the drain timeout with SERVER_SHUTDOWN (their phones get BYE), every record is
/// written and the journal left empty, and the process exits 0.
#[test]
fn a_sigtermed_bridge_refuses_new_calls_ends_its_calls_at_the_drain_timeout_and_exits_0() {
    let test =
        "a_sigtermed_bridge_refuses_new_calls_ends_its_calls_at_the_drain_timeout_and_exits_0";
    let Some(bed) = Bed::get(test) else { return };
    let Some(binary) = NodeProcess::binary(&bed, test) else {
        return;
    };
    let yaml = format!("{YAML}shutdown: {{ drain_timeout: 3s }}\n");
    let mut bridge = NodeProcess::standalone(&bed, &binary, "drain-process", &yaml);
    let own = bridge.bed.clone();
    let phones: Vec<_> = (0..CALLS)
        .map(|i| {
            let own = own.clone();
            std::thread::spawn(move || {
                // Up until the bridge's BYE.
                let call = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
                run_uac(&own, &format!("drain-{i}"), &call, NUMBER, &[], WAIT)
            })
        })
        .collect();
    own.wait_for_active_calls(CALLS, WAIT);
    bridge.signal_terminate();
    std::thread::sleep(Duration::from_millis(300));
    let refused = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "503"), ("OFFER_BODY", PCMU_OFFER)],
    );
    let late = run_uac(&own, "drain-late", &refused, NUMBER, &[], WAIT);
    assert!(late.passed, "a new INVITE while draining: {}", late.trace);
    let status = bridge.wait_exit(WAIT);
    assert!(status.success(), "exit status {status}");
    for phone in phones {
        let run = phone.join().unwrap();
        assert!(run.passed, "the phone got the bridge's BYE: {}", run.trace);
        let record = own.cdr_of(&run.call_id, WAIT);
        assert_eq!(record["disconnectReason"], "SERVER_SHUTDOWN", "{record}");
        assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    }
    let record = own.cdr_of(&late.call_id, WAIT);
    assert_eq!(record["disconnectReason"], "SERVER_SHUTDOWN", "{record}");
    let journal = std::fs::read_dir(own.cdr.with_extension("jsonl.live"))
        .unwrap()
        .count();
    assert_eq!(journal, 0, "a clean stop leaves no call in the journal");
}
