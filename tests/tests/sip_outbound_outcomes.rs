//! Every row of the outbound table of docs/OUTCOMES.md, end to end: SIPp plays the carrier,
//! the official Node and Python SDKs place the call through the bridge's Twirp API with
//! `wait_until_answered`, and each outcome is checked on all four delivery paths at once —
//! the SDK's `SipCallError`, the departure attributes a Python room member sees (and the
//! `disconnect_reason` the server gives it), the call detail record, and the `calls_ended`
//! metric. One table row per call is printed.
//!
//! The calls go through a bridge of the test's own (short SIP T1 and media timeouts, so
//! "no response" and "media timeout" take seconds, and a metrics registry nobody else
//! counts in). The table runs once per livekit-server version of [`LIVEKIT_SERVERS`], with a bridge
//! per version: on the bed's server for the bed's version, on a server of the test's own
//! (127.0.0.1, ports of its own) for the other; and once more in cluster mode, the SDKs
//! calling a livekit-server of the test's own that hands the calls to a sipbridge node over
//! psrpc, where every row must come out exactly as it does standalone.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, ApiReply, Sdk};
use sipbridge_tests::observe::{LIVEKIT_SERVERS, calls_ended, reason_server_shows};
use sipbridge_tests::sipp::{self, free_port, scenario, two_free_ports};
use sipbridge_tests::sipp_uas::{
    BRIDGE_HANGS_UP, NO_HEADERS, RING_180, SippUas, WWW_AUTHENTICATE, answer,
    carrier_hangs_up_after, reject,
};
use sipbridge_tests::{Bed, OwnBridge, OwnCluster, OwnLiveKit, RoomMember};

/// T1 100 ms: Timer B (64·T1) and the wait for a 487 after CANCEL are 6.4 s.
const OWN_BRIDGE: &str = "
sip: { external_ip: 127.0.0.1, timers: { t1: 100ms } }
rtp: { media_timeout: 2s, media_timeout_initial: 2s }
";

/// What the API caller does besides waiting.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Wait,
    /// The Python SDK call is cancelled (its HTTP connection closed) while the phone rings.
    CancelApi,
    /// A room member deletes the room while the phone rings.
    DeleteRoom,
}

struct Row {
    label: &'static str,
    /// The carrier; `None`: nothing listens (a refused TCP connection).
    carrier: Option<String>,
    tcp: bool,
    extra: Value,
    action: Action,
    answered: bool,
    reason: &'static str,
    code: u16,
    phrase: &'static str,
    /// The API answer must come within this (a call that ends at its `ringing_timeout`,
    /// not at the transaction's Timer B).
    answer_within: Option<Duration>,
}

fn row(
    label: &'static str,
    carrier: String,
    reason: &'static str,
    code: u16,
    phrase: &'static str,
) -> Row {
    Row {
        label,
        carrier: Some(carrier),
        tcp: false,
        extra: json!({}),
        action: Action::Wait,
        answered: false,
        reason,
        code,
        phrase,
        answer_within: None,
    }
}

fn rejected(code: u16, phrase: &'static str, reason: &'static str) -> Row {
    let label = Box::leak(format!("reject-{code}").into_boxed_str());
    row(label, reject(code, phrase), reason, code, phrase)
}

