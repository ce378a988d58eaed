//! The test bed in cluster mode (`tests/bed/up --cluster`: livekit-server on the bed's Redis,
//! the bed's bridge a SIP node in `mode: cluster`), as an application sees it: trunks and a
//! dispatch rule created through livekit-server with the Python SDK, a phone call landing in
//! the rule's room, a trunk's `ringing_timeout` keeping a phone ringing until a room member
//! listens, and outbound calls placed through livekit-server's API with both SDKs.
//! `tests/run` runs these after the standalone suite, on the same ports, with the bed
//! restarted in cluster mode; the standalone run skips them by name.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::sipp::{PHONE_HANGS_UP, run_uac, scenario};
use sipbridge_tests::sipp_uas::{SippUas, answer, carrier_hangs_up_after};
use sipbridge_tests::{Bed, RoomMember, agent_dispatches_within, store_with};

const WAIT: Duration = Duration::from_secs(30);

/// The bed, when it is up in cluster mode; a bed in standalone mode fails the test in CI
/// (tests/run starts the cluster bed for these) and skips it elsewhere.
fn cluster_bed(test: &str) -> Option<Bed> {
    let bed = Bed::get(test)?;
    if bed.mode == "cluster" {
        return Some(bed);
    }
    let reason = "the bed is up in standalone mode: these run on tests/bed/up --cluster";
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{test}: {reason}");
    }
    eprintln!("SKIPPED {test}: {reason}");
    None
}

#[test]
fn cluster_bed_an_inbound_call_lands_in_the_room_of_the_rule_livekit_server_holds() {
    let test = "cluster_bed_an_inbound_call_lands_in_the_room_of_the_rule_livekit_server_holds";
    let Some(bed) = cluster_bed(test) else { return };
    // Through the Node SDK here (cluster_inbound.rs uses the Python SDK).
    let trunk = store_with(
        &bed,
        Sdk::Node,
        &json!({"inbound_trunk": {"name": "bed phones", "numbers": ["+15550170"],
            "allowed_addresses": ["127.0.0.1/32"]}}),
    );
    let rule = store_with(
        &bed,
        Sdk::Node,
        &json!({"dispatch_rule": {
            "trunk_ids": [trunk],
            "rule": {"type": "direct", "room_name": "cluster-bed-room"},
            "attributes": {"bed.case": "cluster"},
            "agents": ["bed-agent"],
        }}),
    );
    // The caller creates the room, so that its token's room configuration (the rule's) is
    // the room's: the listener joins once the room is there.
    let phone = {
        let bed = bed.clone();
        let call = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
        std::thread::spawn(move || {
            run_uac(&bed, "cluster", &call, "+15550170", &["-d", "8000"], WAIT)
        })
    };
    // The rule's room configuration rode in the caller's token: its agent was dispatched.
    let dispatches = agent_dispatches_within(&bed, "cluster-bed-room", WAIT);
    assert!(
        dispatches.iter().any(|d| d["agent_name"] == "bed-agent"),
        "{dispatches:?}"
    );
    let mut member = RoomMember::join(&bed, "cluster-bed-room", "listener", &["--commands"]);
    member.expect("joined", WAIT);
    let seen = member.expect_where("attributes", WAIT, |e| {
        e["attributes"]["sip.callStatus"] == "active"
    });
    let run = phone.join().unwrap();
    assert!(run.passed, "{}", run.trace);
    let attributes = &seen["attributes"];
    assert_eq!(attributes["sip.trunkID"], trunk.as_str(), "{seen}");
    assert_eq!(attributes["sip.ruleID"], rule.as_str(), "{seen}");
    assert_eq!(attributes["bed.case"], "cluster", "{seen}");
    let record = bed.cdr_of(&run.call_id, Duration::from_secs(10));
    assert_eq!(record["trunkId"], trunk.as_str(), "{record}");
    assert_eq!(record["dispatchRuleId"], rule.as_str(), "{record}");
    assert_eq!(record["roomName"], "cluster-bed-room", "{record}");
    assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
}

