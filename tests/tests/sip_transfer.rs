//! Every row of the transfer table of docs/OUTCOMES.md, end to end. The bridge is in an
//! answered call with SIPp playing the carrier (an outbound call placed through the API, or
//! an inbound call SIPp made); the official Node and Python SDKs call TransferSIPParticipant;
//! the carrier takes the REFER as the row says and sends its NOTIFYs. Each row checks the
//! SDK's answer (the sipfrag's status as `SipCallError.sipStatusCode`, or the response), that
//! the answer came only after the final NOTIFY (the wait is printed), how the call ended as
//! the Python room member and the call record see it, the transfer's own record, and
//! `transfers_total`. A row that fails does not stop the others: the table is printed, then
//! the failures are listed.
//!
//! The calls go through a bridge of the test's own: a media timeout longer than the
//! carrier's 7 s of RTP, and metrics nobody else counts in. The table runs twice: on that
//! standalone bridge, and in cluster mode, where the SDKs call a livekit-server of the test's
//! own, which places the outbound calls on a sipbridge node and hands each transfer to the
//! node that has the call (psrpc, on the call's `sip.callID`), and the inbound calls come
//! into the node with a trunk and rule created through livekit-server. Every row must come
//! out the same but for what livekit-server's API cannot carry (see [`Pass::Cluster`]), and
//! the transfer target goes as a URI there ([`Pass::transfer_to`]).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, ApiReply, Sdk};
use sipbridge_tests::observe::transfers;
use sipbridge_tests::sipp::{self, SippRun, spawn_uac};
use sipbridge_tests::sipp_transfer::{
    ACTIVE, Step, TransferScript, bye_before_final, carrier_answering, completes, fails,
    for_outbound, no_final, phone_calling, refer_refused, terminated_without_final, transfer_times,
    two_transfers,
};
use sipbridge_tests::sipp_uas::{BRIDGE_HANGS_UP, SippUas, answer};
use sipbridge_tests::{Bed, OwnBridge, OwnCluster, RoomMember};

/// Longer than the carrier's 7 s of RTP: a call outlives its audio here.
const MEDIA: &str = "rtp: { media_timeout: 60s, media_timeout_initial: 60s }\n";

/// The numbers inbound calls dial, one call at a time each.
const NUMBERS: [&str; 4] = ["+15550161", "+15550162", "+15550163", "+15550164"];

