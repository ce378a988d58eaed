//! Every row of the transfer table of docs/OUTCOMES.md, end to end. The bridge is in an
//! answered call with SIPp playing the carrier (an outbound call placed through the API, or
//! an inbound call SIPp made); the official Node and Python SDKs call TransferSIPParticipant;
//! the carrier takes the REFER as the row says and sends its NOTIFYs. Each row checks the
//! SDK's answer (the sipfrag's status as `SipCallError.sipStatusCode`, or the response), that
//! the answer came only after the final NOTIFY (the wait is printed), how the call ended as
//! the Python room member and the call record see it, the transfer's own record, and
//! `transfers_total`.
//!
//! The calls go through a bridge of the test's own: a media timeout longer than the
//! carrier's 7 s of RTP, and metrics nobody else counts in.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, ApiReply, Sdk};
use sipbridge_tests::observe::transfers;
use sipbridge_tests::sipp::{self, SippRun, spawn_uac};
use sipbridge_tests::sipp_transfer::{
    TransferScript, bye_before_final, carrier_answering, completes, fails, no_final, phone_calling,
    refer_refused, terminated_without_final, transfer_times, two_transfers,
};
use sipbridge_tests::sipp_uas::SippUas;
use sipbridge_tests::{Bed, OwnBridge, RoomMember};

/// Inbound calls to +1555016x go to room `xfer-in-+1555016x`, as `sip_+15557770001` (the
/// number uac_call.xml calls from).
const OWN_BRIDGE: &str = "
rtp: { media_timeout: 60s, media_timeout_initial: 60s }
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
    /// A second transfer is asked for while this one is in flight.
    second: bool,
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
        second: false,
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
            second: false,
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
            second: false,
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
            second: true,
        },
    ]
}

/// One transfer as the test saw it, for the printed table.
struct Seen {
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

#[test]
fn every_transfer_outcome_reaches_the_api_the_room_the_record_and_the_metrics() {
    let test = "every_transfer_outcome_reaches_the_api_the_room_the_record_and_the_metrics";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let bridge = OwnBridge::start(&bed, "transfers", OWN_BRIDGE);
    let own = bridge.bed.clone();
    let rows = rows();
    let mut jobs: Vec<(&Row, Sdk, bool)> = Vec::new();
    for row in &rows {
        for sdk in [Sdk::Node, Sdk::Python] {
            jobs.push((row, sdk, false));
        }
    }
    // Inbound calls (SIPp calls the bridge) for a success, a refusal after 202 and a refused
    // REFER, one SDK each.
    for (label, sdk) in [
        ("completed", Sdk::Python),
        ("decline-603", Sdk::Node),
        ("refer-405", Sdk::Python),
    ] {
        let row = rows.iter().find(|row| row.label == label).unwrap();
        jobs.push((row, sdk, true));
    }
    let expected_metrics = Mutex::new(BTreeMap::<&str, f64>::new());
    let table = Mutex::new(Vec::new());
    let numbers = Mutex::new(vec!["+15550161", "+15550162", "+15550163", "+15550164"]);
    let queue = Mutex::new(jobs);
    // Three at a time: each runs SIPp, a room member and SDK processes.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some((row, sdk, inbound)) = queue.lock().unwrap().pop() {
                    let seen = if inbound {
                        let number = numbers.lock().unwrap().pop().unwrap();
                        run_inbound(&own, row, sdk, number)
                    } else {
                        run_outbound(&own, row, sdk)
                    };
                    let mut metrics = expected_metrics.lock().unwrap();
                    *metrics.entry(row.metric).or_default() += 1.0;
                    if row.second {
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
            seen.label.clone(),
            seen.direction,
            format!("{:?}", seen.sdk),
        )
    });
    println!(
        "\n| scenario | call | SDK | API answer | final NOTIFY after REFER | API returned after | room departure |"
    );
    println!("|---|---|---|---|---|---|---|");
    for seen in &table {
        let final_after = seen
            .final_after
            .map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()));
        println!(
            "| {} | {} | {:?} | {} | {} | {} ms | {} |",
            seen.label,
            seen.direction,
            seen.sdk,
            seen.api,
            final_after,
            seen.api_wait.as_millis(),
            seen.departure
        );
    }
    for (outcome, expected) in expected_metrics.into_inner().unwrap() {
        assert_eq!(own.metric(&transfers(outcome)), expected, "{outcome}");
    }
}

