//! Cluster mode with more than one node, end to end. livekit-server (with its Redis) hands
//! each CreateSIPParticipant to one sipbridge node over psrpc: the first node to bid gets it,
//! and a draining node does not bid. So outbound calls spread over the nodes, a draining
//! node's calls go on while new ones go elsewhere, and a node killed mid-call fails only that
//! call. Inbound, Kamailio with deploy/kamailio/kamailio.cfg spreads calls over the nodes and
//! takes a draining node out of rotation when its OPTIONS probes get 503.
//!
//! Real parts throughout: livekit-server and Redis of the test's own ([`OwnCluster`]),
//! sipbridge nodes (in the test process, or the bed's binary as a process to SIGKILL), the
//! official Node and Python SDKs placing the calls through livekit-server, SIPp as carriers
//! and phones, Kamailio. Which node took a call is read from each node's call detail
//! records. Splits and times are printed, not asserted: the machine decides them.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, ApiReply, Sdk};
use sipbridge_tests::kamailio::Kamailio;
use sipbridge_tests::node_process::{NodeProcess, health_status};
use sipbridge_tests::sipp::{self, SippRun, header, run_uac_to, scenario, spawn_uac_to};
use sipbridge_tests::sipp_uas::{
    BRIDGE_HANGS_UP, RING_180, SippUas, answer, carrier_hangs_up_after,
};
use sipbridge_tests::{Bed, OwnBridge, OwnCluster, RoomMember};

/// One cluster at a time: each test runs a Redis, a livekit-server, nodes and dozens of SDK
/// and SIPp processes on a two-core machine; two tests at once would slow each other into
/// timeouts and muddle the printed times.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_cluster_at_a_time() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still run.
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// How long the harness lets an SDK call run (their own timeout is `request_timeout_s`).
const SDK_LIMIT: Duration = Duration::from_secs(60);

/// How long records may take to appear once the calls have ended.
const RECORDS_LIMIT: Duration = Duration::from_secs(30);

/// How long one SIPp phone call may take.
const PHONE_LIMIT: Duration = Duration::from_secs(60);

/// The carrier answers, then hangs up after a second and a half.
fn short_answered_call() -> String {
    answer(&carrier_hangs_up_after(1500))
}

#[test]
fn outbound_calls_through_livekit_server_spread_over_both_nodes() {
    let test = "outbound_calls_through_livekit_server_spread_over_both_nodes";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let _alone = one_cluster_at_a_time();
    let cluster = OwnCluster::start(&bed, "spread", 2, "");
    let carrier = SippUas::start(cluster.bed(), "spread", &short_answered_call(), 40, &[]);

    let calls = place_calls(
        &ApiCaller::of(cluster.bed()),
        &carrier.addr(),
        "spread",
        40,
        4,
    );
    assert_answered(&calls);
    let rooms: Vec<String> = calls.iter().map(|call| call.room.clone()).collect();
    let per_node = records_per_node(&node_beds(&cluster), "roomName", &rooms);
    let counts = assert_one_record_per_call(&per_node, "roomName", &rooms);
    per_node
        .iter()
        .flatten()
        .for_each(|record| assert_ended_by_far_end(record, "SCD_OUTBOUND"));
    println!(
        "40 outbound calls (Node and Python SDKs, 4 at a time) through livekit-server: {}",
        split(&counts)
    );
    assert!(
        counts.iter().all(|&count| count > 0),
        "every node should have taken some of the calls: {}",
        split(&counts)
    );
    let run = carrier.finish(Duration::from_secs(30));
    assert!(run.passed, "the carrier's scenario failed:\n{}", run.trace);
}