#[test]
fn cluster_bed_outbound_calls_through_livekit_server_reach_the_node() {
    let test = "cluster_bed_outbound_calls_through_livekit_server_reach_the_node";
    let Some(bed) = cluster_bed(test) else { return };
    let carrier = SippUas::start(
        &bed,
        "cluster-bed",
        &answer(&carrier_hangs_up_after(1000)),
        2,
        &[],
    );
    let caller = ApiCaller::of(&bed);
    for sdk in [Sdk::Node, Sdk::Python] {
        let name = format!("{sdk:?}").to_lowercase();
        let request = json!({
            "trunk": { "hostname": carrier.addr(), "transport": "udp" },
            "sip_number": "+15550199",
            "sip_call_to": "+15557654321",
            "room_name": format!("cluster-bed-out-{name}"),
            "participant_identity": format!("callee-{name}"),
            "wait_until_answered": true,
        });
        let reply = caller.create_sip_participant(sdk, &request, &[], WAIT);
        let info = reply
            .ok
            .clone()
            .unwrap_or_else(|| panic!("{sdk:?}: {reply:?}"));
        let call_id = info["sip_call_id"].as_str().unwrap();
        assert!(call_id.starts_with("SCL_"), "{info}");
        // livekit-server chose the call's id; the node's record carries it.
        let record = call_record(&bed, call_id);
        assert_eq!(record["callDirection"], "SCD_OUTBOUND", "{record}");
        assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
        assert_eq!(
            record["callStatusCode"]["status"], "Remote hangup",
            "{record}"
        );
    }
    let run = carrier.finish(WAIT);
    assert!(run.passed, "{}", run.trace);

    // What the node does not carry out reaches it through livekit-server (Krisp as one of
    // the request's features) and is refused by name there too, before any SIP is sent.
    let krisp = json!({
        "trunk": { "hostname": "127.0.0.1:5099", "transport": "udp" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "cluster-bed-krisp",
        "krisp_enabled": true,
    });
    let reply = caller.create_sip_participant(Sdk::Python, &krisp, &[], WAIT);
    let error = reply
        .error
        .clone()
        .unwrap_or_else(|| panic!("krisp_enabled: {reply:?}"));
    assert_eq!(error.code, "invalid_argument", "{error:?}");
    assert!(error.message.contains("krisp_enabled"), "{error:?}");
}

/// A trunk's `ringing_timeout` held by livekit-server: the node keeps the caller ringing in
/// the room until a member subscribes to it (here after 3 s), then answers.
#[test]
fn cluster_bed_a_trunks_ringing_timeout_answers_when_a_member_listens() {
    let test = "cluster_bed_a_trunks_ringing_timeout_answers_when_a_member_listens";
    let Some(bed) = cluster_bed(test) else { return };
    let trunk = store_with(
        &bed,
        Sdk::Python,
        &json!({"inbound_trunk": {"name": "waiting phones", "numbers": ["+15550171"],
            "allowed_addresses": ["127.0.0.1/32"], "ringing_timeout": "10s"}}),
    );
    store_with(
        &bed,
        Sdk::Python,
        &json!({"dispatch_rule": {"dispatch_rule": {"trunk_ids": [trunk],
            "rule": {"dispatch_rule_direct": {"room_name": "cluster-waiting-room"}}}}}),
    );
    let args = ["--subscribe-after", "3", "--commands"];
    let mut member = RoomMember::join(&bed, "cluster-waiting-room", "agent", &args);
    member.expect("joined", WAIT);
    let uri = format!("sip:+15550171@{}", bed.sip_addr);
    let mut phone = RoomMember::script(&bed, "py/phone.py", "phone", &["--uri", &uri]);
    let ringing = phone.expect("ringing", WAIT);
    member.expect("subscribing", WAIT);
    let confirmed = phone.expect("confirmed", WAIT);
    let rang = confirmed["unix_ms"].as_f64().unwrap() - ringing["unix_ms"].as_f64().unwrap();
    println!("cluster mode: the phone rang {rang:.0} ms before the 200");
    assert!(
        rang >= 2500.0,
        "answered after {rang} ms, before anyone subscribed"
    );
    phone.command(json!({"cmd": "hangup"}));
    assert_eq!(phone.expect("disconnected", WAIT)["code"], 200);
}

/// The one call record (not a transfer's) of the call with id `call_id`, once written (an
/// outbound call's ends a second after the answer).
fn call_record(bed: &Bed, call_id: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let records = bed.records(|r| r["callId"] == call_id && r.get("transferId").is_none());
        match records.len() {
            1 => return records.into_iter().next().unwrap(),
            0 if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            n => panic!("{n} records of {call_id}: {records:?}"),
        }
    }
}