/// Standalone, inbound calls to +1555016x go to room `xfer-in-+1555016x`, as
/// `sip_+15557770001` (the number uac_call.xml calls from).
const INBOUND_ROUTES: &str = "
inbound_trunks: [{ id: xfer, numbers: [\"+15550161\", \"+15550162\", \"+15550163\", \"+15550164\"], allowed_addresses: [127.0.0.0/8] }]
dispatch_rules: [{ id: xfer-rooms, rule: { callee: { room_prefix: \"xfer-in-\" } } }]
";

const INBOUND_IDENTITY: &str = "sip_+15557770001";
const WAIT: Duration = Duration::from_secs(30);

/// What the API caller must get.
#[derive(Clone, Debug)]
enum Expect {
    /// Success, STR_COMPLETED, with this sipfrag status.
    Completed(u16, &'static str),
    /// Success, STR_CALL_ENDED, no SIP status.
    CallEnded,
    /// A Twirp error with this code and SIP status, and this transfer reason.
    Failed {
        twirp: &'static str,
        code: u16,
        phrase: &'static str,
        reason: &'static str,
    },
}

struct Row {
    label: &'static str,
    script: TransferScript,
    ringing_timeout_s: u64,
    expect: Expect,
    /// The `transfers_total` outcome label.
    metric: &'static str,
    /// How the call ended: (DisconnectReason, SIP code, phrase) on the departure and record.
    call_end: (&'static str, u16, &'static str),
    meanwhile: Meanwhile,
}

/// What happens while the transfer waits for its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Meanwhile {
    Nothing,
    /// A second transfer is asked for, which must be refused at once.
    SecondTransfer,
    /// The room removes the participant once the carrier has the REFER in hand (it says so
    /// with a file: [`carrier_scenario`]), which ends the call otherwise than by the
    /// transfer.
    RoomRemovesTheCaller,
}

const REMOTE_HANGUP: (&str, u16, &str) = ("CLIENT_INITIATED", 200, "Remote hangup");

fn failed(
    label: &'static str,
    script: TransferScript,
    twirp: &'static str,
    (code, phrase): (u16, &'static str),
    reason: &'static str,
    metric: &'static str,
) -> Row {
    Row {
        label,
        script,
        ringing_timeout_s: 30,
        expect: Expect::Failed {
            twirp,
            code,
            phrase,
            reason,
        },
        metric,
        call_end: REMOTE_HANGUP,
        meanwhile: Meanwhile::Nothing,
    }
}

fn rows() -> Vec<Row> {
    let notified = |code, phrase| fails(code, phrase, 1500);
    vec![
        Row {
            label: "completed",
            script: completes(1500)
                .expecting_refer_to(r"^<tel:\+15550999>$")
                // Our end of the dialog: the From of our INVITE, or the To of the phone's.
                .expecting_header(
                    "Referred-By",
                    r"^<sip:\+1555[0-9]+@127\.0\.0\.1(:[0-9]+)?>$",
                )
                .expecting_header("X-Transfer-Case", "^completed$"),
            ringing_timeout_s: 30,
            expect: Expect::Completed(200, "OK"),
            metric: "completed",
            call_end: ("CLIENT_INITIATED", 200, "OK"),
            meanwhile: Meanwhile::Nothing,
        },
        failed(
            "busy-486",
            notified(486, "Busy Here"),
            "resource_exhausted",
            (486, "Busy Here"),
            "STR_REJECTED",
            "failed",
        ),
        failed(
            "decline-603",
            notified(603, "Decline"),
            "permission_denied",
            (603, "Decline"),
            "STR_REJECTED",
            "failed",
        ),
        failed(
            "unavailable-480",
            notified(480, "Temporarily Unavailable"),
            "resource_exhausted",
            (480, "Temporarily Unavailable"),
            "STR_RINGING_TIMEOUT",
            "failed",
        ),
        failed(
            "terminated-no-final",
            terminated_without_final(),
            "canceled",
            (487, "Subscription terminated"),
            "STR_SUBSCRIPTION_TERMINATED",
            "subscription_terminated",
        ),
        Row {
            label: "bye-before-final",
            script: bye_before_final(),
            ringing_timeout_s: 30,
            expect: Expect::CallEnded,
            metric: "call_ended",
            call_end: REMOTE_HANGUP,
            meanwhile: Meanwhile::Nothing,
        },
        Row {
            ringing_timeout_s: 2,
            ..failed(
                "no-final-timeout",
                no_final(4000),
                "deadline_exceeded",
                (408, "Transfer timeout"),
                "STR_RINGING_TIMEOUT",
                "timeout",
            )
        },
        failed(
            "refer-403",
            refer_refused(403, "Forbidden"),
            "permission_denied",
            (403, "Forbidden"),
            "STR_REJECTED",
            "refer_rejected",
        ),
        failed(
            "refer-405",
            refer_refused(405, "Method Not Allowed"),
            "invalid_argument",
            (405, "Method Not Allowed"),
            "STR_REJECTED",
            "refer_rejected",
        ),
        failed(
            "refer-501",
            refer_refused(501, "Not Implemented"),
            "failed_precondition",
            (501, "Not Implemented"),
            "STR_REJECTED",
            "refer_rejected",
        ),
        Row {
            label: "second-transfer",
            script: two_transfers(3000),
            ringing_timeout_s: 30,
            expect: Expect::Completed(200, "OK"),
            metric: "completed",
            call_end: ("CLIENT_INITIATED", 200, "OK"),
            meanwhile: Meanwhile::SecondTransfer,
        },
        Row {
            label: "call-ended-during-transfer",
            // 202 and NOTIFY 100, then nothing until the bridge's BYE.
            script: TransferScript::accepted(vec![Step::notify("SIP/2.0 100 Trying", ACTIVE)]),
            ringing_timeout_s: 30,
            expect: Expect::Failed {
                twirp: "canceled",
                code: 487,
                phrase: "Call ended during transfer",
                reason: "STR_CANCELED",
            },
            metric: "abandoned",
            call_end: ("PARTICIPANT_REMOVED", 200, "Local hangup"),
            meanwhile: Meanwhile::RoomRemovesTheCaller,
        },
    ]
}

/// One transfer as the test saw it, for the printed table.
struct Seen {
    pass: &'static str,
    label: String,
    direction: &'static str,
    sdk: Sdk,
    api: String,
    /// From the REFER's arrival to the final NOTIFY, by the carrier's trace.
    final_after: Option<Duration>,
    /// How long the SDK call took.
    api_wait: Duration,
    departure: String,
}

/// One run of the table.
enum Pass {
    /// A bridge of the test's own, its Twirp API called directly.
    Standalone(Box<OwnBridge>),
    /// A cluster of the test's own: the SDKs call livekit-server, which places the calls on
    /// the node and hands it the transfers over psrpc. Its TransferSIPParticipant answers
    /// `google.protobuf.Empty`, and makes an error's Twirp meta from the `livekit.SIPStatus`
    /// detail alone (`sip_status_code`, `sip_status`): the transfer's reason and id, which
    /// the standalone API adds to the response and the meta, do not reach the API caller.
    Cluster(OwnCluster),
}

impl Pass {
    fn standalone(bed: &Bed) -> Self {
        let yaml = format!("{MEDIA}{INBOUND_ROUTES}");
        Self::Standalone(Box::new(OwnBridge::start(bed, "transfers", &yaml)))
    }

    /// The cluster, with the inbound trunk and rule of [`INBOUND_ROUTES`] created through
    /// livekit-server, as an application would.
    fn cluster(bed: &Bed) -> Self {
        let cluster = OwnCluster::start(bed, "transfers-cluster", 1, MEDIA);
        let trunk = cluster.store(&json!({"inbound_trunk": {
            "name": "xfer", "numbers": NUMBERS, "allowed_addresses": ["127.0.0.1"]}}));
        cluster.store(&json!({"dispatch_rule": {"dispatch_rule": {
            "trunk_ids": [trunk],
            "rule": {"dispatch_rule_callee": {"room_prefix": "xfer-in"}}}}}));
        Self::Cluster(cluster)
    }

    /// Where the calls go through, and the bridge's records and metrics.
    fn bed(&self) -> &Bed {
        match self {
            Self::Standalone(bridge) => &bridge.bed,
            Self::Cluster(cluster) => cluster.bed(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Standalone(_) => "standalone",
            Self::Cluster(_) => "cluster",
        }
    }

    fn clustered(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The room of an inbound call to `number`: our callee rule puts its prefix right
    /// before the number, LiveKit's joins the two with "_".
    fn inbound_room(&self, number: &str) -> String {
        match self {
            Self::Standalone(_) => format!("xfer-in-{number}"),
            Self::Cluster(_) => format!("xfer-in_{number}"),
        }
    }

    /// Where the calls are transferred to, the same number each time (the carrier checks
    /// the Refer-To). livekit-server takes only a URI (it refuses anything without `sip:`,
    /// `sips:` or `tel:` as invalid_argument before asking the node); our API takes a
    /// number as dialled too.
    fn transfer_to(&self) -> &'static str {
        match self {
            Self::Standalone(_) => "+1 555 0999",
            Self::Cluster(_) => "tel:+15550999",
        }
    }

    /// Names the SIPp files and rooms of a call.
    fn label(&self, direction: &str, row: &Row, sdk: Sdk) -> String {
        let pass = if self.clustered() { "-cluster" } else { "" };
        format!("xfer{direction}{pass}-{}-{}", row.label, sdk_name(sdk))
    }
}

/// A transfer to run: the pass, the row, the SDK, and whether SIPp calls the bridge.
type Job<'a> = (usize, &'a Row, Sdk, bool);

#[test]
fn every_transfer_outcome_reaches_the_api_the_room_the_record_and_the_metrics() {
    let test = "every_transfer_outcome_reaches_the_api_the_room_the_record_and_the_metrics";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let passes = [Pass::standalone(&bed), Pass::cluster(&bed)];
    let rows = rows();
    let mut jobs: Vec<Job> = Vec::new();
    for pass in 0..passes.len() {
        for row in &rows {
            for sdk in [Sdk::Node, Sdk::Python] {
                jobs.push((pass, row, sdk, false));
            }
        }
        // Inbound calls (SIPp calls the bridge) for a success, a refusal after 202 and a
        // refused REFER, one SDK each.
        for (label, sdk) in [
            ("completed", Sdk::Python),
            ("decline-603", Sdk::Node),
            ("refer-405", Sdk::Python),
        ] {
            let row = rows.iter().find(|row| row.label == label).unwrap();
            jobs.push((pass, row, sdk, true));
        }
    }
    let expected_metrics: Vec<_> = passes
        .iter()
        .map(|_| Mutex::new(BTreeMap::<&str, f64>::new()))
        .collect();
    let numbers: Vec<_> = passes
        .iter()
        .map(|_| Mutex::new(NUMBERS.to_vec()))
        .collect();
    let table = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    let queue = Mutex::new(jobs);
    // Three at a time: each runs SIPp, a room member and SDK processes.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let Some((index, row, sdk, inbound)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let pass = &passes[index];
                    let seen = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        if inbound {
                            let number = numbers[index].lock().unwrap().pop().unwrap();
                            run_inbound(pass, row, sdk, number)
                        } else {
                            run_outbound(pass, row, sdk)
                        }
                    }));
                    let seen = match seen {
                        Ok(seen) => seen,
                        Err(panic) => {
                            // The assertion names the row; this names the pass too.
                            let direction = if inbound { "inbound" } else { "outbound" };
                            failures.lock().unwrap().push(format!(
                                "{} ({direction}, {sdk:?}) in the {} pass: {}",
                                row.label,
                                pass.name(),
                                panic_message(panic.as_ref())
                            ));
                            continue;
                        }
                    };
                    let mut metrics = expected_metrics[index].lock().unwrap();
                    *metrics.entry(row.metric).or_default() += 1.0;
                    if row.meanwhile == Meanwhile::SecondTransfer {
                        *metrics.entry("in_progress").or_default() += 1.0;
                    }
                    table.lock().unwrap().push(seen);
                }
            });
        }
    });

    let mut table = table.into_inner().unwrap();
    table.sort_by_key(|seen| {
        (
            seen.pass,
            seen.label.clone(),
            seen.direction,
            format!("{:?}", seen.sdk),
        )
    });
    println!(
        "\n| pass | scenario | call | SDK | API answer | final NOTIFY after REFER | API returned after | room departure |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for seen in &table {
        let final_after = seen
            .final_after
            .map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()));
        println!(
            "| {} | {} | {} | {:?} | {} | {} | {} ms | {} |",
            seen.pass,
            seen.label,
            seen.direction,
            seen.sdk,
            seen.api,
            final_after,
            seen.api_wait.as_millis(),
            seen.departure
        );
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} transfers of {} failed:\n{}",
        failures.len(),
        failures.len() + table.len(),
        failures.join("\n")
    );
    for (pass, expected) in passes.iter().zip(expected_metrics) {
        for (outcome, expected) in expected.into_inner().unwrap() {
            assert_eq!(
                pass.bed().metric(&transfers(outcome)),
                expected,
                "{} {outcome}",
                pass.name()
            );
        }
    }
}

