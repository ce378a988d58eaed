//! Bridges of the tests' own (in this process, on port 0) against the bed's livekit-server,
//! for what the shared bed bridge cannot show: shutting down with a call up, the call
//! limit, and a LiveKit server that cannot be reached.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sipbridge_tests::sipp::{ROOM_HANGS_UP, run_uac, scenario};
use sipbridge_tests::{Bed, OwnBridge, RoomMember};

const WAIT: Duration = Duration::from_secs(30);

/// After the drain period the bridge sends BYE to the phone, the participant leaves, and
/// the call's record says SERVER_SHUTDOWN, 503 "Shutting down" (shared/OUTCOMES.md).
#[test]
fn a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record() {
    let Some(bed) = Bed::get("a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record")
    else {
        return;
    };
    let mut bridge = OwnBridge::start(
        &bed,
        "shutdown",
        "rtp: { port_range: { min: 21000, max: 21099 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550150\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-shutdown } } }]\n\
         shutdown: { drain_timeout: 1s }\n",
    );
    let mut member = RoomMember::join(&bed, "bed-shutdown", "watcher", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = {
        let own = bridge.bed.clone();
        let text = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
        std::thread::spawn(move || run_uac(&own, "shutdown", &text, "+15550150", &[], WAIT))
    };
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == "sip_+15557770001" && e["attributes"]["sip.callStatus"] == "active"
    });
    bridge.signal_stop();
    let run = phone.join().unwrap();
    assert!(run.passed, "the phone did not get its BYE:\n{}", run.trace);
    bridge.wait();

    let record = bridge.bed.cdr_of(&run.call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "SERVER_SHUTDOWN", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Shutting down",
        "{record}"
    );
    let left = member.expect_where("left", Duration::from_secs(10), |e| {
        e["identity"] == "sip_+15557770001"
    });
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "SERVER_SHUTDOWN"
    );
    drop(member);
}

/// With `limits.max_active_calls: 1`, a second call while the first is up gets 503 with
/// Retry-After, and a record of its own.
#[test]
fn a_call_over_max_active_calls_gets_503() {
    let Some(bed) = Bed::get("a_call_over_max_active_calls_gets_503") else {
        return;
    };
    let bridge = OwnBridge::start(
        &bed,
        "limits",
        "rtp: { port_range: { min: 21100, max: 21199 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550170\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-limits } } }]\n\
         limits: { max_active_calls: 1, max_cpu_utilization: 1.0 }\n",
    );
    let mut member = RoomMember::join(&bed, "bed-limits", "watcher", &["--commands"]);
    member.expect("joined", WAIT);
    let first = {
        let own = bridge.bed.clone();
        let text = scenario(
            "uac_call",
            &[("HANGUP", sipbridge_tests::sipp::PHONE_HANGS_UP)],
        );
        std::thread::spawn(move || {
            run_uac(&own, "first", &text, "+15550170", &["-d", "4000"], WAIT)
        })
    };
    member.expect_where("attributes", WAIT, |e| {
        e["attributes"]["sip.callStatus"] == "active"
    });
    let offer = "      v=0\n      o=- 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0";
    let text = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "503"), ("OFFER_BODY", offer)],
    );
    let second = run_uac(&bridge.bed, "second", &text, "+15550170", &[], WAIT);
    assert!(second.passed, "{}", second.trace);
    assert!(second.trace.contains("Retry-After: 5"), "{}", second.trace);
    let record = bridge.bed.cdr_of(&second.call_id, Duration::from_secs(5));
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    assert_eq!(record["disconnectReason"], "JOIN_FAILURE", "{record}");
    assert!(first.join().unwrap().passed, "the first call was disturbed");
    drop(member);
}

/// LiveKit unreachable: the caller gets 503 and the record says JOIN_FAILURE
/// (shared/OUTCOMES.md: "room join failure → 503").
#[test]
fn a_room_that_cannot_be_joined_gets_503() {
    let Some(bed) = Bed::get("a_room_that_cannot_be_joined_gets_503") else {
        return;
    };
    // Nothing listens on port 9 (discard) of 127.0.0.1 on these machines.
    let bridge = OwnBridge::start_with_livekit(
        &bed,
        "nojoin",
        "ws://127.0.0.1:9",
        "rtp: { port_range: { min: 21200, max: 21299 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550180\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-nowhere } } }]\n",
    );
    let offer = "      v=0\n      o=- 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0";
    let text = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "503"), ("OFFER_BODY", offer)],
    );
    let run = run_uac(&bridge.bed, "nojoin", &text, "+15550180", &[], WAIT);
    assert!(run.passed, "{}", run.trace);
    let record = bridge.bed.cdr_of(&run.call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "JOIN_FAILURE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
}
