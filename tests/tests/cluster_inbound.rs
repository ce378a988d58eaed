//! Inbound calls in cluster mode, end to end: each test has a cluster of its own
//! ([`OwnCluster`]: a Redis, a livekit-server on it and one sipbridge node), creates its
//! trunks and dispatch rules through livekit-server with the official Python SDK, and calls
//! the node with SIPp (or pjsua2, for RFC 4733 keys). For every INVITE the node asks
//! livekit-server over psrpc which trunk and rule take it; these tests check that its
//! answers become docs/OUTCOMES.md's rows: the room and attributes the Python room member
//! sees, what the phone gets, the call detail record and the `calls_ended` metric.
//!
//! Each test has its own cluster, not one shared: tests run in parallel threads, and a rule
//! that names no trunk (one test adds one) would take the other tests' calls.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::observe::calls_ended;
use sipbridge_tests::sipp::{
    PHONE_HANGS_UP, ROOM_HANGS_UP, SippRun, Traced, header, keyed_pins, run_uac, scenario,
    spawn_uac,
};
use sipbridge_tests::{Bed, OwnBridge, OwnCluster, RoomMember, agent_dispatches_within};

const WAIT: Duration = Duration::from_secs(30);
/// The calling number of uac_call.xml.
const CALLER: &str = "+15557770001";
const CALLER_IDENTITY: &str = "sip_+15557770001";
/// The calling number of tests/py/phone.py.
const PHONE_IDENTITY: &str = "sip_+15557770009";

/// Starts a cluster named after `name` and this process (another run of these tests on the
/// same bed keeps its own files).
fn start_cluster(bed: &Bed, name: &str) -> OwnCluster {
    let name = format!("{name}-{}", std::process::id());
    OwnCluster::start(bed, &name, 1, "")
}

/// An inbound trunk for `numbers` that anyone on this machine may call, without credentials.
fn open_trunk(cluster: &OwnCluster, name: &str, numbers: &[&str]) -> String {
    cluster.store(&json!({"inbound_trunk": {
        "name": name, "numbers": numbers, "allowed_addresses": ["127.0.0.1/32"]}}))
}

/// A dispatch rule (a `livekit.SIPDispatchRuleInfo` as JSON, without its id).
fn dispatch_rule(cluster: &OwnCluster, rule: Value) -> String {
    cluster.store(&json!({"dispatch_rule": {"dispatch_rule": rule}}))
}

fn assert_passed(run: &SippRun) {
    assert!(run.passed, "the SIPp scenario failed:\n{}", run.trace);
}

/// How a call is expected to end, with its `calls_ended` count read before the call.
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

/// Asserts the record's outcome and the metric, and returns the record.
fn assert_outcome(bed: &Bed, sip_call_id: &str, expected: Expected) -> Value {
    let record = bed.cdr_of(sip_call_id, Duration::from_secs(10));
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

/// A string field of a record; the record leaves empty ones out, as protobuf JSON does.
fn field<'a>(record: &'a Value, name: &str) -> &'a str {
    record[name].as_str().unwrap_or_default()
}

/// Asserts which trunk, rule and room the record names.
fn assert_routed(record: &Value, trunk: &str, rule: &str, room: &str) {
    assert_eq!(field(record, "trunkId"), trunk, "{record}");
    assert_eq!(field(record, "dispatchRuleId"), rule, "{record}");
    assert_eq!(field(record, "roomName"), room, "{record}");
}

/// A call of uac_call.xml that the phone hangs up after `hold_ms`.
fn phone_call(hold_ms: &str) -> (String, [&str; 2]) {
    let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
    (text, ["-d", hold_ms])
}

/// What a rule should make of a call from [`CALLER`] to `number`.
struct Landing<'a> {
    number: &'a str,
    room: &'a str,
    trunk: &'a str,
    rule: &'a str,
    /// The rule's `desk` attribute and its metadata.
    desk: &'a str,
    metadata: &'a str,
}