#[test]
fn a_draining_node_takes_no_new_call_and_its_own_call_ends_normally() {
    let test = "a_draining_node_takes_no_new_call_and_its_own_call_ends_normally";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let _alone = one_cluster_at_a_time();
    let cluster = OwnCluster::start(&bed, "drain", 0, "");
    let api = cluster_api(&bed, &cluster);
    let caller = ApiCaller::of(&api);

    // Node 1 comes up alone, so the call it is to drain with is surely its own. The call
    // stays up until the test has it removed from its room (a timed hang-up could end it
    // before the new calls are placed, and then nothing would be left to drain).
    let mut node1 = start_node(&bed, &cluster, "drain-node1");
    let held = SippUas::start(&api, "drain-held", &answer(BRIDGE_HANGS_UP), 1, &[]);
    let room = "drain-held";
    let mut member = RoomMember::join(&api, room, "observer", &["--commands"]);
    member.expect("joined", Duration::from_secs(20));
    let reply = caller.create_sip_participant(
        Sdk::Python,
        &answered_call_request(room, &held.addr()),
        &[],
        SDK_LIMIT,
    );
    assert!(reply.ok.is_some(), "the call to drain with: {reply:?}");
    let node0 = start_node(&bed, &cluster, "drain-node0");

    node1.signal_stop();
    let drain_started = Instant::now();
    wait_for_health(&node1.bed, 503);
    let (probe, retry_after) = options_probe(&node1.bed.sip_addr);
    assert_eq!(
        (probe, retry_after.as_deref()),
        (503, Some("30")),
        "node 1's answer to OPTIONS while it drains"
    );

    let carrier = SippUas::start(&api, "drain-new", &short_answered_call(), 10, &[]);
    let calls = place_calls(&caller, &carrier.addr(), "drain-new", 10, 4);
    assert_answered(&calls);
    let answered_within = drain_started.elapsed();
    let rooms: Vec<String> = calls.iter().map(|call| call.room.clone()).collect();
    let per_node = records_per_node(&[&node0.bed, &node1.bed], "roomName", &rooms);
    let counts = assert_one_record_per_call(&per_node, "roomName", &rooms);
    assert_eq!(
        counts,
        [10, 0],
        "calls placed while node 1 drains go to node 0 only ({})",
        split(&counts)
    );

    // Node 1's call was still up all along; it ends as calls end, not cut by the drain.
    member.command(json!({"cmd": "remove", "identity": callee(room)}));
    let removed = Instant::now();
    let run = held.finish(Duration::from_secs(30));
    assert!(run.passed, "the drained call's carrier:\n{}", run.trace);
    node1.wait();
    let exited_after = removed.elapsed();
    let record = records_per_node(&[&node1.bed], "roomName", &[room.to_owned()]).remove(0);
    assert_eq!(record.len(), 1, "node 1's record of its call: {record:?}");
    assert_eq!(
        (
            &record[0]["disconnectReason"],
            &record[0]["callStatusCode"]["code"],
            &record[0]["callStatusCode"]["status"]
        ),
        (
            &json!("PARTICIPANT_REMOVED"),
            &json!(200),
            &json!("Local hangup")
        ),
        "{}",
        record[0]
    );
    let run = carrier.finish(Duration::from_secs(30));
    assert!(run.passed, "the new calls' carrier:\n{}", run.trace);
    println!(
        "node 1 draining with a call up: OPTIONS {probe} (Retry-After {}), the 10 new calls \
         (all answered within {:.1} s of the drain) {}; node 1 exited {} ms after its call \
         was removed from the room",
        retry_after.unwrap_or_default(),
        answered_within.as_secs_f64(),
        split(&counts),
        exited_after.as_millis()
    );
}