fn rows() -> Vec<Row> {
    let ringing = || scenario("uas_ring_forever", &[("RINGING", RING_180)]);
    let mut rows = vec![
        rejected(486, "Busy Here", "USER_REJECTED"),
        rejected(600, "Busy Everywhere", "USER_REJECTED"),
        rejected(603, "Decline", "USER_REJECTED"),
        rejected(607, "Unwanted", "USER_REJECTED"),
        rejected(608, "Rejected", "USER_REJECTED"),
        rejected(480, "Temporarily Unavailable", "USER_UNAVAILABLE"),
        rejected(408, "Request Timeout", "USER_UNAVAILABLE"),
        rejected(404, "Not Found", "SIP_TRUNK_FAILURE"),
        rejected(410, "Gone", "SIP_TRUNK_FAILURE"),
        rejected(484, "Address Incomplete", "SIP_TRUNK_FAILURE"),
        rejected(604, "Does Not Exist Anywhere", "SIP_TRUNK_FAILURE"),
        rejected(403, "Forbidden", "SIP_TRUNK_FAILURE"),
        rejected(500, "Server Internal Error", "SIP_TRUNK_FAILURE"),
        rejected(502, "Bad Gateway", "SIP_TRUNK_FAILURE"),
        rejected(503, "Service Unavailable", "SIP_TRUNK_FAILURE"),
        rejected(488, "Not Acceptable Here", "MEDIA_FAILURE"),
        rejected(606, "Not Acceptable", "MEDIA_FAILURE"),
        // "Any other 4xx / 6xx not listed".
        rejected(420, "Bad Extension", "SIP_TRUNK_FAILURE"),
        rejected(699, "Unknown Global Failure", "SIP_TRUNK_FAILURE"),
    ];
    let mut ring_timeout = row(
        "ringing-timeout",
        ringing(),
        "USER_UNAVAILABLE",
        487,
        "Request Terminated",
    );
    ring_timeout.extra = json!({ "ringing_timeout_s": 2 });
    rows.push(ring_timeout);
    let no_487 = scenario(
        "uas_ring_no_487",
        &[("RINGING", RING_180), ("SILENCE_MS", "12000")],
    );
    let mut no_487 = row(
        "ringing-timeout-no-487",
        no_487,
        "USER_UNAVAILABLE",
        408,
        "Ringing timeout",
    );
    no_487.extra = json!({ "ringing_timeout_s": 2 });
    rows.push(no_487);
    // Nothing comes back and the caller's ringing_timeout (2 s) is shorter than Timer B
    // (64·T1 = 6.4 s here): the call ends at the ringing timeout, no CANCEL sent.
    let silent = scenario("uas_silent", &[("SILENCE_MS", "12000")]);
    let mut quick = row(
        "no-response-ringing-timeout",
        silent,
        "CONNECTION_TIMEOUT",
        408,
        "No response",
    );
    quick.extra = json!({ "ringing_timeout_s": 2 });
    quick.answer_within = Some(Duration::from_secs(5));
    rows.push(quick);
    let silent = scenario("uas_silent", &[("SILENCE_MS", "12000")]);
    rows.push(row(
        "no-response",
        silent,
        "CONNECTION_TIMEOUT",
        408,
        "No response",
    ));
    let challenge = scenario("uas_auth_reject", &WWW_AUTHENTICATE.replacements());
    let mut auth = row(
        "auth-rejected",
        challenge,
        "SIP_TRUNK_FAILURE",
        401,
        "Unauthorized",
    );
    auth.extra = json!({ "trunk": { "auth_username": "bridge", "auth_password": "wrong" } });
    rows.push(auth);
    rows.push(Row {
        carrier: None,
        tcp: true,
        ..row(
            "tcp-refused",
            String::new(),
            "SIP_TRUNK_FAILURE",
            503,
            "Transport failure: TCP connection refused",
        )
    });
    let gsm_only = "      v=0
      o=carrier 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 3
      a=rtpmap:3 GSM/8000";
    let no_codec = scenario(
        "uas_answer",
        &[
            ("RINGING", RING_180),
            ("ANSWER_SDP", gsm_only),
            ("EXTRA_HEADERS", NO_HEADERS),
            ("HANGUP", BRIDGE_HANGS_UP),
        ],
    );
    rows.push(row(
        "no-common-codec",
        no_codec,
        "MEDIA_FAILURE",
        488,
        "No common codec",
    ));
    rows.push(Row {
        answered: true,
        ..row(
            "answer-then-bye",
            answer(&carrier_hangs_up_after(1500)),
            "CLIENT_INITIATED",
            200,
            "Remote hangup",
        )
    });
    let silent_answer = scenario(
        "uas_answer_silent",
        &[("ANSWER_SDP", sipbridge_tests::sipp_uas::SDP_PCMA_PCMU)],
    );
    rows.push(Row {
        answered: true,
        ..row(
            "answer-then-silence",
            silent_answer,
            "MEDIA_FAILURE",
            408,
            "Media timeout",
        )
    });
    rows.push(Row {
        action: Action::CancelApi,
        ..row(
            "cancelled-by-api",
            ringing(),
            "CLIENT_INITIATED",
            487,
            "Request Terminated",
        )
    });
    rows.push(Row {
        action: Action::DeleteRoom,
        ..row(
            "room-closed",
            ringing(),
            "CLIENT_INITIATED",
            487,
            "Request Terminated",
        )
    });
    rows
}

/// What one call showed on each path.
#[derive(Debug)]
struct Seen {
    api: String,
    room: String,
    server_reason: String,
    cdr: String,
}

fn status_class(code: u16) -> String {
    format!("{}xx", code / 100)
}

