//! Inbound calls end to end: SIPp plays the phone (with RTP from Debian sip-tester's G.711
//! pcap), the real bridge puts it in a room of the real livekit-server, and the official
//! Python SDK is the other room member. Each test asserts the SIP exchange (the SIPp
//! scenario fails on anything unexpected), the call detail record, the `calls_ended` metric
//! and, where a room is involved, what the room member saw.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::observe::calls_ended;
use sipbridge_tests::sipp::{
    PCMU_OFFER, PHONE_HANGS_UP, ROOM_HANGS_UP, SippRun, run_uac, scenario,
};
use sipbridge_tests::{Bed, RoomMember, agent_dispatches_within};

const CALLER: &str = "+15557770001";
const CALLER_IDENTITY: &str = "sip_+15557770001";
const WAIT: Duration = Duration::from_secs(30);

fn assert_passed(run: &SippRun) {
    assert!(run.passed, "the SIPp scenario failed:\n{}", run.trace);
}

/// How an inbound call is expected to end, with its `calls_ended` count read before the
/// call so that [`assert_outcome`] can see the call counted.
struct Expected {
    reason: &'static str,
    code: u64,
    status: &'static str,
    sample: String,
    before: f64,
}

fn expect_end(bed: &Bed, reason: &'static str, code: u64, status: &'static str) -> Expected {
    let sample = calls_ended("inbound", reason, &format!("{}xx", code / 100));
    let before = bed.metric(&sample);
    Expected {
        reason,
        code,
        status,
        sample,
        before,
    }
}

/// Asserts the record's outcome and the metric, and returns the record. The metric is
/// counted when the record is written; other tests may count too, never take away.
fn assert_outcome(bed: &Bed, run: &SippRun, expected: Expected) -> Value {
    let record = bed.cdr_of(&run.call_id, Duration::from_secs(10));
    assert_eq!(record["disconnectReason"], expected.reason, "{record}");
    assert_eq!(record["callStatusCode"]["code"], expected.code, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], expected.status,
        "{record}"
    );
    assert_eq!(record["callDirection"], "SCD_INBOUND", "{record}");
    let after = bed.metric(&expected.sample);
    assert!(
        after > expected.before,
        "{} did not count the call ({} before, {after} after)",
        expected.sample,
        expected.before
    );
    record
}

fn call_with_audio(hangup: &str) -> String {
    scenario("uac_call", &[("HANGUP", hangup)])
}

