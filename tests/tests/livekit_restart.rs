//! A standalone bridge whose livekit-server goes away mid-call and comes back on the same
//! ports. Killed (SIGKILL): the call up ends as docs/OUTCOMES.md says of a lost connection —
//! the phone gets BYE once the resume fails, the record says SIGNAL_CLOSE, 200 "Local
//! hangup". Stopped (SIGTERM): livekit-server drains, waiting for its rooms to empty, and the
//! call carries on meanwhile; when the server finally goes (here killed after 5 s), the call
//! ends as above. Either way a new call into the server that came back is answered. Prints
//! how long after the fault the phone had its BYE. Calls still being set up when the server is
//! killed end too (the API caller of a ringing call gets its error, a caller waiting in the
//! room its 480), and a request while it is down gets 503 at once.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use sipbridge_tests::api::{Sdk, create_sip_participant};
use sipbridge_tests::sipp::{
    PCMU_OFFER, ROOM_HANGS_UP, run_uac, scenario, spawn_uac, two_free_ports,
};
use sipbridge_tests::sipp_uas::{RING_180, SippUas};
use sipbridge_tests::{Bed, OwnBridge, OwnLiveKit};

const WAIT: Duration = Duration::from_secs(30);

const YAML: &str = "inbound_trunks:
  - { id: restart, numbers: [\"+15550179\"], allowed_addresses: [127.0.0.0/8] }
  - { id: restart-waiting, numbers: [\"+15550180\"], allowed_addresses: [127.0.0.0/8] }
dispatch_rules:
  - { id: restart-rooms, trunk_ids: [restart], rule: { individual: { room_prefix: restart- } } }
  - { id: restart-waiting, trunk_ids: [restart-waiting], rule: { individual: { room_prefix: waiting- } }, ringing_timeout: 60s }
rtp: { media_timeout: 300s, media_timeout_initial: 300s }
";

/// A call into the bridge that stays up until the bridge's BYE.
fn call_up(own: &Bed, label: &str) -> std::thread::JoinHandle<sipbridge_tests::sipp::SippRun> {
    let own = own.clone();
    let label = label.to_owned();
    std::thread::spawn(move || {
        let call = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
        run_uac(
            &own,
            &label,
            &call,
            "+15550179",
            &[],
            Duration::from_secs(60),
        )
    })
}

fn the_call_ends_and_a_new_one_works_after(fault: &str, stop: fn(&mut OwnLiveKit, &Bed)) {
    let test = format!("a_livekit_server_{fault}_mid_call");
    let Some(bed) = Bed::get(&test) else { return };
    let (port, udp_port) = two_free_ports();
    let name = format!("restart-{fault}");
    let mut livekit = OwnLiveKit::start(&bed, &name, port, udp_port);
    let bridge = OwnBridge::start_with_livekit(&bed, &name, &livekit.url, YAML);
    let own = bridge.bed.clone();
    let phone = call_up(&own, &format!("{name}-up"));
    own.wait_for_active_calls(1, WAIT);

    let fault_at = Instant::now();
    stop(&mut livekit, &own);
    let run = phone.join().unwrap();
    let ended_after = fault_at.elapsed();
    println!("livekit-server {fault}: the phone's call ended with our BYE within {ended_after:?}");
    assert!(run.passed, "the phone got BYE: {}", run.trace);
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_eq!(record["disconnectReason"], "SIGNAL_CLOSE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 200, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Local hangup",
        "{record}"
    );

    livekit = OwnLiveKit::start(&bed, &format!("{name}-again"), port, udp_port);
    let again = call_up(&own, &format!("{name}-again"));
    own.wait_for_active_calls(1, WAIT);
    drop(livekit); // The second call ends as the first did.
    assert!(
        again.join().unwrap().passed,
        "a call after the server came back"
    );
}

#[test]
fn a_livekit_server_killed_mid_call_ends_the_call_with_signal_close() {
    the_call_ends_and_a_new_one_works_after("killed", |livekit, _| livekit.kill());
}

#[test]
fn a_livekit_server_stopped_mid_call_keeps_it_up_while_draining_then_ends_it() {
    the_call_ends_and_a_new_one_works_after("stopped", |livekit, own| {
        std::thread::scope(|scope| {
            let stopping = scope.spawn(|| livekit.stop(Duration::from_secs(5)));
            std::thread::sleep(Duration::from_secs(3));
            let up = own.metric("sipbridge_active_calls");
            assert_eq!(up, 1.0, "the call is up while livekit-server drains");
            stopping.join().unwrap();
        });
    });
}

/// Calls still being set up when livekit-server is killed: an outbound call ringing, its API
/// caller waiting for the answer, and an inbound caller waiting in the room for a listener.
/// Neither hangs: the API caller gets its error and the phone its final response, each call
/// its record as docs/OUTCOMES.md says; and a request made while the server is down fails at
/// once instead of waiting for it.
#[test]
fn calls_being_set_up_when_livekit_server_is_killed_end_and_the_api_answers() {
    let test = "calls_being_set_up_when_livekit_server_is_killed_end_and_the_api_answers";
    let Some(bed) = Bed::get(test) else { return };
    let (port, udp_port) = two_free_ports();
    let mut livekit = OwnLiveKit::start(&bed, "restart-setup", port, udp_port);
    let bridge = OwnBridge::start_with_livekit(&bed, "restart-setup", &livekit.url, YAML);
    let own = bridge.bed.clone();
    let ringing = scenario("uas_ring_forever", &[("RINGING", RING_180)]);
    let carrier = SippUas::start(&own, "restart-ringing", &ringing, 1, &[]);
    let carrier_addr = carrier.addr();
    let request = |room: &str| {
        json!({"trunk": {"hostname": carrier_addr, "transport": "udp"},
               "sip_number": "+15550199", "sip_call_to": "+15557654321", "room_name": room,
               "participant_identity": room, "wait_until_answered": true})
    };
    let outbound = {
        let (own, request) = (own.clone(), request("restart-ringing"));
        std::thread::spawn(move || create_sip_participant(&own, Sdk::Node, &request, WAIT))
    };
    let refused = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "480"), ("OFFER_BODY", PCMU_OFFER)],
    );
    let waiting = spawn_uac(&own, "restart-waiting", &refused, "+15550180", &[], WAIT);
    // Both are in their rooms and ringing well within this on one machine.
    std::thread::sleep(Duration::from_secs(3));

    let killed_at = Instant::now();
    livekit.kill();
    let reply = outbound.join().unwrap();
    println!(
        "ringing call's API caller: {:?} after the kill",
        killed_at.elapsed()
    );
    let error = reply.error.expect("the ringing call failed");
    assert_eq!(error.sip_status_code, Some(487), "{error:?}");
    let run = carrier.finish(WAIT);
    assert!(run.passed, "the carrier got CANCEL: {}", run.trace);
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 487, "{record}");

    let run = waiting.join().unwrap();
    println!(
        "waiting caller: 480 within {:?} of the kill",
        killed_at.elapsed()
    );
    assert!(run.passed, "the waiting caller got 480: {}", run.trace);
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_eq!(record["disconnectReason"], "SIGNAL_CLOSE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 480, "{record}");

    // While the server is down: an answer, not a wait.
    let started = Instant::now();
    let reply = create_sip_participant(&own, Sdk::Node, &request("restart-down"), WAIT);
    println!(
        "a request while livekit-server is down: {:?} in {:?}",
        reply.error,
        started.elapsed()
    );
    let error = reply.error.expect("no call without livekit-server");
    assert_eq!(error.sip_status_code, Some(503), "{error:?}");
    let record = own.records(|r| r["participantIdentity"] == "restart-down");
    assert_eq!(record.len(), 1, "{record:?}");
    assert_eq!(record[0]["disconnectReason"], "JOIN_FAILURE", "{record:?}");
}