#[test]
fn a_killed_node_fails_its_ringing_call_and_new_calls_go_to_the_other() {
    let test = "a_killed_node_fails_its_ringing_call_and_new_calls_go_to_the_other";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let Some(binary) = NodeProcess::binary(&bed, test) else {
        return;
    };
    let _alone = one_cluster_at_a_time();
    let cluster = OwnCluster::start(&bed, "killed", 0, "");
    let api = cluster_api(&bed, &cluster);
    let caller = ApiCaller::of(&api);

    // Node 1, a process of its own, comes up alone: the ringing call is surely its own.
    let mut node1 = NodeProcess::start(&bed, &binary, &cluster, "killed-node1");
    let ringing = scenario("uas_ring_forever", &[("RINGING", RING_180)]);
    let ringing = SippUas::start(&api, "killed-ringing", &ringing, 1, &[]);
    let room = "killed-ringing";
    // With --commands the member stays (until its stdin closes), without it leaves at once.
    let mut member = RoomMember::join(&api, room, "observer", &["--commands"]);
    member.expect("joined", Duration::from_secs(20));
    // The SDK waits longer than livekit-server (95 s, the harness 100 s): what comes back
    // first is livekit-server's answer, or the SDK's TimeoutError if it never answers.
    let mut request = answered_call_request(room, &ringing.addr());
    request["request_timeout_s"] = json!(95);
    let pending = {
        let caller = caller.clone();
        std::thread::spawn(move || {
            let placed = Instant::now();
            let reply =
                caller.create_sip_participant(Sdk::Python, &request, &[], Duration::from_secs(100));
            (placed, Instant::now(), reply)
        })
    };
    member.expect_where("attributes", Duration::from_secs(30), |event| {
        event["from"] == callee(room) && event["attributes"]["sip.callStatus"] == "ringing"
    });
    let node0 = start_node(&bed, &cluster, "killed-node0");

    node1.kill();
    let killed = Instant::now();
    // While the killed call's API request is still pending, new calls are served.
    let carrier = SippUas::start(&api, "killed-new", &short_answered_call(), 2, &[]);
    let calls = place_calls(&caller, &carrier.addr(), "killed-new", 2, 2);
    assert_answered(&calls);
    let new_calls_answered = killed.elapsed();
    let rooms: Vec<String> = calls.iter().map(|call| call.room.clone()).collect();
    let per_node = records_per_node(&[&node0.bed, &node1.bed], "roomName", &rooms);
    let counts = assert_one_record_per_call(&per_node, "roomName", &rooms);
    assert_eq!(
        counts,
        [2, 0],
        "new calls after the kill: {}",
        split(&counts)
    );

    // livekit-server drops the dead node's participant once its signal connection is gone.
    let left = member.expect_where("left", Duration::from_secs(60), |event| {
        event["identity"] == callee(room)
    });
    let left_after = killed.elapsed();

    let (placed, returned, reply) = pending.join().unwrap();
    let error = reply
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("the killed node's call cannot have succeeded: {reply:?}"));
    assert_ne!(
        error.class, "TimeoutError",
        "livekit-server never answered the killed node's call: {error:?}"
    );
    let run = carrier.finish(Duration::from_secs(30));
    assert!(run.passed, "the new calls' carrier:\n{}", run.trace);
    println!(
        "node 1 SIGKILLed while its call rang: the Python SDK got {} {} (HTTP {}, {:?}) {:.1} s \
         after the kill, {:.1} s after placing the call; its participant left the room {:.1} s \
         after the kill ({}); 2 new calls answered on node 0 within {:.1} s of the kill",
        error.class,
        error.code,
        error.status,
        error.message,
        returned.duration_since(killed).as_secs_f64(),
        returned.duration_since(placed).as_secs_f64(),
        left_after.as_secs_f64(),
        left["reason"],
        new_calls_answered.as_secs_f64()
    );
}

/// The called number of the inbound trunk behind Kamailio.
const LB_NUMBER: &str = "+15550700";