/// One run of the table: a bridge of the test's own on one livekit-server version, or a
/// cluster of the test's own (the calls placed through livekit-server, which hands them to
/// the bridge over psrpc).
struct Pass {
    version: &'static str,
    own: Own,
}

enum Own {
    /// A standalone bridge, on a server of the test's own (`None`: the bed's), held only
    /// to be dropped after the bridge.
    Bridge(Box<OwnBridge>, #[allow(dead_code)] Option<OwnLiveKit>),
    Cluster(OwnCluster),
}

impl Pass {
    /// The bridge's view of the bed: where its calls go through, its records and metrics.
    fn bed(&self) -> &Bed {
        match &self.own {
            Own::Bridge(bridge, _) => &bridge.bed,
            Own::Cluster(cluster) => cluster.bed(),
        }
    }

    fn name(&self) -> String {
        match &self.own {
            Own::Bridge(..) => self.version.to_owned(),
            Own::Cluster(_) => format!("{} cluster", self.version),
        }
    }

    fn clustered(&self) -> bool {
        matches!(self.own, Own::Cluster(_))
    }
}

/// A pass per version of [`LIVEKIT_SERVERS`] that is built (in CI, all of them).
fn passes(bed: &Bed, test: &str) -> Vec<Pass> {
    let mut passes = Vec::new();
    for (version, _) in LIVEKIT_SERVERS {
        let Some(binary) = bed.livekit_server_build(test, version) else {
            continue;
        };
        let label = format!("outcomes-{version}");
        let (server, on) = if binary == bed.livekit_server {
            (None, bed.clone())
        } else {
            let (port, udp_port) = two_free_ports();
            let server = OwnLiveKit::start_binary(bed, &binary, &label, port, udp_port);
            let on = Bed {
                livekit_url: server.url.clone(),
                livekit_server: binary,
                ..bed.clone()
            };
            (Some(server), on)
        };
        passes.push(Pass {
            version,
            own: Own::Bridge(Box::new(OwnBridge::start(&on, &label, OWN_BRIDGE)), server),
        });
    }
    // The bed's version once more, in cluster mode.
    passes.push(Pass {
        version: LIVEKIT_SERVERS[0].0,
        own: Own::Cluster(OwnCluster::start(bed, "outcomes-cluster", 1, OWN_BRIDGE)),
    });
    passes
}

#[test]
fn every_outbound_outcome_reaches_the_api_the_room_the_record_and_the_metrics() {
    let test = "every_outbound_outcome_reaches_the_api_the_room_the_record_and_the_metrics";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let passes = passes(&bed, test);
    let rows = rows();
    let expected_calls: Vec<_> = passes
        .iter()
        .map(|_| Mutex::new(BTreeMap::<String, f64>::new()))
        .collect();
    let table = Mutex::new(Vec::new());
    // Three rows at a time, of either pass: each runs SIPp, a room member and two SDK
    // processes.
    let queue = Mutex::new(
        (0..passes.len())
            .flat_map(|pass| rows.iter().map(move |row| (pass, row)))
            .filter(|(pass, row)| applies(&passes[*pass], row))
            .collect::<Vec<_>>(),
    );
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let Some((index, row)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let pass = &passes[index];
                    // The assertions name the row; this names the server version too.
                    let seen = std::panic::catch_unwind(AssertUnwindSafe(|| run_row(pass, row)))
                        .unwrap_or_else(|_| {
                            panic!("{} on livekit-server {} failed", row.label, pass.name())
                        });
                    for (sdk, seen) in seen {
                        let sample = calls_ended("outbound", row.reason, &status_class(row.code));
                        *expected_calls[index]
                            .lock()
                            .unwrap()
                            .entry(sample)
                            .or_default() += 1.0;
                        table
                            .lock()
                            .unwrap()
                            .push((pass.name(), row.label, row.code, sdk, seen));
                    }
                }
            });
        }
    });

    let mut table = table.into_inner().unwrap();
    table.sort_by_key(|(version, label, _, sdk, _)| (version.clone(), *label, sdk.clone()));
    println!(
        "\n| livekit-server | scenario | SIP | SDK | API | room departure | server disconnect_reason | call detail record |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (version, label, code, sdk, seen) in &table {
        println!(
            "| {version} | {label} | {code} | {sdk} | {} | {} | {} | {} |",
            seen.api, seen.room, seen.server_reason, seen.cdr
        );
    }
    for (pass, expected) in passes.iter().zip(expected_calls) {
        for (sample, expected) in expected.into_inner().unwrap() {
            assert_eq!(
                pass.bed().metric(&sample),
                expected,
                "{} {sample}",
                pass.name()
            );
        }
    }
}