#[test]
fn a_phone_call_is_heard_in_the_room_and_ends_with_the_phones_bye() {
    let Some(bed) = Bed::get("a_phone_call_is_heard_in_the_room_and_ends_with_the_phones_bye")
    else {
        return;
    };
    let expected = expect_end(&bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let accepted = "sipbridge_inbound_invites_total{status=\"200\"}";
    let from_phone = "sipbridge_rtp_packets_total{direction=\"from_phone\"}";
    let to_phone = "sipbridge_rtp_packets_total{direction=\"to_phone\"}";
    let counted = |bed: &Bed| [accepted, from_phone, to_phone].map(|m| bed.metric(m));
    let counted_before = counted(&bed);
    let mut member = RoomMember::join(
        &bed,
        "bed-+15550111",
        "listener",
        &["--detect-tone", "--timeout", "25", "--commands"],
    );
    member.expect("joined", WAIT);

    let phone = {
        let bed = bed.clone();
        std::thread::spawn(move || {
            run_uac(
                &bed,
                "audio",
                &call_with_audio(PHONE_HANGS_UP),
                "+15550111",
                &["-d", "6000"],
                WAIT,
            )
        })
    };
    let attributes = member.expect_where("attributes", WAIT, |e| {
        e["from"] == CALLER_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    // The pcap starts with about a second of low-level sound (RMS ~160 at the source), then
    // speech (RMS 1,600-2,800 per second). The member's first window catches the quiet start;
    // a second one, taken from there on, is in the speech.
    let first = member.expect("tone", WAIT);
    assert_eq!(first["from"], CALLER_IDENTITY);
    member.command(json!({"cmd": "detect_tone", "from": CALLER_IDENTITY, "timeout": 5}));
    let heard = member.expect("tone", WAIT);
    let run = phone.join().unwrap();
    assert_passed(&run);
    println!(
        "room member heard the phone: rms {} then {} from {}, first audio {} ms after joining",
        first["rms"], heard["rms"], heard["from"], first["first_audio_ms"]
    );
    assert!(heard["rms"].as_f64().unwrap() > 500.0, "{heard}");

    let attributes = &attributes["attributes"];
    assert_eq!(attributes["sip.phoneNumber"], CALLER);
    assert_eq!(attributes["sip.trunkPhoneNumber"], "+15550111");
    assert_eq!(attributes["sip.trunkID"], "bed-callers");
    assert_eq!(attributes["sip.ruleID"], "bed-rooms");
    assert_eq!(attributes["sip.callIDFull"], run.call_id.as_str());
    assert_eq!(
        attributes["bed.case"], "audio",
        "X-Bed-Case is mapped by the trunk"
    );
    assert_eq!(
        attributes["sip.h.x-bed-case"], "audio",
        "the trunk's include_headers: x_headers"
    );

    let left = member.expect_where("left", WAIT, |e| e["identity"] == CALLER_IDENTITY);
    assert_eq!(left["attributes"]["sip.callStatus"], "hangup");
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "CLIENT_INITIATED"
    );
    assert_eq!(left["attributes"]["sip.statusCode"], "200");
    assert_eq!(left["attributes"]["sip.statusReason"], "Remote hangup");

    let record = assert_outcome(&bed, &run, expected);
    assert_eq!(record["audioCodec"], "PCMA");
    assert_eq!(record["trunkId"], "bed-callers");
    assert_eq!(record["roomName"], "bed-+15550111");
    let counted_after = counted(&bed);
    println!(
        "INVITEs accepted, RTP packets from and to the phone: {counted_before:?} → {counted_after:?}"
    );
    // 6 s of RTP: the pcap's 30 ms packets (200) from the phone, our 20 ms packets (300) to
    // it; other tests may add to the counts, never take away.
    assert!(counted_after[0] > counted_before[0]);
    assert!(counted_after[1] - counted_before[1] >= 180.0);
    assert!(counted_after[2] - counted_before[2] >= 250.0);
    drop(member); // Stops the member; its exit status says nothing about the bridge.
}

/// A call to `number` that the room ends with `command` (of the member's): the bridge
/// sends BYE to the phone and records `reason`.
fn the_room_ends_the_call(test: &str, number: &str, command: Value, reason: &'static str) {
    let Some(bed) = Bed::get(test) else {
        return;
    };
    let expected = expect_end(&bed, reason, 200, "Local hangup");
    let room = format!("bed-{number}");
    let mut member = RoomMember::join(&bed, &room, "admin", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = {
        let (bed, number) = (bed.clone(), number.to_owned());
        std::thread::spawn(move || {
            let text = call_with_audio(ROOM_HANGS_UP);
            run_uac(&bed, "room-ends", &text, &number, &[], WAIT)
        })
    };
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == CALLER_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    member.command(command);
    let run = phone.join().unwrap();
    assert_passed(&run);
    assert_outcome(&bed, &run, expected);
    drop(member); // Stops the member; its exit status says nothing about the bridge.
}

#[test]
fn the_room_removing_the_caller_sends_bye_to_the_phone() {
    let remove = json!({"cmd": "remove", "identity": CALLER_IDENTITY});
    the_room_ends_the_call(
        "the_room_removing_the_caller_sends_bye_to_the_phone",
        "+15550112",
        remove,
        "PARTICIPANT_REMOVED",
    );
}

#[test]
fn deleting_the_room_sends_bye_to_the_phone() {
    the_room_ends_the_call(
        "deleting_the_room_sends_bye_to_the_phone",
        "+15550117",
        json!({"cmd": "delete_room"}),
        "ROOM_DELETED",
    );
}

/// A delayed offer (RFC 3261 §13.2.1): the INVITE has no SDP, the bridge offers in its
/// 200, the phone answers in the ACK, and the call is heard in the room like any other.
#[test]
fn an_invite_without_an_offer_gets_ours_and_its_answer_comes_in_the_ack() {
    let Some(bed) =
        Bed::get("an_invite_without_an_offer_gets_ours_and_its_answer_comes_in_the_ack")
    else {
        return;
    };
    let expected = expect_end(&bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let mut member = RoomMember::join(
        &bed,
        "bed-+15550118",
        "listener",
        &["--detect-tone", "--timeout", "25"],
    );
    member.expect("joined", WAIT);
    let text = scenario("uac_delayed_offer", &[("HANGUP", PHONE_HANGS_UP)]);
    let phone = {
        let bed = bed.clone();
        std::thread::spawn(move || {
            run_uac(&bed, "delayed", &text, "+15550118", &["-d", "4000"], WAIT)
        })
    };
    // Anything audible from the phone: the pcap's quiet start is above the member's floor.
    let heard = member.expect("tone", WAIT);
    assert_eq!(heard["from"], CALLER_IDENTITY, "{heard}");
    let run = phone.join().unwrap();
    assert_passed(&run);
    let ok = run.trace.split("SIP/2.0 200 OK").nth(1).unwrap_or_default();
    assert!(
        ok.contains("m=audio "),
        "the 200 carries no offer:\n{}",
        run.trace
    );
    let record = assert_outcome(&bed, &run, expected);
    assert_eq!(
        record["audioCodec"], "PCMA",
        "the codec of the ACK's answer"
    );
    drop(member);
}

/// A delayed offer whose ACK brings no answer: the call cannot have media, so the bridge
/// hangs up at once and says why.
#[test]
fn a_delayed_offer_without_an_answer_in_the_ack_is_hung_up() {
    let Some(bed) = Bed::get("a_delayed_offer_without_an_answer_in_the_ack_is_hung_up") else {
        return;
    };
    let expected = expect_end(
        &bed,
        "MEDIA_FAILURE",
        488,
        "Not Acceptable Here - No usable SDP answer",
    );
    let text = scenario("uac_delayed_offer", &[("HANGUP", ROOM_HANGS_UP)]);
    // The ACK is the only message of the scenario with a body: take it away.
    let body_start = text.find("      Content-Type: application/sdp").unwrap();
    let body_end = body_start + text[body_start..].find("]]>").unwrap();
    let text = format!(
        "{}      Content-Length: 0\n    {}",
        &text[..body_start],
        &text[body_end..]
    );
    // With no answer there is no media to play: the BYE follows the ACK at once.
    let play_start = text.find("  <nop>").unwrap();
    let play_end = play_start + text[play_start..].find("</nop>\n").unwrap() + "</nop>\n".len();
    let text = format!("{}{}", &text[..play_start], &text[play_end..]);
    let run = run_uac(&bed, "noanswer", &text, "+15550118", &[], WAIT);
    assert_passed(&run);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn a_caller_with_the_trunks_credentials_gets_in_after_the_407() {
    let Some(bed) = Bed::get("a_caller_with_the_trunks_credentials_gets_in_after_the_407") else {
        return;
    };
    let expected = expect_end(&bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let run = run_uac(
        &bed,
        "auth",
        &scenario("uac_auth", &[]),
        "+15550120",
        &["-au", "bed", "-ap", "bed-secret", "-d", "500"],
        WAIT,
    );
    assert_passed(&run);
    let record = assert_outcome(&bed, &run, expected);
    assert_eq!(record["trunkId"], "bed-auth");
}

/// A call the bridge must refuse: the scenario expects exactly `code` (then ACKs it).
fn refused(
    bed: &Bed,
    label: &str,
    number: &str,
    code: &str,
    offer: &str,
    extra: &[&str],
) -> SippRun {
    let text = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", code), ("OFFER_BODY", offer)],
    );
    let run = run_uac(bed, label, &text, number, extra, WAIT);
    assert_passed(&run);
    run
}

#[test]
fn wrong_credentials_get_a_challenge_then_403() {
    let Some(bed) = Bed::get("wrong_credentials_get_a_challenge_then_403") else {
        return;
    };
    let expected = expect_end(
        &bed,
        "SIP_TRUNK_FAILURE",
        403,
        "Forbidden - wrong credentials",
    );
    let text = scenario("uac_auth", &[]);
    // The same scenario with a wrong password fails at its 200: what came instead is a 403.
    let run = run_uac(
        &bed,
        "badauth",
        &text,
        "+15550120",
        &["-au", "bed", "-ap", "wrong"],
        WAIT,
    );
    assert!(!run.passed);
    assert!(run.trace.contains("SIP/2.0 407 "), "{}", run.trace);
    assert!(run.trace.contains("SIP/2.0 403 "), "{}", run.trace);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn numbers_no_trunk_serves_get_403() {
    let Some(bed) = Bed::get("numbers_no_trunk_serves_get_403") else {
        return;
    };
    let expected = expect_end(&bed, "SIP_TRUNK_FAILURE", 403, "Forbidden");
    let run = refused(&bed, "unknown", "+15550198", "403", PCMU_OFFER, &[]);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn a_number_served_only_for_another_network_gets_403() {
    let Some(bed) = Bed::get("a_number_served_only_for_another_network_gets_403") else {
        return;
    };
    let expected = expect_end(&bed, "SIP_TRUNK_FAILURE", 403, "Forbidden");
    let run = refused(&bed, "blocked", "+15550130", "403", PCMU_OFFER, &[]);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn a_trunk_without_a_dispatch_rule_gets_404() {
    let Some(bed) = Bed::get("a_trunk_without_a_dispatch_rule_gets_404") else {
        return;
    };
    let expected = expect_end(&bed, "SIP_TRUNK_FAILURE", 404, "Not Found");
    let run = refused(&bed, "norule", "+15550140", "404", PCMU_OFFER, &[]);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn an_offer_without_a_common_codec_gets_488() {
    let Some(bed) = Bed::get("an_offer_without_a_common_codec_gets_488") else {
        return;
    };
    let gsm_only = PCMU_OFFER
        .replace("RTP/AVP 0", "RTP/AVP 3")
        .replace("0 PCMU/8000", "3 GSM/8000");
    let expected = expect_end(
        &bed,
        "MEDIA_FAILURE",
        488,
        "Not Acceptable Here - No common codec",
    );
    let run = refused(&bed, "nocodec", "+15550113", "488", &gsm_only, &[]);
    assert_outcome(&bed, &run, expected);
    assert!(run.trace.contains("Warning: 305 "), "{}", run.trace);
}

#[test]
fn the_caller_cancelling_while_ringing_gets_487() {
    let Some(bed) = Bed::get("the_caller_cancelling_while_ringing_gets_487") else {
        return;
    };
    let expected = expect_end(&bed, "CLIENT_INITIATED", 487, "Request Terminated");
    let run = run_uac(
        &bed,
        "cancel",
        &scenario("uac_cancel", &[]),
        "+15550114",
        &[],
        WAIT,
    );
    assert_passed(&run);
    assert_outcome(&bed, &run, expected);
}

#[test]
fn a_sip_t_invite_with_sdp_and_isup_is_answered_from_its_sdp_part() {
    let Some(bed) = Bed::get("a_sip_t_invite_with_sdp_and_isup_is_answered_from_its_sdp_part")
    else {
        return;
    };
    let expected = expect_end(&bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let run = run_uac(
        &bed,
        "sipt",
        &scenario("uac_sip_t", &[]),
        "+15550115",
        &["-d", "500"],
        WAIT,
    );
    assert_passed(&run);
    let record = assert_outcome(&bed, &run, expected);
    assert_eq!(record["audioCodec"], "PCMU");
}

/// Two calls from one number into one room at once (a company's switchboard number, or
/// every caller with a withheld number): the first caller keeps `sip_<number>`, the second
/// joins as `sip_<number>_2`. Neither evicts the other (LiveKit's DUPLICATE_IDENTITY), the
/// room hears both, and each record names its own participant and ends with its phone's BYE.
#[test]
fn two_calls_from_one_number_into_one_room_are_both_heard() {
    let test = "two_calls_from_one_number_into_one_room_are_both_heard";
    let Some(bed) = Bed::get(test) else { return };
    let number = "+15550119";
    let mut member = RoomMember::join(&bed, &format!("bed-{number}"), "listener", &["--commands"]);
    member.expect("joined", WAIT);
    let call = |label: &str| {
        let (bed, label) = (bed.clone(), label.to_owned());
        std::thread::spawn(move || {
            let text = call_with_audio(PHONE_HANGS_UP);
            run_uac(&bed, &label, &text, number, &["-d", "8000"], WAIT)
        })
    };
    let active = |member: &mut RoomMember, identity: &str| {
        member.expect_where("attributes", WAIT, |e| {
            e["from"] == identity && e["attributes"]["sip.callStatus"] == "active"
        });
    };
    // The first is in the room before the second dials, so which is which is known.
    let first = call("same-number-1");
    active(&mut member, CALLER_IDENTITY);
    let second = call("same-number-2");
    let second_identity = format!("{CALLER_IDENTITY}_2");
    active(&mut member, &second_identity);

    for identity in [CALLER_IDENTITY, second_identity.as_str()] {
        member.command(json!({"cmd": "detect_tone", "from": identity, "timeout": 5}));
        let heard = member.expect_where("tone", WAIT, |e| e["from"] == identity);
        println!("the room heard {identity}: rms {}", heard["rms"]);
    }
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    assert_passed(&first);
    assert_passed(&second);
    for (run, identity) in [(&first, CALLER_IDENTITY), (&second, &second_identity)] {
        let record = bed.cdr_of(&run.call_id, WAIT);
        assert_eq!(record["participantIdentity"], identity, "{record}");
        assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
        assert_eq!(
            record["callStatusCode"]["status"], "Remote hangup",
            "{record}"
        );
    }
    let evicted = member.take_earlier("left", |e| e["reason"] == "DUPLICATE_IDENTITY");
    assert!(evicted.is_empty(), "{evicted:?}");
}

/// A rule's `room_config` rides in the caller's token: livekit-server creates the room with
/// it and dispatches the agent it names, as the server's API shows (no agent worker needed).
#[test]
fn a_rules_room_config_dispatches_its_agent_into_the_callers_room() {
    let test = "a_rules_room_config_dispatches_its_agent_into_the_callers_room";
    let Some(bed) = Bed::get(test) else { return };
    let phone = {
        let bed = bed.clone();
        std::thread::spawn(move || {
            let text = call_with_audio(PHONE_HANGS_UP);
            run_uac(&bed, "agent", &text, "+15550180", &["-d", "3000"], WAIT)
        })
    };
    // The agent dispatch API is livekit-server's, not the bridge's.
    let server = Bed {
        api_url: bed.livekit_url.replacen("ws", "http", 1),
        ..bed.clone()
    };
    let dispatches = agent_dispatches_within(&server, "bed-agent", WAIT);
    println!("agent dispatches of the caller's room: {dispatches:?}");
    assert!(
        dispatches.iter().any(|dispatch| {
            dispatch["agent_name"] == "bed-receptionist"
                && dispatch["metadata"] == "from the YAML rule"
        }),
        "{dispatches:?}"
    );
    assert_passed(&phone.join().unwrap());
}

/// A rule with `hide_phone_number`: the room sees a hashed identity, "Phone" and the last four
/// digits, and no `sip.*` attribute with the number; the record still has the caller.
#[test]
fn a_rule_hiding_the_phone_number_keeps_it_out_of_the_room() {
    let test = "a_rule_hiding_the_phone_number_keeps_it_out_of_the_room";
    let Some(bed) = Bed::get(test) else { return };
    let number = "+15550175";
    let mut member = RoomMember::join(&bed, &format!("private-{number}"), "host", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = {
        let bed = bed.clone();
        std::thread::spawn(move || {
            let text = call_with_audio(PHONE_HANGS_UP);
            run_uac(&bed, "private", &text, number, &["-d", "3000"], WAIT)
        })
    };
    let caller = member.expect_where("attributes", WAIT, |e| {
        e["from"]
            .as_str()
            .is_some_and(|from| from.starts_with("sip_"))
            && e["attributes"]["sip.callStatus"] == "active"
    });
    let run = phone.join().unwrap();
    assert_passed(&run);
    println!(
        "the room saw the caller as {} named {}",
        caller["from"], caller["name"]
    );
    assert_ne!(caller["from"], CALLER_IDENTITY);
    assert_eq!(caller["name"], "Phone 0001");
    let attributes = caller["attributes"].as_object().unwrap();
    for (name, value) in attributes {
        let value = value.as_str().unwrap_or_default();
        assert!(
            !value.contains("5557770001"),
            "{name}={value} shows the number"
        );
    }
    assert_eq!(attributes["sip.ruleID"], "bed-private-rooms");
    let record = bed.cdr_of(&run.call_id, WAIT);
    assert_eq!(record["participantIdentity"], caller["from"], "{record}");
}