#[test]
fn kamailio_spreads_inbound_calls_over_both_nodes_and_takes_a_draining_one_out() {
    let test = "kamailio_spreads_inbound_calls_over_both_nodes_and_takes_a_draining_one_out";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) || !Kamailio::available(test) {
        return;
    }
    let _alone = one_cluster_at_a_time();
    // SIPp's audio lasts 7 s: without a longer media timeout (15 s) the held calls would
    // be ended by their node before the phone hangs up.
    let mut cluster = OwnCluster::start(&bed, "lb", 2, "rtp: { media_timeout: 60s }\n");
    // The nodes see every call coming from Kamailio's socket on 127.0.0.1.
    let trunk = cluster.store(&json!({"inbound_trunk": {
        "name": "behind-kamailio", "numbers": [LB_NUMBER], "allowed_addresses": ["127.0.0.1/32"]}}));
    cluster.store(&json!({"dispatch_rule": {"dispatch_rule": {
        "trunk_ids": [trunk], "rule": {"dispatch_rule_individual": {"room_prefix": "lb-"}}}}}));
    let dir = bed.dir.join("lb-kamailio");
    let nodes: Vec<String> = cluster
        .nodes
        .iter()
        .map(|node| node.bed.sip_addr.clone())
        .collect();
    let kamailio = Kamailio::start(&dir, &[&nodes[0], &nodes[1]]);
    for node in &nodes {
        kamailio.wait_for_node(
            node,
            Duration::from_secs(20),
            "probed and active",
            |state| state.flags == "AP",
        );
    }

    let runs = phone_calls(&dir, &kamailio.addr, "lb", 40, 4);
    let call_ids = assert_phone_calls_passed(&runs);
    let per_node = records_per_node(&node_beds(&cluster), "sipCallId", &call_ids);
    let counts = assert_one_record_per_call(&per_node, "sipCallId", &call_ids);
    per_node
        .iter()
        .flatten()
        .for_each(|record| assert_ended_by_far_end(record, "SCD_INBOUND"));
    println!(
        "40 inbound calls through Kamailio ({}), all answered: {}",
        kamailio.addr,
        split(&counts)
    );
    assert!(
        counts.iter().all(|&count| count > 0),
        "Kamailio should have sent calls to every node: {}",
        split(&counts)
    );

    // Node 1 drains with a call up, so it stays up answering OPTIONS with 503 (with no call
    // it would be gone at once, and its probes would time out instead).
    let held = hold_a_call_on(&cluster, &dir, &kamailio.addr, 1);
    cluster.nodes[1].signal_stop();
    let drain_started = Instant::now();
    wait_for_health(&cluster.nodes[1].bed, 503);
    let (probe, _) = options_probe(&nodes[1]);
    assert_eq!(probe, 503, "node 1's answer to OPTIONS while it drains");
    kamailio.wait_for_node(&nodes[1], Duration::from_secs(30), "taken out", |state| {
        !state.selectable()
    });
    let taken_out_after = drain_started.elapsed();
    // The recipe logs the node it first picks for each INVITE ("INVITE to node …"): all
    // ten must go to node 0 at once, none reach node 1 and fail over.
    let first_picks = || -> Vec<usize> {
        nodes
            .iter()
            .map(|node| kamailio.log_lines_with(&format!("INVITE to node sip:{node}")))
            .collect()
    };
    let picked_before = first_picks();

    let runs = phone_calls(&dir, &kamailio.addr, "lb-after", 10, 4);
    let call_ids = assert_phone_calls_passed(&runs);
    let per_node = records_per_node(&node_beds(&cluster), "sipCallId", &call_ids);
    let after = assert_one_record_per_call(&per_node, "sipCallId", &call_ids);
    assert_eq!(
        after,
        [10, 0],
        "calls after Kamailio took node 1 out: {}",
        split(&after)
    );
    let picked: Vec<usize> = first_picks()
        .iter()
        .zip(&picked_before)
        .map(|(now, before)| now - before)
        .collect();
    assert_eq!(
        picked,
        [10, 0],
        "the nodes Kamailio first picked for the 10 calls; see {}",
        kamailio.log.display()
    );

    // The held calls end with their phones' BYE, through Kamailio; node 1 then exits.
    let held_ids: Vec<String> = held
        .into_iter()
        .map(|call| {
            let run = call.join().unwrap();
            assert!(run.passed, "a held call failed:\n{}", run.trace);
            run.call_id
        })
        .collect();
    cluster.nodes[1].wait();
    let per_node = records_per_node(&node_beds(&cluster), "sipCallId", &held_ids);
    let held_counts = assert_one_record_per_call(&per_node, "sipCallId", &held_ids);
    assert_eq!(held_counts[1], 1, "node 1 held one call: {held_counts:?}");
    per_node
        .iter()
        .flatten()
        .for_each(|record| assert_ended_by_far_end(record, "SCD_INBOUND"));
    println!(
        "node 1 draining (OPTIONS {probe}): Kamailio took it out {:.1} s after the drain \
         began (probes every 3 s, out after 2 failures); the next 10 calls: {}, each sent to node 0 \
         at once",
        taken_out_after.as_secs_f64(),
        split(&after)
    );
}

// ---- outbound calls through livekit-server ----

/// One outbound call placed through livekit-server.
struct Placed {
    room: String,
    sdk: Sdk,
    reply: ApiReply,
}

/// The identity the callee of the call into `room` gets.
fn callee(room: &str) -> String {
    format!("callee-{room}")
}

/// CreateSIPParticipant into `room` through an inline trunk to `carrier`, returning once the
/// call is answered.
fn answered_call_request(room: &str, carrier: &str) -> Value {
    json!({
        "trunk": { "hostname": carrier, "transport": "udp" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": room,
        "participant_identity": callee(room),
        "wait_until_answered": true,
        "request_timeout_s": 40,
    })
}

/// Node for even calls, Python for odd ones: both SDKs, interleaved.
fn sdk_of(index: usize) -> Sdk {
    if index.is_multiple_of(2) {
        Sdk::Node
    } else {
        Sdk::Python
    }
}

/// Places `count` calls to `carrier` (rooms `{label}-{index}`), `at_a_time` at once, each
/// through the SDK of its index; returns them in the order of their index.
fn place_calls(
    caller: &ApiCaller,
    carrier: &str,
    label: &str,
    count: usize,
    at_a_time: usize,
) -> Vec<Placed> {
    let next = AtomicUsize::new(0);
    let placed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..at_a_time {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count {
                        break;
                    }
                    let room = format!("{label}-{index}");
                    let sdk = sdk_of(index);
                    let request = answered_call_request(&room, carrier);
                    let reply = caller.create_sip_participant(sdk, &request, &[], SDK_LIMIT);
                    placed
                        .lock()
                        .unwrap()
                        .push((index, Placed { room, sdk, reply }));
                }
            });
        }
    });
    let mut placed = placed.into_inner().unwrap();
    placed.sort_by_key(|(index, _)| *index);
    placed.into_iter().map(|(_, call)| call).collect()
}