/// Whether the row applies to the pass. Through livekit-server, an API caller who leaves
/// cannot cancel the call: psrpc carries no cancellation (LiveKit's own SIP service has
/// the same limit), so the call rings on until its ringing timeout.
fn applies(pass: &Pass, row: &Row) -> bool {
    !(pass.clustered() && row.action == Action::CancelApi)
}

/// Places the row's call through each SDK it applies to and checks every path.
fn run_row(pass: &Pass, row: &Row) -> Vec<(String, Seen)> {
    let own = pass.bed();
    let sdks: &[Sdk] = match row.action {
        Action::Wait => &[Sdk::Node, Sdk::Python],
        Action::CancelApi => &[Sdk::Python],
        Action::DeleteRoom => &[Sdk::Node],
    };
    let carrier = row.carrier.as_ref().map(|text| {
        let args: &[&str] = if row.tcp { &["-t", "t1"] } else { &[] };
        SippUas::start(own, row.label, text, sdks.len() as u32, args)
    });
    let address = carrier
        .as_ref()
        .map_or_else(|| format!("127.0.0.1:{}", free_port(false)), SippUas::addr);
    let mut seen = Vec::new();
    for sdk in sdks {
        let sdk_name = format!("{sdk:?}").to_lowercase();
        let room = format!("out-{}-{sdk_name}", row.label);
        let identity = format!("callee-{}-{sdk_name}", row.label);
        let mut member = RoomMember::join(own, &room, "observer", &["--commands"]);
        member.expect("joined", Duration::from_secs(20));
        let mut request = json!({
            "trunk": { "hostname": address, "transport": if row.tcp { "tcp" } else { "udp" } },
            "sip_number": "+15550199",
            "sip_call_to": "+15557654321",
            "room_name": room,
            "participant_identity": identity,
            "wait_until_answered": true,
            "request_timeout_s": 40,
        });
        merge(&mut request, &row.extra);
        let caller = ApiCaller::of(own);
        let limit = Duration::from_secs(60);
        let reply = std::thread::scope(|scope| {
            let call = scope.spawn(|| {
                let options: &[&str] = match row.action {
                    Action::CancelApi => &["--cancel-after", "1.5"],
                    _ => &[],
                };
                caller.create_sip_participant(*sdk, &request, options, limit)
            });
            if row.action == Action::DeleteRoom {
                member.expect_where("attributes", Duration::from_secs(20), |e| {
                    e["from"] == identity.as_str() && e["attributes"]["sip.callStatus"] == "ringing"
                });
                member.command(json!({ "cmd": "delete_room" }));
            }
            call.join().unwrap()
        });
        let api = check_api(row, *sdk, &reply);

        // The departure, unless the room itself is gone.
        let (room_seen, server_reason, sip_call_id) = if row.action == Action::DeleteRoom {
            ("(room deleted)".to_owned(), "-".to_owned(), None)
        } else {
            let left = member.expect_where("left", Duration::from_secs(30), |e| {
                e["identity"] == identity.as_str()
            });
            let statuses = call_statuses(&mut member, &identity);
            check_departure(row, &left, &statuses);
            assert_eq!(
                left["reason"],
                reason_server_shows(pass.version, row.reason),
                "{}: the disconnect_reason livekit-server {} shows",
                row.label,
                pass.version
            );
            let attributes = &left["attributes"];
            (
                format!(
                    "{} {} {}",
                    attributes["sip.disconnectReason"]
                        .as_str()
                        .unwrap_or_default(),
                    attributes["sip.statusCode"].as_str().unwrap_or_default(),
                    attributes["sip.statusReason"].as_str().unwrap_or_default()
                ),
                left["reason"].as_str().unwrap_or("none").to_owned(),
                attributes["sip.callIDFull"].as_str().map(str::to_owned),
            )
        };
        let record = match sip_call_id {
            Some(id) => own.cdr_of(&id, Duration::from_secs(10)),
            None => record_of_room(own, &room),
        };
        assert_eq!(
            record["disconnectReason"], row.reason,
            "{}: {record}",
            row.label
        );
        assert_eq!(
            record["callStatusCode"]["code"], row.code,
            "{}: {record}",
            row.label
        );
        assert_eq!(
            record["callStatusCode"]["status"], row.phrase,
            "{}: {record}",
            row.label
        );
        assert_eq!(
            record["callDirection"], "SCD_OUTBOUND",
            "{}: {record}",
            row.label
        );
        let cdr = format!(
            "{} {} {}",
            record["disconnectReason"].as_str().unwrap_or_default(),
            record["callStatusCode"]["code"],
            record["callStatusCode"]["status"]
                .as_str()
                .unwrap_or_default()
        );
        seen.push((
            sdk_name,
            Seen {
                api,
                room: room_seen,
                server_reason,
                cdr,
            },
        ));
        drop(member);
    }
    if let Some(carrier) = carrier {
        let run = carrier.finish(Duration::from_secs(20));
        assert!(
            run.passed,
            "{}: the carrier's scenario failed\n{}",
            row.label, run.trace
        );
    }
    seen
}