/// The bridge calls SIPp (through the Python SDK, waiting for the answer), then transfers.
fn run_outbound(own: &Bed, row: &Row, sdk: Sdk) -> Seen {
    let label = format!("xfer-{}-{}", row.label, sdk_name(sdk));
    let carrier = SippUas::start(own, &label, &carrier_answering(&row.script), 1, &[]);
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
    let (reply, api_wait) = transfer(&caller, row, sdk, &room, &identity);
    let api = check_reply(&label, row, &reply);
    let departure = check_departure(&label, row, &mut member, &identity);
    let run = carrier.finish(Duration::from_secs(60));
    let final_after = check_carrier(&label, &run, api_wait);
    let call_id = info["sip_call_id"].as_str().unwrap();
    check_records(own, &label, row, call_id, &reply);
    Seen {
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
fn run_inbound(own: &Bed, row: &Row, sdk: Sdk, number: &str) -> Seen {
    let label = format!("xfer-in-{}-{}", row.label, sdk_name(sdk));
    let room = format!("xfer-in-{number}");
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
    let caller = ApiCaller::of(own);
    let (reply, api_wait) = transfer(&caller, row, sdk, &room, INBOUND_IDENTITY);
    let api = check_reply(&label, row, &reply);
    let departure = check_departure(&label, row, &mut member, INBOUND_IDENTITY);
    let run = phone.join().unwrap();
    let final_after = check_carrier(&label, &run, api_wait);
    let record = own.cdr_of(&run.call_id, WAIT);
    let call_id = record["callId"].as_str().unwrap().to_owned();
    check_records(own, &label, row, &call_id, &reply);
    Seen {
        label: row.label.to_owned(),
        direction: "inbound",
        sdk,
        api,
        final_after,
        api_wait,
        departure,
    }
}

/// TransferSIPParticipant through `sdk` (and, for the second-transfer row, a second one
/// while the first waits, which must be refused 491 at once). Returns the first's reply and
/// how long it took.
fn transfer(
    caller: &ApiCaller,
    row: &Row,
    sdk: Sdk,
    room: &str,
    identity: &str,
) -> (ApiReply, Duration) {
    let request = json!({
        "room_name": room,
        "participant_identity": identity,
        "transfer_to": "+1 555 0999",
        "play_dialtone": true,
        "headers": { "X-Transfer-Case": row.label },
        "ringing_timeout_s": row.ringing_timeout_s,
        "request_timeout_s": 40,
    });
    std::thread::scope(|scope| {
        let first = scope.spawn(|| caller.transfer_sip_participant(sdk, &request, WAIT));
        if row.second {
            // The first REFER is out and its NOTIFY 100 in well within this.
            std::thread::sleep(Duration::from_millis(1500));
            let second = caller.transfer_sip_participant(sdk, &request, WAIT);
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
        let reply = first.join().unwrap();
        let elapsed = reply.elapsed;
        (reply, elapsed)
    })
}

/// Checks the SDK's answer against the row; returns it as the table shows it.
fn check_reply(label: &str, row: &Row, reply: &ApiReply) -> String {
    match &row.expect {
        Expect::Completed(..) | Expect::CallEnded if reply.error.is_some() => {
            panic!("{label}: expected success, got {:?}", reply.error)
        }
        Expect::Completed(code, phrase) => {
            let ok = reply.ok.as_ref().unwrap();
            // Python returns the response; Node's SDK resolves with nothing.
            if let Some(reason) = ok.get("reason") {
                assert_eq!(reason, "STR_COMPLETED", "{label}: {ok}");
                assert_eq!(ok["status"], "STS_TRANSFER_SUCCESSFUL", "{label}: {ok}");
                assert_eq!(ok["sip_status"]["code"], *code, "{label}: {ok}");
                assert_eq!(ok["sip_status"]["status"], *phrase, "{label}: {ok}");
                assert!(ok["transfer_id"].as_str().unwrap().starts_with("STF_"));
            }
            format!("ok COMPLETED {code} {phrase}")
        }
        Expect::CallEnded => {
            let ok = reply.ok.as_ref().unwrap();
            if let Some(reason) = ok.get("reason") {
                assert_eq!(reason, "STR_CALL_ENDED", "{label}: {ok}");
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
            assert_eq!(
                error.meta["sip_transfer_reason"], *reason,
                "{label}: {error:?}"
            );
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

/// The call's record ends as the row says, and the transfer has one record of its own (two
/// for the second-transfer row: the refused one too).
fn check_records(own: &Bed, label: &str, row: &Row, call_id: &str, reply: &ApiReply) {
    let count = if row.second { 2 } else { 1 };
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
    assert_eq!(record["transferTo"], "+1 555 0999", "{label}: {record}");
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
    if let Some(id) = reply
        .error
        .as_ref()
        .map(|e| e.meta["sip_transfer_id"].clone())
        .or_else(|| {
            reply
                .ok
                .as_ref()
                .and_then(|ok| ok.get("transfer_id").cloned())
        })
    {
        assert_eq!(record["transferId"], id, "{label}: {record}");
    }
}

fn sdk_name(sdk: Sdk) -> &'static str {
    match sdk {
        Sdk::Node => "node",
        Sdk::Python => "python",
    }
}