/// The bridge calls SIPp (through the Python SDK, waiting for the answer), then transfers.
fn run_outbound(pass: &Pass, row: &Row, sdk: Sdk) -> Seen {
    let own = pass.bed();
    let label = pass.label("", row, sdk);
    let in_flight = own
        .dir
        .join("sipp")
        .join(format!("{label}-{}.in-flight", std::process::id()));
    let _ = std::fs::remove_file(&in_flight);
    let scenario = carrier_scenario(row, &in_flight);
    let carrier = SippUas::start(own, &label, &scenario, 1, &[]);
    let room = format!("out-{label}");
    let identity = format!("callee-{label}");
    let mut member = RoomMember::join(own, &room, "observer", &["--commands"]);
    member.expect("joined", WAIT);
    let caller = ApiCaller::of(own);
    let create = json!({
        "trunk": { "hostname": carrier.addr(), "transport": "udp" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": room,
        "participant_identity": identity,
        "wait_until_answered": true,
        "request_timeout_s": 30,
    });
    let created = caller.create_sip_participant(Sdk::Python, &create, &[], WAIT);
    let info = created
        .ok
        .unwrap_or_else(|| panic!("{label}: the call failed: {:?}", created.error));
    let waiting = Waiting {
        member: &mut member,
        identity: &identity,
        in_flight: &in_flight,
    };
    let (reply, api_wait) = transfer(pass, row, sdk, &room, waiting);
    let api = check_reply(pass, &label, row, &reply);
    let departure = check_departure(&label, row, &mut member, &identity);
    let run = carrier.finish(Duration::from_secs(60));
    let _ = std::fs::remove_file(&in_flight);
    let final_after = check_carrier(&label, &run, api_wait);
    check_call_record(&label, row, &own.cdr_of(&run.call_id, WAIT));
    let call_id = info["sip_call_id"].as_str().unwrap();
    check_records(pass, &label, row, call_id, &reply);
    Seen {
        pass: pass.name(),
        label: row.label.to_owned(),
        direction: "outbound",
        sdk,
        api,
        final_after,
        api_wait,
        departure,
    }
}

/// SIPp calls the bridge; once the caller is in the room, the transfer.
fn run_inbound(pass: &Pass, row: &Row, sdk: Sdk, number: &str) -> Seen {
    let own = pass.bed();
    let label = pass.label("-in", row, sdk);
    let room = pass.inbound_room(number);
    let mut member = RoomMember::join(own, &room, "observer", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = spawn_uac(
        own,
        &label,
        &phone_calling(&row.script),
        number,
        &[],
        Duration::from_secs(60),
    );
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == INBOUND_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    assert_eq!(
        row.meanwhile,
        Meanwhile::Nothing,
        "{label}: only a carrier the bridge called says when it has the REFER"
    );
    let waiting = Waiting {
        member: &mut member,
        identity: INBOUND_IDENTITY,
        in_flight: Path::new(""),
    };
    let (reply, api_wait) = transfer(pass, row, sdk, &room, waiting);
    let api = check_reply(pass, &label, row, &reply);
    let departure = check_departure(&label, row, &mut member, INBOUND_IDENTITY);
    let run = phone.join().unwrap();
    let final_after = check_carrier(&label, &run, api_wait);
    let record = own.cdr_of(&run.call_id, WAIT);
    check_call_record(&label, row, &record);
    let call_id = record["callId"].as_str().unwrap().to_owned();
    check_records(pass, &label, row, &call_id, &reply);
    Seen {
        pass: pass.name(),
        label: row.label.to_owned(),
        direction: "inbound",
        sdk,
        api,
        final_after,
        api_wait,
        departure,
    }
}

/// Who watches the transfer while it waits, and where the carrier says it has the REFER.
struct Waiting<'a> {
    member: &'a mut RoomMember,
    identity: &'a str,
    in_flight: &'a Path,
}

/// TransferSIPParticipant through `sdk` of the participant `waiting.identity` in `room`,
/// with what the row has happen meanwhile. Returns the reply and how long it took.
fn transfer(
    pass: &Pass,
    row: &Row,
    sdk: Sdk,
    room: &str,
    waiting: Waiting,
) -> (ApiReply, Duration) {
    let caller = ApiCaller::of(pass.bed());
    let request = json!({
        "room_name": room,
        "participant_identity": waiting.identity,
        "transfer_to": pass.transfer_to(),
        "play_dialtone": true,
        "headers": { "X-Transfer-Case": row.label },
        "ringing_timeout_s": row.ringing_timeout_s,
        "request_timeout_s": 40,
    });
    std::thread::scope(|scope| {
        let first = scope.spawn(|| caller.transfer_sip_participant(sdk, &request, WAIT));
        match row.meanwhile {
            Meanwhile::Nothing => {}
            Meanwhile::SecondTransfer => second_transfer_is_refused(&caller, sdk, &request),
            Meanwhile::RoomRemovesTheCaller => {
                wait_for_file(waiting.in_flight);
                let remove = json!({"cmd": "remove", "identity": waiting.identity});
                waiting.member.command(remove);
            }
        }
        let reply = first.join().unwrap();
        let elapsed = reply.elapsed;
        (reply, elapsed)
    })
}

/// A second transfer while the first waits is refused 491 at once.
fn second_transfer_is_refused(caller: &ApiCaller, sdk: Sdk, request: &Value) {
    // The first REFER is out and its NOTIFY 100 in well within this.
    std::thread::sleep(Duration::from_millis(1500));
    let second = caller.transfer_sip_participant(sdk, request, WAIT);
    let error = second.error.expect("the second transfer is refused");
    assert_eq!(
        (
            error.code.as_str(),
            error.sip_status_code,
            error.sip_status.as_str()
        ),
        ("failed_precondition", Some(491), "Transfer in progress"),
        "{error:?}"
    );
    assert!(
        second.elapsed < Duration::from_secs(1),
        "the second transfer was refused only after {:?}",
        second.elapsed
    );
}

/// The carrier as the row has it; for [`Meanwhile::RoomRemovesTheCaller`], one that
/// creates `in_flight` once it has answered the REFER and its NOTIFY 100 was taken, then
/// waits for the bridge's BYE.
fn carrier_scenario(row: &Row, in_flight: &Path) -> String {
    if row.meanwhile != Meanwhile::RoomRemovesTheCaller {
        return carrier_answering(&row.script);
    }
    let say_so = format!(
        "  <nop>\n    <action>\n      <exec command=\"touch {}\"/>\n    </action>\n  </nop>\n",
        in_flight.display()
    );
    answer(&format!(
        "{}{say_so}{BRIDGE_HANGS_UP}",
        for_outbound(&row.script)
    ))
}

/// Waits until the carrier has created `path`.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "the carrier never had the REFER in hand ({} missing)",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a row's failed assertion said, for the list of failures.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Checks the SDK's answer against the row; returns it as the table shows it.
fn check_reply(pass: &Pass, label: &str, row: &Row, reply: &ApiReply) -> String {
    // Python returns the response; Node's SDK resolves with nothing. Through livekit-server
    // the response is `google.protobuf.Empty`, which Python reads as a response with
    // nothing set: only the success itself came back (the records say how it ended).
    let response = reply
        .ok
        .as_ref()
        .filter(|ok| ok.get("reason").is_some() && !pass.clustered());
    match &row.expect {
        Expect::Completed(..) | Expect::CallEnded if reply.error.is_some() => {
            panic!("{label}: expected success, got {:?}", reply.error)
        }
        Expect::Completed(..) | Expect::CallEnded if pass.clustered() => {
            "ok (no body through livekit-server)".to_owned()
        }
        Expect::Completed(code, phrase) => {
            if let Some(ok) = response {
                assert_eq!(ok["reason"], "STR_COMPLETED", "{label}: {ok}");
                assert_eq!(ok["status"], "STS_TRANSFER_SUCCESSFUL", "{label}: {ok}");
                assert_eq!(ok["sip_status"]["code"], *code, "{label}: {ok}");
                assert_eq!(ok["sip_status"]["status"], *phrase, "{label}: {ok}");
                assert!(ok["transfer_id"].as_str().unwrap().starts_with("STF_"));
            }
            format!("ok COMPLETED {code} {phrase}")
        }
        Expect::CallEnded => {
            if let Some(ok) = response {
                assert_eq!(ok["reason"], "STR_CALL_ENDED", "{label}: {ok}");
                assert_eq!(ok["sip_status"], Value::Null, "{label}: {ok}");
            }
            "ok CALL_ENDED".to_owned()
        }
        Expect::Failed {
            twirp,
            code,
            phrase,
            reason,
        } => {
            let error = reply
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("{label}: expected {code}, got {:?}", reply.ok));
            assert_eq!(error.class, "SipCallError", "{label}: {error:?}");
            assert_eq!(error.code, *twirp, "{label}: {error:?}");
            assert_eq!(error.sip_status_code, Some(*code), "{label}: {error:?}");
            assert_eq!(error.sip_status, *phrase, "{label}: {error:?}");
            // livekit-server's meta has the SIP status only (see Pass::Cluster).
            if !pass.clustered() {
                assert_eq!(
                    error.meta["sip_transfer_reason"], *reason,
                    "{label}: {error:?}"
                );
            }
            format!("{} {} {}", error.class, code, error.code)
        }
    }
}