/// A member waits in the landing's room; the phone calls, talks for 3 s and hangs up. The
/// member must see the caller arrive with the rule's attributes and metadata and the
/// standard `sip.*` ones, and leave with the phone's BYE; the record names the trunk, rule
/// and room.
fn assert_call_lands(cluster: &OwnCluster, landing: &Landing) {
    let bed = cluster.bed();
    let expected = expect_end(bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let mut member = RoomMember::join(bed, landing.room, "host", &["--commands"]);
    member.expect("joined", WAIT);
    let (text, hold) = phone_call("3000");
    let phone = spawn_uac(bed, "cluster-lands", &text, landing.number, &hold, WAIT);
    let arrived = member.expect_where("attributes", WAIT, |e| {
        e["from"] == CALLER_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    let left = member.expect_where("left", WAIT, |e| e["identity"] == CALLER_IDENTITY);
    let run = phone.join().unwrap();
    assert_passed(&run);

    let attributes = &arrived["attributes"];
    assert_eq!(attributes["desk"], landing.desk, "{arrived}");
    assert_eq!(arrived["metadata"], landing.metadata, "{arrived}");
    // livekit-server names the caller (rpc.EvaluateSIPDispatchRulesResponse).
    assert_eq!(arrived["name"], format!("Phone {CALLER}"), "{arrived}");
    assert_eq!(attributes["sip.trunkID"], landing.trunk, "{arrived}");
    assert_eq!(attributes["sip.ruleID"], landing.rule, "{arrived}");
    assert_eq!(attributes["sip.phoneNumber"], CALLER, "{arrived}");
    assert_eq!(
        attributes["sip.trunkPhoneNumber"], landing.number,
        "{arrived}"
    );
    assert_eq!(attributes["sip.callIDFull"], run.call_id.as_str());
    // The phone's X-Bed-Case header, as the trunk's include_headers asks.
    assert_eq!(attributes["sip.h.x-bed-case"], "audio", "{arrived}");
    assert_eq!(left["attributes"]["sip.callStatus"], "hangup", "{left}");
    assert_eq!(left["attributes"]["sip.statusReason"], "Remote hangup");

    let record = assert_outcome(bed, &run.call_id, expected);
    assert_routed(&record, landing.trunk, landing.rule, landing.room);
    assert_eq!(record["callId"], attributes["sip.callID"], "{record}");
    println!(
        "{} → room {} by rule {} on trunk {}: {}",
        landing.number, landing.room, landing.rule, landing.trunk, attributes
    );
    drop(member); // Stops the member; its exit status says nothing about the bridge.
}

/// An `individual` rule gives the caller a room of its own (livekit-server names it
/// `<prefix>_<caller>`), a `callee` rule one per dialled number (`<prefix>_<number>`); each
/// rule is picked by the number dialled (its `numbers`), the individual one only for its
/// caller (its `inbound_numbers`).
#[test]
fn livekit_servers_rules_put_callers_in_their_rooms_with_the_rules_attributes() {
    let test = "livekit_servers_rules_put_callers_in_their_rooms_with_the_rules_attributes";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-rooms");
    let (per_caller_number, per_number_number) = ("+15550301", "+15550302");
    // The trunk asks for the INVITE's X- headers as `sip.h.*` attributes.
    let trunk = cluster.store(&json!({"inbound_trunk": {
        "name": "carrier", "numbers": [per_caller_number, per_number_number],
        "allowed_addresses": ["127.0.0.1/32"], "include_headers": "SIP_X_HEADERS"}}));
    let per_caller = dispatch_rule(
        &cluster,
        json!({"name": "a room per caller", "trunk_ids": [trunk],
               "numbers": [per_caller_number], "inbound_numbers": [CALLER],
               // Without randomness the room's name is known, so the member can wait there.
               "rule": {"dispatch_rule_individual": {"room_prefix": "caller", "no_randomness": true}},
               "attributes": {"desk": "per-caller"}, "metadata": "per-caller metadata"}),
    );
    let per_number = dispatch_rule(
        &cluster,
        json!({"name": "a room per number", "trunk_ids": [trunk],
               "numbers": [per_number_number],
               "rule": {"dispatch_rule_callee": {"room_prefix": "line", "randomize": false}},
               "attributes": {"desk": "per-number"}, "metadata": "per-number metadata"}),
    );
    assert_call_lands(
        &cluster,
        &Landing {
            number: per_caller_number,
            room: &format!("caller_{CALLER}"),
            trunk: &trunk,
            rule: &per_caller,
            desk: "per-caller",
            metadata: "per-caller metadata",
        },
    );
    assert_call_lands(
        &cluster,
        &Landing {
            number: per_number_number,
            room: &format!("line_{per_number_number}"),
            trunk: &trunk,
            rule: &per_number,
            desk: "per-number",
            metadata: "per-number metadata",
        },
    );
}

/// A trunk with credentials: livekit-server hands them to the node, which challenges (407,
/// MD5 as LiveKit's own SIP service offers), refuses a wrong answer (403) and lets the
/// right one in.
#[test]
fn a_trunk_with_credentials_challenges_refuses_wrong_ones_and_admits_right_ones() {
    let test = "a_trunk_with_credentials_challenges_refuses_wrong_ones_and_admits_right_ones";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-auth");
    let bed = cluster.bed();
    let number = "+15550320";
    let trunk = cluster.store(&json!({"inbound_trunk": {
        "name": "guarded", "numbers": [number],
        "auth_username": "carrier", "auth_password": "cluster-secret"}}));
    let rule = dispatch_rule(
        &cluster,
        json!({"trunk_ids": [trunk], "rule": {"dispatch_rule_direct": {"room_name": "guarded"}}}),
    );

    let expected = expect_end(
        bed,
        "SIP_TRUNK_FAILURE",
        403,
        "Forbidden - wrong credentials",
    );
    let text = scenario("uac_auth", &[]);
    // The scenario with a wrong password fails at its 200: what came instead is a 403.
    let wrong = ["-au", "carrier", "-ap", "wrong"];
    let run = run_uac(bed, "cluster-badauth", &text, number, &wrong, WAIT);
    assert!(!run.passed, "{}", run.trace);
    let challenge = run.received("SIP/2.0 407 ");
    assert!(!challenge.is_empty(), "{}", run.trace);
    let offered = header(challenge[0], "Proxy-Authenticate").unwrap_or_default();
    assert!(offered.contains("algorithm=MD5"), "{offered}");
    assert!(!run.received("SIP/2.0 403 ").is_empty(), "{}", run.trace);
    let record = assert_outcome(bed, &run.call_id, expected);
    println!("wrong credentials: {record}");

    let expected = expect_end(bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let right = ["-au", "carrier", "-ap", "cluster-secret", "-d", "500"];
    let run = run_uac(bed, "cluster-auth", &text, number, &right, WAIT);
    assert_passed(&run);
    let record = assert_outcome(bed, &run.call_id, expected);
    assert_routed(&record, &trunk, &rule, "guarded");
}

/// An INVITE that livekit-server says to drop gets no answer at all, not even 100 Trying,
/// though SIPp retransmits it; the attempt still has its record (404).
fn assert_dropped(bed: &Bed, label: &str, number: &str, caller: &str) {
    let expected = expect_end(bed, "SIP_TRUNK_FAILURE", 404, "Not Found");
    // Longer than 100 Trying's 200 ms and three retransmissions of the INVITE.
    let text = scenario(
        "cluster_unanswered",
        &[("SILENCE_MS", "4000"), ("CALLER", caller)],
    );
    let run = run_uac(bed, label, &text, number, &[], WAIT);
    assert_passed(&run);
    assert!(run.received("SIP/2.0").is_empty(), "{}", run.trace);
    assert!(
        run.sent("INVITE").len() > 1,
        "no retransmission:\n{}",
        run.trace
    );
    let record = assert_outcome(bed, &run.call_id, expected);
    println!("{label}: no answer; {record}");
}

/// Calls no rule takes: livekit-server answers "drop", and the node stays silent (a scanner
/// learns nothing) with a 404 record. A source address the trunk does not allow is no trunk
/// at all to livekit-server: the rules that name no trunk decide, so once there is one, it
/// takes the call.
#[test]
fn calls_no_rule_takes_get_no_answer_until_a_rule_for_any_trunk_takes_them() {
    let test = "calls_no_rule_takes_get_no_answer_until_a_rule_for_any_trunk_takes_them";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-drop");
    let bed = cluster.bed();
    let (open_number, remote_number) = ("+15550310", "+15550311");
    let open = open_trunk(&cluster, "open", &[open_number]);
    dispatch_rule(
        &cluster,
        json!({"trunk_ids": [open], "inbound_numbers": [CALLER],
               "rule": {"dispatch_rule_direct": {"room_name": "open"}}}),
    );
    let remote = cluster.store(&json!({"inbound_trunk": {
        "name": "remote", "numbers": [remote_number], "allowed_addresses": ["192.0.2.0/24"]}}));
    dispatch_rule(
        &cluster,
        json!({"trunk_ids": [remote], "rule": {"dispatch_rule_direct": {"room_name": "remote"}}}),
    );

    assert_dropped(bed, "cluster-unknown-number", "+15550399", CALLER);
    assert_dropped(bed, "cluster-other-caller", open_number, "+15557770003");
    assert_dropped(bed, "cluster-address-not-allowed", remote_number, CALLER);

    let lobby = dispatch_rule(
        &cluster,
        json!({"name": "any trunk", "rule": {"dispatch_rule_direct": {"room_name": "lobby"}}}),
    );
    let expected = expect_end(bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let (text, hold) = phone_call("1000");
    let run = run_uac(bed, "cluster-lobby", &text, remote_number, &hold, WAIT);
    assert_passed(&run);
    let record = assert_outcome(bed, &run.call_id, expected);
    assert_routed(&record, "", &lobby, "lobby");
}

/// A `direct` rule with a PIN, kept by livekit-server: the node answers at once with dial
/// tone, pjsua2 keys a wrong PIN (RFC 4733) and hears busy tone, then the right one, and
/// only then joins the room. livekit-server checks each PIN the node sends on `#`.
#[test]
fn a_pin_rule_of_livekit_server_admits_the_caller_after_a_wrong_then_the_right_pin() {
    let test = "a_pin_rule_of_livekit_server_admits_the_caller_after_a_wrong_then_the_right_pin";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-pin");
    let bed = cluster.bed();
    let number = "+15550330";
    let trunk = open_trunk(&cluster, "pin", &[number]);
    let rule = dispatch_rule(
        &cluster,
        json!({"trunk_ids": [trunk], "attributes": {"desk": "pin"},
               "rule": {"dispatch_rule_direct": {"room_name": "pin-room", "pin": "4321"}}}),
    );
    let expected = expect_end(bed, "CLIENT_INITIATED", 200, "Remote hangup");
    let mut member = RoomMember::join(bed, "pin-room", "host", &["--commands"]);
    member.expect("joined", WAIT);
    let uri = format!("sip:{number}@{}", bed.sip_addr);
    let mut phone = RoomMember::script(bed, "py/phone.py", "phone", &["--uri", &uri]);
    let confirmed = phone.expect("confirmed", WAIT);
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    std::thread::sleep(Duration::from_millis(1500));
    let dial = heard_after(&mut phone, 0.0);
    // US dial tone is 350 + 440 Hz; the analysis finds the stronger of the two.
    assert!(near(&dial, &[350.0, 440.0]), "PIN prompt: {dial}");

    // The first key silences the dial tone: what the phone hears after the `#` is the
    // verdict alone. pjsua2 sends the keys one by one, over a second or so.
    phone.command(json!({"cmd": "dtmf", "digits": "1111"}));
    std::thread::sleep(Duration::from_millis(1500));
    let sent = unix_ms();
    phone.command(json!({"cmd": "dtmf", "digits": "#"}));
    std::thread::sleep(Duration::from_millis(1500));
    // US busy tone is 480 + 620 Hz: livekit-server's "no rule for that PIN" is a wrong PIN.
    let busy = heard_after(&mut phone, sent);
    assert!(near(&busy, &[480.0, 620.0]), "after a wrong PIN: {busy}");
    phone.command(json!({"cmd": "dtmf", "digits": "4321#"}));
    let arrived = member.expect_where("attributes", WAIT, |e| {
        e["from"] == PHONE_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    assert_eq!(arrived["attributes"]["sip.ruleID"], rule.as_str());
    assert_eq!(arrived["attributes"]["sip.trunkID"], trunk.as_str());
    assert_eq!(arrived["attributes"]["desk"], "pin", "{arrived}");
    println!("dial tone {dial}, busy tone {busy}; in the room: {arrived}");

    phone.command(json!({"cmd": "hangup"}));
    member.expect_where("left", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    let call_id = confirmed["call_id"].as_str().unwrap();
    let record = assert_outcome(bed, call_id, expected);
    assert_routed(&record, &trunk, &rule, "pin-room");
    drop(phone);
    drop(member);
}

/// The first audible half second the phone received after `after_unix_ms`.
fn heard_after(phone: &mut RoomMember, after_unix_ms: f64) -> Value {
    let analyze = json!({"cmd": "analyze", "after_unix_ms": after_unix_ms, "seconds": 0.5});
    phone.command(analyze);
    phone.expect("tone", WAIT)
}

/// Whether the heard frequency is one of `tones` (within 15 Hz).
fn near(heard: &Value, tones: &[f64]) -> bool {
    let hz = heard["hz"].as_f64().unwrap_or_default();
    tones.iter().any(|tone| (hz - tone).abs() < 15.0)
}

fn unix_ms() -> f64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap().as_secs_f64() * 1000.0
}

/// Three PINs livekit-server does not accept end the answered call with a BYE: USER_REJECTED
/// 403 "Wrong PIN". The keys come as SIP INFO, which the node takes during PIN entry like
/// RFC 4733 ones.
#[test]
fn three_pins_livekit_server_refuses_end_the_call_with_a_bye() {
    let test = "three_pins_livekit_server_refuses_end_the_call_with_a_bye";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-wrong-pin");
    let bed = cluster.bed();
    let number = "+15550331";
    let trunk = open_trunk(&cluster, "pin", &[number]);
    let rule = dispatch_rule(
        &cluster,
        json!({"trunk_ids": [trunk],
               "rule": {"dispatch_rule_direct": {"room_name": "pin-room", "pin": "4321"}}}),
    );
    let expected = expect_end(bed, "USER_REJECTED", 403, "Wrong PIN");
    let phone_part = keyed_pins(&["1111#", "2222#", "9999#"], ROOM_HANGS_UP);
    let text = scenario("uac_call", &[("HANGUP", phone_part.as_str())]);
    let run = run_uac(bed, "cluster-wrong-pin", &text, number, &[], WAIT);
    assert_passed(&run);
    assert_eq!(run.sent("INFO").len(), 15, "{}", run.trace);
    let record = assert_outcome(bed, &run.call_id, expected);
    println!("three wrong PINs: {record}");
    assert_eq!(field(&record, "trunkId"), trunk, "{record}");
    assert_eq!(field(&record, "dispatchRuleId"), rule, "{record}");
}

/// The rule's `room_config` rides in the caller's join token: the caller's arrival creates
/// the room, and livekit-server dispatches the agent the rule names into it (no agent
/// worker needs to run for the dispatch to exist).
#[test]
fn a_rules_room_config_dispatches_its_agent_into_the_callers_room() {
    let test = "a_rules_room_config_dispatches_its_agent_into_the_callers_room";
    let Some(bed) = Bed::get(test) else { return };
    let cluster = start_cluster(&bed, "cluster-agent");
    let bed = cluster.bed();
    let number = "+15550340";
    let trunk = open_trunk(&cluster, "reception", &[number]);
    let rule = dispatch_rule(
        &cluster,
        json!({"trunk_ids": [trunk],
               "rule": {"dispatch_rule_direct": {"room_name": "reception"}},
               "room_config": {"agents": [{"agent_name": "receptionist",
                                            "metadata": "from the rule"}]}}),
    );
    let expected = expect_end(bed, "CLIENT_INITIATED", 200, "Remote hangup");
    // Nobody joins before the caller: the room must be the one the caller's token creates.
    let (text, hold) = phone_call("10000");
    let phone = spawn_uac(bed, "cluster-agent", &text, number, &hold, WAIT);
    let dispatches = agent_dispatches_within(bed, "reception", Duration::from_secs(20));
    let run = phone.join().unwrap();
    assert_passed(&run);
    println!("agent dispatches of the caller's room: {dispatches:?}");
    let names: Vec<&str> = dispatches
        .iter()
        .map(|dispatch| field(dispatch, "agent_name"))
        .collect();
    assert_eq!(names, ["receptionist"], "{dispatches:?}");
    assert_eq!(field(&dispatches[0], "metadata"), "from the rule");
    let record = assert_outcome(bed, &run.call_id, expected);
    assert_routed(&record, &trunk, &rule, "reception");
}

/// Calls timed through each path: `ROUNDS` SIPp runs of `CALLS_PER_ROUND` calls, the two
/// paths taking turns, so that whatever else the machine does falls on both alike.
const ROUNDS: usize = 5;
const CALLS_PER_ROUND: usize = 10;

/// INVITE → 200 OK of each call of the run, in milliseconds, from SIPp's trace: from the
/// first INVITE sent to the first 200 to it received, by Call-ID.
fn set_up_times(run: &SippRun) -> Vec<f64> {
    let messages = run.messages();
    let mut call_ids: Vec<&str> = run
        .sent("INVITE")
        .iter()
        .filter_map(|invite| header(invite, "Call-ID"))
        .collect();
    call_ids.dedup(); // Retransmissions follow their INVITE.
    call_ids
        .iter()
        .filter_map(|id| {
            let of_call = |traced: &&Traced| header(traced.message, "Call-ID") == Some(id);
            let sent = messages
                .iter()
                .filter(of_call)
                .find(|traced| !traced.received && traced.message.starts_with("INVITE"))?;
            let answered = messages.iter().filter(of_call).find(|traced| {
                traced.received
                    && traced.message.starts_with("SIP/2.0 200")
                    && header(traced.message, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
            })?;
            let took = answered.at.duration_since(sent.at).ok()?;
            Some(took.as_secs_f64() * 1000.0)
        })
        .collect()
}

/// The `p`-th percentile (nearest rank) of `times`.
fn percentile(times: &[f64], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `calls` short calls to `number` at `bed`'s node, one at a time: their set-up times.
fn timed_calls(bed: &Bed, label: &str, number: &str, calls: usize) -> Vec<f64> {
    let text = scenario("cluster_set_up", &[]);
    let count = calls.to_string();
    // The later -m wins over the harness's one call; -l 1: one call at a time.
    let extra = ["-m", &count, "-l", "1", "-r", "20", "-d", "100"];
    let run = run_uac(bed, label, &text, number, &extra, Duration::from_secs(120));
    assert_passed(&run);
    let times = set_up_times(&run);
    assert_eq!(times.len(), calls, "{}", run.trace);
    times
}

/// Figures, not assertions: what asking livekit-server (trunk, then rule, over psrpc and
/// Redis) adds to a call's set-up. The same scenario against a cluster node and against a
/// standalone bridge with the same trunk and rule in its YAML, both in this process and
/// joining rooms on the cluster's livekit-server, so that only the routing differs;
/// INVITE → 200 OK from SIPp's trace.
#[test]
fn prints_the_set_up_latency_cluster_mode_adds() {
    let test = "prints_the_set_up_latency_cluster_mode_adds";
    let Some(bed) = Bed::get(test) else { return };
    let number = "+15550350";
    let cluster = start_cluster(&bed, "cluster-latency");
    let trunk = open_trunk(&cluster, "timed", &[number]);
    dispatch_rule(
        &cluster,
        json!({"trunk_ids": [trunk],
               "rule": {"dispatch_rule_direct": {"room_name": "latency-cluster"}}}),
    );
    let yaml = format!(
        "inbound_trunks: [{{ id: timed, numbers: [\"{number}\"], \
         allowed_addresses: [127.0.0.1/32] }}]\n\
         dispatch_rules: [{{ id: timed-room, trunk_ids: [timed], \
         rule: {{ direct: {{ room: latency-standalone }} }} }}]\n"
    );
    let label = format!("latency-standalone-{}", std::process::id());
    let standalone = OwnBridge::start_with_livekit(&bed, &label, &cluster.livekit.url, &yaml);
    let paths = [("standalone", &standalone.bed), ("cluster", cluster.bed())];
    // A call each first, not counted: the first room, the first psrpc answer.
    for (name, bed) in paths {
        timed_calls(bed, &format!("latency-{name}"), number, 1);
    }
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for ((name, bed), times) in paths.iter().zip(&mut times) {
            times.extend(timed_calls(
                bed,
                &format!("latency-{name}"),
                number,
                CALLS_PER_ROUND,
            ));
        }
    }

    println!(
        "INVITE → 200 OK, {} calls through each, one after another (ms)",
        ROUNDS * CALLS_PER_ROUND
    );
    println!("{:<12} {:>8} {:>8}", "path", "p50", "p95");
    let mut quantiles = Vec::new();
    for ((name, _), times) in paths.iter().zip(&times) {
        let (p50, p95) = (percentile(times, 50.0), percentile(times, 95.0));
        println!("{name:<12} {p50:>8.1} {p95:>8.1}");
        quantiles.push((p50, p95));
    }
    let (standalone, cluster) = (quantiles[0], quantiles[1]);
    println!(
        "{:<12} {:>8.1} {:>8.1}",
        "added",
        cluster.0 - standalone.0,
        cluster.1 - standalone.1
    );
}
