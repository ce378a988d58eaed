//! What a cluster's node lives through when the parts it depends on fail, on a cluster of
//! the test's own (Redis, livekit-server with `redis:`, one sipbridge node in `mode:
//! cluster`), with SIPp as the carriers and phones and the official SDKs as the API callers:
//!
//! - livekit-server killed (SIGKILL) and started again at once on the same ports, with a
//!   call answered and calls ringing: the answered call ends as docs/OUTCOMES.md says of "the
//!   connection to LiveKit lost (SIGNAL_CLOSE)", the ringing ones as calls whose room closed
//!   before the answer, the API callers still waiting get an error at once rather than their
//!   timeout; new calls placed through the new server are answered (how long after the
//!   kill the first was is printed).
//! - Redis killed and started again on the same port with its data (as with persistence),
//!   with a call answered: the call
//!   does not need Redis once up, so it keeps its audio and ends with its normal record; an
//!   INVITE while Redis is away is refused 503 "Service Unavailable - trunk lookup failed"
//!   with `Retry-After` and gets its record; once Redis is back with its data, new calls
//!   work again both ways (how long after it returned the first of each was answered is
//!   printed); and the first request after a Redis restart nobody used Redis during is
//!   served like any other.

#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, ApiReply, Sdk};
use sipbridge_tests::observe::calls_ended;
use sipbridge_tests::sipp::{self, PHONE_HANGS_UP, SippRun, header, run_uac, scenario};
use sipbridge_tests::sipp_uas::{
    BRIDGE_HANGS_UP, RING_180, SippUas, answer, carrier_hangs_up_after,
};
use sipbridge_tests::{Bed, OwnCluster, RoomMember};

/// Longer than any of these tests: the carriers' silence between their bursts of speech
/// must never end a call.
const NODE: &str = "rtp: { media_timeout: 300s, media_timeout_initial: 300s }\n";

const WAIT: Duration = Duration::from_secs(30);

/// The SDKs' own request timeout for calls placed here, and how long the harness lets one
/// run before it calls it hung.
const REQUEST_TIMEOUT_S: u64 = 40;
const HUNG: Duration = Duration::from_secs(REQUEST_TIMEOUT_S + 20);

/// How long the cluster gets to take calls again after a restart before the test gives up
/// on it.
const RECOVERY_LIMIT: Duration = Duration::from_secs(120);

/// How long a phone waits for the node's answer: any answer the node means to give comes
/// within a few seconds (its questions to livekit-server have 3 s).
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The number inbound calls dial in the Redis test, and its room.
const INBOUND_NUMBER: &str = "+15550191";
const INBOUND_ROOM: &str = "faults-redis-in";