fn assert_answered(calls: &[Placed]) {
    for call in calls {
        let participant = call
            .reply
            .ok
            .as_ref()
            .and_then(|info| info["participant_id"].as_str());
        assert!(
            participant.is_some_and(|id| id.starts_with("PA_")),
            "{} through the {:?} SDK: {:?}",
            call.room,
            call.sdk,
            call.reply
        );
    }
}

/// The bed as an API client of `cluster` sees it: livekit-server's API and rooms (for a
/// cluster started without nodes, whose [`OwnCluster::bed`] there is none of yet).
fn cluster_api(bed: &Bed, cluster: &OwnCluster) -> Bed {
    Bed {
        api_url: cluster.api_url.clone(),
        livekit_url: cluster.livekit.url.clone(),
        ..bed.clone()
    }
}

/// A node of `cluster` started now in the test process, as [`OwnCluster::start`] starts its
/// own, for a test that needs a node to join after a call is placed; returns once it is
/// serving.
fn start_node(bed: &Bed, cluster: &OwnCluster, label: &str) -> OwnBridge {
    let yaml = format!(
        "mode: cluster\nredis: {{ address: \"{}\" }}\n",
        cluster.redis.addr
    );
    let mut node = OwnBridge::start_with_livekit(bed, label, &cluster.livekit.url, &yaml);
    node.bed.api_url.clone_from(&cluster.api_url);
    node.bed.livekit_url.clone_from(&cluster.livekit.url);
    wait_for_health(&node.bed, 200);
    // The node subscribes to its psrpc channels once up, which nothing outside shows
    // (OwnCluster waits the same).
    std::thread::sleep(Duration::from_millis(500));
    node
}

/// Waits for a node's `/health` to answer `status` (200 serving, 503 draining).
fn wait_for_health(node: &Bed, status: u16) {
    let url = node.metrics_url.replace("/metrics", "/health");
    let deadline = Instant::now() + Duration::from_secs(20);
    while health_status(&url) != Some(status) {
        assert!(Instant::now() < deadline, "{url} is not {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- inbound calls through Kamailio ----

/// SIPp phones calling [`LB_NUMBER`] through Kamailio at `proxy`, `count` calls of a second
/// and a half with audio, `at_a_time` at once.
fn phone_calls(
    dir: &std::path::Path,
    proxy: &str,
    label: &str,
    count: usize,
    at_a_time: usize,
) -> Vec<SippRun> {
    let next = AtomicUsize::new(0);
    let runs = Mutex::new(Vec::new());
    let text = scenario("lb_uac_call", &[]);
    std::thread::scope(|scope| {
        for _ in 0..at_a_time {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count {
                        break;
                    }
                    let label = format!("{label}-{index}");
                    let run = run_uac_to(
                        &dir.join("sipp"),
                        proxy,
                        &label,
                        &text,
                        LB_NUMBER,
                        &["-d", "1500"],
                        PHONE_LIMIT,
                    );
                    runs.lock().unwrap().push(run);
                }
            });
        }
    });
    runs.into_inner().unwrap()
}

/// Every phone's scenario passed (answered, audio, BYE answered): their Call-IDs.
fn assert_phone_calls_passed(runs: &[SippRun]) -> Vec<String> {
    for run in runs {
        assert!(
            run.passed,
            "a phone call through Kamailio failed:\n{}",
            run.trace
        );
    }
    runs.iter().map(|run| run.call_id.clone()).collect()
}