/// The participant leaves as the row says the call ends; returns what the member saw.
fn check_departure(label: &str, row: &Row, member: &mut RoomMember, identity: &str) -> String {
    let left = member.expect_where("left", Duration::from_secs(60), |e| {
        e["identity"] == identity
    });
    let attributes = &left["attributes"];
    let (reason, code, phrase) = row.call_end;
    if row.meanwhile == Meanwhile::RoomRemovesTheCaller {
        // Removed, the participant could not say why it left: the server says it.
        assert_eq!(left["reason"], reason, "{label}: {left}");
        return format!("{reason} (removed)");
    }
    assert_eq!(attributes["sip.callStatus"], "hangup", "{label}: {left}");
    assert_eq!(
        attributes["sip.disconnectReason"], reason,
        "{label}: {left}"
    );
    assert_eq!(
        attributes["sip.statusCode"],
        code.to_string(),
        "{label}: {left}"
    );
    assert_eq!(attributes["sip.statusReason"], phrase, "{label}: {left}");
    format!("{reason} {code} {phrase}")
}

/// The carrier's scenario passed, and the API answered only after the final NOTIFY left
/// the carrier. Returns the time from the REFER to that NOTIFY.
fn check_carrier(label: &str, run: &SippRun, api_wait: Duration) -> Option<Duration> {
    assert!(
        run.passed,
        "{label}: the carrier's scenario failed\n{}",
        run.trace
    );
    let times = transfer_times(run).unwrap_or_else(|| panic!("{label}: no REFER reached SIPp"));
    let final_sent = times.final_notify_sent?;
    let final_after = final_sent.duration_since(times.refer_received).unwrap();
    // The SDK call started before the REFER was sent, so it cannot be shorter than this
    // if it waited for the final NOTIFY.
    assert!(
        api_wait >= final_after,
        "{label}: the API answered after {api_wait:?}, before the final NOTIFY ({final_after:?} after the REFER)"
    );
    Some(final_after)
}