#[test]
fn a_livekit_server_restarted_mid_call_ends_its_calls_precisely_then_takes_new_ones() {
    let test = "a_livekit_server_restarted_mid_call_ends_its_calls_precisely_then_takes_new_ones";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let name = "faults-livekit";
    let mut cluster = OwnCluster::start(&bed, name, 1, NODE);
    let own = cluster.bed().clone();

    // A call answered, whose carrier waits for the bridge's BYE.
    let answered = SippUas::start(&own, "lk-answered", &answer(BRIDGE_HANGS_UP), 1, &[]);
    let mut member = RoomMember::join(&own, "lk-answered", "observer", &["--commands"]);
    member.expect("joined", WAIT);
    let placed = place(&own, Sdk::Python, &answered, "lk-answered");
    assert!(placed.ok.is_some(), "{placed:?}");
    wait_for_status(&mut member, "callee-lk-answered", "active");

    // Two calls ringing, one per SDK, their API callers waiting for the answer.
    let ringing_text = scenario("uas_ring_forever", &[("RINGING", RING_180)]);
    let ringing = SippUas::start(&own, "lk-ringing", &ringing_text, 2, &[]);
    let killed_at = std::thread::scope(|scope| {
        let waiting: Vec<_> = [Sdk::Node, Sdk::Python]
            .into_iter()
            .map(|sdk| {
                let room = format!("lk-ringing-{}", sdk_name(sdk));
                let mut watcher = RoomMember::join(&own, &room, "observer", &["--commands"]);
                watcher.expect("joined", WAIT);
                let (own, carrier, room_name) = (&own, &ringing, room.clone());
                let call = scope.spawn(move || place(own, sdk, carrier, &room_name));
                wait_for_status(&mut watcher, &format!("callee-{room}"), "ringing");
                (sdk, watcher, call)
            })
            .collect();
        let killed_at = SystemTime::now();
        cluster.livekit.kill();
        // Back at once, on the same ports, as a supervisor would have it.
        cluster.start_livekit_again(name);
        println!(
            "livekit-server killed, and back {} ms later",
            since(killed_at, SystemTime::now()).as_millis()
        );
        for (sdk, watcher, call) in waiting {
            let reply = call.join().unwrap();
            let error = reply
                .error
                .clone()
                .unwrap_or_else(|| panic!("{sdk:?}: the call was answered: {reply:?}"));
            println!(
                "{sdk:?} API caller of a ringing call when livekit-server died: {} \"{}\" after {} ms",
                error.class,
                error.message,
                reply.elapsed.as_millis()
            );
            // No HTTP answer came: the connection closed under the request, and the SDK
            // said so rather than waiting for its own timeout.
            assert_eq!(error.status, 0, "{sdk:?}: {error:?}");
            assert_ne!(error.class, "TimeoutError", "{sdk:?}: {error:?}");
            assert_ne!(error.class, "AbortError", "{sdk:?}: {error:?}");
            drop(watcher);
        }
        killed_at
    });

    // The answered call: the bridge could not resume its room connection (the new server
    // cannot take the session: Redis still gives the room to the dead one), so it hung up
    // once its resume budget was spent.
    let run = answered.finish(Duration::from_secs(60));
    assert!(run.passed, "the answered call's carrier:\n{}", run.trace);
    let bye_after = since(killed_at, received_at(&run, "BYE "));
    println!(
        "answered call: the bridge's BYE reached the carrier {} ms after livekit-server was killed",
        bye_after.as_millis()
    );
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_ended(&record, "SIGNAL_CLOSE", 200, "Local hangup");
    assert_eq!(record["callDirection"], "SCD_OUTBOUND", "{record}");
    let sample = calls_ended("outbound", "SIGNAL_CLOSE", "2xx");
    assert_eq!(own.metric(&sample), 1.0, "{sample}");

    // The ringing calls: their rooms were lost before the answer, so they were cancelled.
    let run = ringing.finish(Duration::from_secs(60));
    assert!(run.passed, "the ringing calls' carrier:\n{}", run.trace);
    for sdk in [Sdk::Node, Sdk::Python] {
        let room = format!("lk-ringing-{}", sdk_name(sdk));
        let record = only_record_of_room(&own, &room);
        println!("ringing call ({sdk:?}) record: {record}");
        assert_ended(&record, "CLIENT_INITIATED", 487, "Request Terminated");
    }

    // The node takes new calls through the new server. Until the dead server's entry in
    // Redis grows stale (livekit-server counts a server 5 s after its last report), the
    // new one may still give a new room to it: attempts are made until one is answered.
    let after = until_an_outbound_call_is_answered(&own, "lk-after", killed_at);
    println!(
        "first call placed through the new livekit-server answered {} ms after the kill, at attempt {} (before it: {:?})",
        after.after.as_millis(),
        after.failures.len() + 1,
        after.failures
    );
}