fn merge(request: &mut Value, extra: &Value) {
    for (key, value) in extra.as_object().into_iter().flatten() {
        match (request.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => {
                inner.extend(more.clone());
            }
            _ => {
                request[key] = value.clone();
            }
        }
    }
}

/// The SDK's view: `SipCallError` with the exact status for a call that failed, the
/// participant for one that was answered, nothing for one the caller cancelled.
fn check_api(row: &Row, sdk: Sdk, reply: &ApiReply) -> String {
    let label = row.label;
    if row.action == Action::CancelApi {
        assert!(
            reply.cancelled,
            "{label}: the SDK call was to be cancelled: {reply:?}"
        );
        return "cancelled by the caller".into();
    }
    if row.answered {
        let info = reply
            .ok
            .as_ref()
            .unwrap_or_else(|| panic!("{label} {sdk:?}: {reply:?}"));
        assert!(
            info["participant_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("PA_")),
            "{label}: {info}"
        );
        return format!("answered ({} ms)", reply.elapsed.as_millis());
    }
    let error = reply
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("{label} {sdk:?}: {reply:?}"));
    assert_eq!(error.class, "SipCallError", "{label} {sdk:?}: {error:?}");
    assert_eq!(
        error.sip_status_code,
        Some(row.code),
        "{label} {sdk:?}: {error:?}"
    );
    assert_eq!(error.sip_status, row.phrase, "{label} {sdk:?}: {error:?}");
    if let Some(limit) = row.answer_within {
        assert!(
            reply.elapsed <= limit,
            "{label} {sdk:?}: answered after {:?}, not within {limit:?}",
            reply.elapsed
        );
    }
    format!(
        "SipCallError {} {} ({})",
        row.code, error.sip_status, error.code
    )
}

/// `sip.callStatus` values the member saw for `identity`, in order, repeats removed.
fn call_statuses(member: &mut RoomMember, identity: &str) -> Vec<String> {
    let mut statuses: Vec<String> = Vec::new();
    for event in member.take_earlier("attributes", |e| e["from"] == identity) {
        if let Some(status) = event["attributes"]["sip.callStatus"].as_str()
            && statuses.last().map(String::as_str) != Some(status)
        {
            statuses.push(status.to_owned());
        }
    }
    statuses
}

fn check_departure(row: &Row, left: &Value, statuses: &[String]) {
    let label = row.label;
    let attributes = &left["attributes"];
    assert_eq!(attributes["sip.callStatus"], "hangup", "{label}: {left}");
    assert_eq!(
        attributes["sip.disconnectReason"], row.reason,
        "{label}: {left}"
    );
    assert_eq!(
        attributes["sip.statusCode"],
        row.code.to_string(),
        "{label}: {left}"
    );
    assert_eq!(
        attributes["sip.statusReason"], row.phrase,
        "{label}: {left}"
    );
    // In the order dialing, ringing, active, hangup (the server may merge quick changes, so
    // a step can be missing), and active only once answered: never before the 200.
    let order = ["dialing", "ringing", "active", "hangup"];
    let ranks: Vec<usize> = statuses
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap_or(usize::MAX))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]) && !ranks.contains(&usize::MAX),
        "{label}: {statuses:?}"
    );
    let active = statuses.iter().any(|s| s == "active");
    assert_eq!(active, row.answered, "{label}: {statuses:?}");
}

/// The record of the only call placed into `room` (when no member could see its Call-ID).
fn record_of_room(own: &Bed, room: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&own.cdr).unwrap_or_default();
        let records: Vec<Value> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["roomName"] == room)
            .collect();
        match records.len() {
            1 => return records.into_iter().next().unwrap(),
            0 if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            n => panic!("{n} records for room {room}: {records:?}"),
        }
    }
}