/// The call's own record ends as the row says.
fn check_call_record(label: &str, row: &Row, record: &Value) {
    let (reason, code, phrase) = row.call_end;
    assert_eq!(record["disconnectReason"], reason, "{label}: {record}");
    assert_eq!(record["callStatusCode"]["code"], code, "{label}: {record}");
    assert_eq!(
        record["callStatusCode"]["status"], phrase,
        "{label}: {record}"
    );
}

/// The transfer has one record of its own (two for the second-transfer row: the refused
/// one too).
fn check_records(pass: &Pass, label: &str, row: &Row, call_id: &str, reply: &ApiReply) {
    let own = pass.bed();
    let count = if row.meanwhile == Meanwhile::SecondTransfer {
        2
    } else {
        1
    };
    let records = own.transfer_records_of(call_id, count, WAIT);
    let (status, reason, code) = match &row.expect {
        Expect::Completed(code, _) => ("STS_TRANSFER_SUCCESSFUL", "STR_COMPLETED", Some(*code)),
        Expect::CallEnded => ("STS_TRANSFER_SUCCESSFUL", "STR_CALL_ENDED", None),
        Expect::Failed { code, reason, .. } => ("STS_TRANSFER_FAILED", *reason, Some(*code)),
    };
    let record = records
        .iter()
        .find(|r| r["transferStatusCode"]["code"] != 491)
        .unwrap();
    assert_eq!(record["transferStatus"], status, "{label}: {record}");
    assert_eq!(record["reason"], reason, "{label}: {record}");
    assert_eq!(
        record["transferTo"],
        pass.transfer_to(),
        "{label}: {record}"
    );
    match code {
        Some(code) => assert_eq!(
            record["transferStatusCode"]["code"], code,
            "{label}: {record}"
        ),
        None => assert!(
            record.get("transferStatusCode").is_none(),
            "{label}: {record}"
        ),
    }
    // The id the API caller got names this record; livekit-server gives it none (see
    // Pass::Cluster).
    let id_given = reply
        .error
        .as_ref()
        .map(|e| e.meta["sip_transfer_id"].clone())
        .or_else(|| {
            reply
                .ok
                .as_ref()
                .and_then(|ok| ok.get("transfer_id").cloned())
        })
        .filter(|_| !pass.clustered());
    if let Some(id) = id_given {
        assert_eq!(record["transferId"], id, "{label}: {record}");
    }
}

fn sdk_name(sdk: Sdk) -> &'static str {
    match sdk {
        Sdk::Node => "node",
        Sdk::Python => "python",
    }
}