#[test]
fn a_call_lives_through_a_redis_restart_and_new_calls_work_once_redis_is_back() {
    let test = "a_call_lives_through_a_redis_restart_and_new_calls_work_once_redis_is_back";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let name = "faults-redis";
    // The trunk and rule take calls: the refusal below is Redis's doing.
    let (mut cluster, own) = cluster_taking_inbound_calls(&bed, name);

    // A call answered before the outage; its carrier speaks, then waits for the test.
    let carrier = SippUas::start(&own, "redis-up", &answer(&speaks_when_poked()), 1, &[]);
    let mut member = RoomMember::join(&own, "redis-up", "observer", &["--commands"]);
    member.expect("joined", WAIT);
    let placed = place(&own, Sdk::Python, &carrier, "redis-up");
    assert!(placed.ok.is_some(), "{placed:?}");
    let identity = "callee-redis-up";
    let active = wait_for_status(&mut member, identity, "active");
    let sip_call_id = active["attributes"]["sip.callIDFull"]
        .as_str()
        .unwrap()
        .to_owned();

    cluster.kill_redis_keeping_its_data(name);
    let refused = refused_while_redis_is_down(&own);
    println!("INVITE while Redis was down: {refused}");
    assert!(
        own.records(|r| r["sipCallId"] == sip_call_id.as_str())
            .is_empty(),
        "the call in progress ended while Redis was down"
    );

    cluster.start_redis_again(name);
    let back = SystemTime::now();
    // Both ways at once, so that neither figure includes the other's calls.
    let (outbound, inbound) = std::thread::scope(|scope| {
        let outbound =
            scope.spawn(|| until_an_outbound_call_is_answered(&own, "redis-after", back));
        let inbound = until_an_inbound_call_is_answered(&own, back);
        (outbound.join().unwrap(), inbound)
    });
    println!(
        "first call placed through livekit-server answered {} ms after Redis returned, at attempt {} (before it: {:?})",
        outbound.after.as_millis(),
        outbound.failures.len() + 1,
        outbound.failures
    );
    println!(
        "first INVITE answered {} ms after Redis returned, at attempt {} (before it: {:?})",
        inbound.after.as_millis(),
        inbound.failures.len() + 1,
        inbound.failures
    );

    // The call from before the outage still carries the carrier's speech into the room, as
    // a member joining now hears: the observer may not (the Python SDK's connection is
    // sometimes refused with a 500 when it resumes after a Redis restart, a livekit-server
    // matter, not the call's)…
    drop(member);
    let mut member = RoomMember::join(&own, "redis-up", "listener", &["--commands"]);
    member.expect("joined", WAIT);
    poke(&carrier, &sip_call_id, 1);
    member.command(json!({"cmd": "detect_tone", "from": identity, "timeout": 10}));
    let heard = member.take_earlier("tone", |e| e["from"] == identity);
    let missed = member.take_earlier("no_tone", |_| true);
    assert_eq!(heard.len(), 1, "nothing heard from the call: {missed:?}");
    println!(
        "the call answered before the outage, after it: the room heard rms {}",
        heard[0]["rms"]
    );
    // …and ends as any call the carrier hangs up.
    poke(&carrier, &sip_call_id, 2);
    let run = carrier.finish(Duration::from_secs(60));
    assert!(
        run.passed,
        "the carrier of the call in progress:\n{}",
        run.trace
    );
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_ended(&record, "CLIENT_INITIATED", 200, "Remote hangup");
    let left = member.expect_where("left", WAIT, |e| e["identity"] == identity);
    assert_eq!(
        left["attributes"]["sip.statusReason"], "Remote hangup",
        "{left}"
    );
}