/// Calls held through `proxy` (the phone hangs up after 30 s), one more at a time, until
/// node `index` has one up: Kamailio sends new calls round robin, so the second call at
/// most lands on it.
fn hold_a_call_on(
    cluster: &OwnCluster,
    dir: &std::path::Path,
    proxy: &str,
    index: usize,
) -> Vec<JoinHandle<SippRun>> {
    let text = scenario("lb_uac_call", &[]);
    let mut held = Vec::new();
    while active_calls(&cluster.nodes[index].bed) < 1.0 {
        assert!(
            held.len() < 4,
            "Kamailio sent {} calls elsewhere",
            held.len()
        );
        held.push(spawn_uac_to(
            &dir.join("sipp"),
            proxy,
            &format!("lb-held-{}", held.len()),
            &text,
            LB_NUMBER,
            &["-d", "30000"],
            PHONE_LIMIT,
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        while total_active_calls(cluster) < held.len() as f64 {
            assert!(Instant::now() < deadline, "a held call was not answered");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    held
}

fn active_calls(node: &Bed) -> f64 {
    node.metric("sipbridge_active_calls")
}

fn total_active_calls(cluster: &OwnCluster) -> f64 {
    cluster
        .nodes
        .iter()
        .map(|node| active_calls(&node.bed))
        .sum()
}

/// What a node answers to an OPTIONS probe of the kind a load balancer sends (RFC 3261
/// §11): the status code, and the Retry-After if any.
fn options_probe(node: &str) -> (u16, Option<String>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let unique = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let probe = format!(
        "OPTIONS sip:{node} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-probe-{unique}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=probe-{unique}\r\n\
         To: <sip:{node}>\r\n\
         Call-ID: probe-{unique}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket.send_to(probe.as_bytes(), node).unwrap();
    let mut buffer = [0u8; 4096];
    let (length, _) = socket
        .recv_from(&mut buffer)
        .unwrap_or_else(|e| panic!("no answer to OPTIONS from {node}: {e}"));
    let answer = String::from_utf8_lossy(&buffer[..length]).into_owned();
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a SIP response: {answer}"));
    (code, header(&answer, "Retry-After").map(str::to_owned))
}

// ---- which node recorded which call ----

fn node_beds(cluster: &OwnCluster) -> Vec<&Bed> {
    cluster.nodes.iter().map(|node| &node.bed).collect()
}

/// Each node's call records whose `field` (the room of an outbound call, the SIP Call-ID of
/// an inbound one) is one of `keys`, once every key has a record somewhere, or after
/// [`RECORDS_LIMIT`] (the assertions then say which are missing). A record is written when
/// its call ends, which may be just after the API call or the phone has returned.
fn records_per_node(nodes: &[&Bed], field: &str, keys: &[String]) -> Vec<Vec<Value>> {
    let wanted: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let started = Instant::now();
    loop {
        let per_node: Vec<Vec<Value>> = nodes
            .iter()
            .map(|node| {
                node.records(|record| {
                    record.get("transferId").is_none()
                        && record[field]
                            .as_str()
                            .is_some_and(|key| wanted.contains(key))
                })
            })
            .collect();
        let recorded: BTreeSet<String> = per_node
            .iter()
            .flatten()
            .filter_map(|record| record[field].as_str().map(str::to_owned))
            .collect();
        if recorded.len() == wanted.len() || started.elapsed() > RECORDS_LIMIT {
            return per_node;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that each call of `keys` has exactly one record, on exactly one node; returns how
/// many records each node has.
fn assert_one_record_per_call(per_node: &[Vec<Value>], field: &str, keys: &[String]) -> Vec<usize> {
    for key in keys {
        let holders: Vec<(usize, usize)> = per_node
            .iter()
            .enumerate()
            .map(|(node, records)| {
                let count = records.iter().filter(|r| r[field] == key.as_str()).count();
                (node, count)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        assert!(
            holders.len() == 1 && holders[0].1 == 1,
            "{key}: (node, records) {holders:?}, not one record on one node"
        );
    }
    per_node.iter().map(Vec::len).collect()
}

/// The call was answered and the far end (carrier or phone) hung up.
fn assert_ended_by_far_end(record: &Value, direction: &str) {
    assert_eq!(record["callDirection"], direction, "{record}");
    assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 200, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Remote hangup",
        "{record}"
    );
}

/// "node0 23 / node1 17".
fn split(counts: &[usize]) -> String {
    counts
        .iter()
        .enumerate()
        .map(|(node, count)| format!("node{node} {count}"))
        .collect::<Vec<_>>()
        .join(" / ")
}