/// A cluster of its own named `name`, with an inbound trunk and rule livekit-server holds
/// (calls to [`INBOUND_NUMBER`] go to [`INBOUND_ROOM`]), that has answered an INVITE: the
/// cluster, and the bed of its node.
fn cluster_taking_inbound_calls(bed: &Bed, name: &str) -> (OwnCluster, Bed) {
    let cluster = OwnCluster::start(bed, name, 1, NODE);
    let own = cluster.bed().clone();
    let trunk = cluster.store(&json!({"inbound_trunk": {
        "name": "faults", "numbers": [INBOUND_NUMBER], "allowed_addresses": ["127.0.0.1"]}}));
    cluster.store(&json!({"dispatch_rule": {"dispatch_rule": {
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": INBOUND_ROOM}}}}}));
    let before = inbound_call(&own, &format!("{name}-before"));
    assert!(
        before.passed,
        "an INVITE before the fault:\n{}",
        before.trace
    );
    (cluster, own)
}

/// After a restart of Redis (with its data, as with persistence) during which nothing asked
/// anything of it, once livekit-server and the node have subscribed again: the first
/// INVITE, and after a second such restart the first call placed through livekit-server,
/// are served like any other request.
#[test]
fn the_first_request_after_a_quiet_redis_restart_is_served() {
    let test = "the_first_request_after_a_quiet_redis_restart_is_served";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let name = "faults-redis-quiet";
    let (mut cluster, own) = cluster_taking_inbound_calls(&bed, name);
    let carrier = SippUas::start(
        &own,
        "quiet-before-out",
        &answer(&carrier_hangs_up_after(500)),
        1,
        &[],
    );
    let placed = place(&own, Sdk::Python, &carrier, "quiet-before-out");
    assert!(
        placed.ok.is_some(),
        "a call placed before the restart: {placed:?}"
    );

    restart_redis_quietly(&mut cluster, name);
    let invite = inbound_call(&own, "quiet-first-invite");
    let invite_record = own.cdr_of(&invite.call_id, WAIT);
    println!("the first INVITE after a quiet Redis restart: {invite_record}");

    restart_redis_quietly(&mut cluster, name);
    let carrier = SippUas::start(
        &own,
        "quiet-first-call",
        &answer(&carrier_hangs_up_after(500)),
        1,
        &[],
    );
    let placed = place(&own, Sdk::Python, &carrier, "quiet-first-call");
    println!(
        "the first call placed through livekit-server after a quiet Redis restart: {:?}",
        placed
            .ok
            .as_ref()
            .map_or_else(|| format!("{:?}", placed.error), Value::to_string)
    );
    assert!(
        invite.passed && placed.ok.is_some(),
        "the first request after Redis returned was not served: the INVITE's record {invite_record}, the call's answer {placed:?}"
    );
}

/// Redis killed and started again with its data, nothing asked of it meanwhile; returns
/// once livekit-server and the node listen again on every SIP channel they had (the rest,
/// livekit-server's rooms', come and go with the rooms).
fn restart_redis_quietly(cluster: &mut OwnCluster, name: &str) {
    let sip = |channel: &String| channel.contains("IOInfo") || channel.contains("SIPInternal");
    let wanted: Vec<String> = cluster.redis_channels().into_iter().filter(sip).collect();
    cluster.kill_redis_keeping_its_data(name);
    cluster.start_redis_again(name);
    let deadline = Instant::now() + WAIT;
    loop {
        let now = cluster.redis_channels();
        let missing: Vec<_> = wanted.iter().filter(|c| !now.contains(c)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not subscribed again after {WAIT:?}: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CreateSIPParticipant through livekit-server (the node's `api_url` is livekit-server's),
/// to `carrier`, in `room` as `callee-<room>`, waiting for the answer.
fn place(own: &Bed, sdk: Sdk, carrier: &SippUas, room: &str) -> ApiReply {
    let request = json!({
        "trunk": { "hostname": carrier.addr(), "transport": "udp" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": room,
        "participant_identity": format!("callee-{room}"),
        "wait_until_answered": true,
        "request_timeout_s": REQUEST_TIMEOUT_S,
    });
    ApiCaller::of(own).create_sip_participant(sdk, &request, &[], HUNG)
}

/// Waits until `identity`'s `sip.callStatus` is `status`; returns that attributes event.
fn wait_for_status(member: &mut RoomMember, identity: &str, status: &str) -> Value {
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == identity && e["attributes"]["sip.callStatus"] == status
    })
}

fn assert_ended(record: &Value, reason: &str, code: u16, phrase: &str) {
    assert_eq!(record["disconnectReason"], reason, "{record}");
    assert_eq!(record["callStatusCode"]["code"], code, "{record}");
    assert_eq!(record["callStatusCode"]["status"], phrase, "{record}");
}

/// The one record of the call placed into `room`.
fn only_record_of_room(own: &Bed, room: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let records = own.records(|r| r["roomName"] == room && r.get("transferId").is_none());
        match records.len() {
            1 => return records.into_iter().next().unwrap(),
            0 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            n => panic!("{n} records for room {room}: {records:?}"),
        }
    }
}

/// From `earlier` to `later` (SIPp's trace times are wall-clock times).
fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// When SIPp received the first message starting with `start`.
fn received_at(run: &SippRun, start: &str) -> SystemTime {
    run.messages()
        .iter()
        .find(|m| m.received && m.message.starts_with(start))
        .map(|m| m.at)
        .unwrap_or_else(|| panic!("no {start} received:\n{}", run.trace))
}

/// An INVITE while Redis is down: the node cannot ask livekit-server for the trunk, so the
/// caller gets 503 with Retry-After and the call a record (docs/OUTCOMES.md, "Setting up a
/// call"). Returns the response's status line.
fn refused_while_redis_is_down(own: &Bed) -> String {
    let offer = "      v=0\n      o=- 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0";
    let text = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "503"), ("OFFER_BODY", offer)],
    );
    let run = run_uac(own, "redis-down", &text, INBOUND_NUMBER, &[], ANSWER_WAIT);
    assert!(run.passed, "{}", run.trace);
    let response = run.received("SIP/2.0 503");
    let status_line = response[0].lines().next().unwrap().trim().to_owned();
    assert_eq!(
        status_line, "SIP/2.0 503 Service Unavailable - trunk lookup failed",
        "{}",
        run.trace
    );
    assert_eq!(
        header(response[0], "Retry-After"),
        Some("5"),
        "{}",
        run.trace
    );
    let record = own.cdr_of(&run.call_id, WAIT);
    assert_ended(
        &record,
        "JOIN_FAILURE",
        503,
        "Service Unavailable - trunk lookup failed",
    );
    assert_eq!(record["callDirection"], "SCD_INBOUND", "{record}");
    status_line
}

/// The first call that worked after a restart: how long after it was answered (as its API
/// caller or its phone saw the answer), and what each attempt before it got.
struct Recovery {
    after: Duration,
    failures: Vec<String>,
}

/// Places calls through livekit-server one after the other until one is answered, each
/// into a room of its own named after `label`; the time counts from `back`.
fn until_an_outbound_call_is_answered(own: &Bed, label: &str, back: SystemTime) -> Recovery {
    let mut failures = Vec::new();
    for attempt in 1.. {
        assert!(
            since(back, SystemTime::now()) < RECOVERY_LIMIT,
            "{label}: no call answered within {RECOVERY_LIMIT:?}: {failures:?}"
        );
        let label = format!("{label}-{attempt}");
        let carrier = SippUas::start(own, &label, &answer(&carrier_hangs_up_after(500)), 1, &[]);
        let placed = place(own, Sdk::Python, &carrier, &label);
        if placed.ok.is_some() {
            let after = since(back, SystemTime::now());
            let run = carrier.finish(Duration::from_secs(60));
            assert!(run.passed, "{}", run.trace);
            assert_ended(
                &own.cdr_of(&run.call_id, WAIT),
                "CLIENT_INITIATED",
                200,
                "Remote hangup",
            );
            return Recovery { after, failures };
        }
        failures.push(placed.error.map_or("no error".to_owned(), |e| {
            format!(
                "{} {} {:?} {}",
                e.class, e.code, e.sip_status_code, e.sip_status
            )
        }));
    }
    unreachable!()
}

/// Calls the node (number [`INBOUND_NUMBER`]) one call after the other until one is
/// answered.
fn until_an_inbound_call_is_answered(own: &Bed, back: SystemTime) -> Recovery {
    let mut failures = Vec::new();
    for attempt in 1.. {
        assert!(
            since(back, SystemTime::now()) < RECOVERY_LIMIT,
            "no INVITE answered within {RECOVERY_LIMIT:?} after Redis returned: {failures:?}"
        );
        let label = format!("redis-in-{attempt}");
        let run = inbound_call(own, &label);
        if run.passed {
            let after = since(back, received_at(&run, "SIP/2.0 200"));
            assert_ended(
                &own.cdr_of(&run.call_id, WAIT),
                "CLIENT_INITIATED",
                200,
                "Remote hangup",
            );
            return Recovery { after, failures };
        }
        let response = run
            .received("SIP/2.0")
            .last()
            .and_then(|r| r.lines().next())
            .unwrap_or("no response")
            .trim()
            .to_owned();
        failures.push(response);
    }
    unreachable!()
}

/// A phone calls [`INBOUND_NUMBER`] and hangs up half a second after the answer.
fn inbound_call(own: &Bed, label: &str) -> SippRun {
    let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
    run_uac(
        own,
        label,
        &text,
        INBOUND_NUMBER,
        &["-d", "500"],
        ANSWER_WAIT,
    )
}

/// HANGUP of uas_answer.xml for a call the test ends when it chooses: the carrier waits for
/// the test's first INFO ([`poke`]), plays its 7 s of speech again, waits for a second INFO,
/// then hangs up. It does not answer the INFOs: SIPp sends every message of a call to the
/// call's peer, which is the bridge.
fn speaks_when_poked() -> String {
    let poked = r#"  <recv request="INFO" timeout="300000"/>
"#;
    let speech = r#"  <nop>
    <action>
      <exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/>
    </action>
  </nop>
"#;
    format!("{poked}{speech}{poked}{}", carrier_hangs_up_after(0))
}

/// Sends the carrier's SIPp an INFO in the call whose Call-ID is `sip_call_id` (SIPp finds
/// the call by its Call-ID), from a socket of the test's: the `number`th poke of
/// [`speaks_when_poked`]. Loopback UDP does not lose it.
fn poke(carrier: &SippUas, sip_call_id: &str, number: u32) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    let request = format!(
        "INFO sip:carrier@{carrier} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-test-poke-{number}\r\n\
         From: <sip:test@{local}>;tag=poke\r\n\
         To: <sip:carrier@{carrier}>\r\n\
         Call-ID: {sip_call_id}\r\n\
         CSeq: {number} INFO\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        carrier = carrier.addr()
    );
    socket.send_to(request.as_bytes(), carrier.addr()).unwrap();
}

fn sdk_name(sdk: Sdk) -> &'static str {
    match sdk {
        Sdk::Node => "node",
        Sdk::Python => "python",
    }
}
