//! What the soak places: each stream of calls, its pace, its far end and the outcome its calls
//! should end with (docs/OUTCOMES.md); and running them all for the soak's duration.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sipbridge_tests::Bed;
use sipbridge_tests::sipp::{PCMU_OFFER, PHONE_HANGS_UP, ROOM_HANGS_UP, keyed_pins, scenario};
use sipbridge_tests::sipp_transfer::{carrier_answering, completes, fails};
use sipbridge_tests::sipp_uas::{BRIDGE_HANGS_UP, SippUas, answer, carrier_hangs_up_after, reject};

use crate::api_driver::ApiDriver;
use crate::phones::{Pace, PhoneStream, looping, tone_file};
use crate::records::{Attempts, TransferAttempt};

/// How long the steady calls last.
const HOLD: Duration = Duration::from_secs(30);
/// Each of the two pair streams starts a pair every 2 s: 2 calls/s in all, ≈60 up.
const PAIR_EVERY: Duration = Duration::from_secs(2);
/// Each of the other outcomes, once per 15 s.
const MIX_EVERY: Duration = Duration::from_secs(15);
/// Bursts: the first after a minute, then every 3 minutes, 100 calls of 2 s at 20 calls/s.
const BURST_FIRST: Duration = Duration::from_secs(60);
const BURST_EVERY: Duration = Duration::from_secs(180);
const BURST: Pace = Pace {
    calls: 100,
    every: Duration::from_millis(50),
    hold: Duration::from_secs(2),
};
/// Where transfers go (the carrier's script answers for the target).
const TRANSFER_TO: &str = "sip:+15550999@127.0.0.1";

/// What the streams attempted, for [`crate::records::reconcile`].
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) attempts: Vec<Attempts>,
    pub(crate) transfers: Vec<TransferAttempt>,
    /// SIPp's verdicts on its scenarios: ran as written, or not.
    pub(crate) sipp_passed: u64,
    pub(crate) sipp_failed: u64,
}

/// A phone stream: a `tests/sipp/` scenario calling `number` (followed by SIPp's call number
/// where the stream needs a room per call).
struct Phones {
    name: &'static str,
    scenario: String,
    number: &'static str,
    pace: Pace,
    expected: (&'static str, u16),
}

/// An API stream: calls to `carrier`, into `room(k)` for its k-th call (k from 1, as SIPp
/// numbers its calls), maybe transferred, maybe ended by deleting the room.
struct Placed {
    name: &'static str,
    carrier: SippUas,
    room: fn(&str, u64) -> String,
    transfer: bool,
    delete_room: bool,
    calls: u64,
    every: Duration,
    expected: (&'static str, u16),
}

/// How many calls a stream placing one `every` places in `duration`.
fn count(duration: Duration, every: Duration) -> u64 {
    (duration.as_millis() / every.as_millis()).max(1) as u64
}

/// The phones' streams for `duration`, looping `tone` where calls last.
fn phone_streams(tone: &Path, duration: Duration) -> Vec<Phones> {
    let count = |every| count(duration, every);
    let steady = |every| Pace {
        calls: count(every),
        every,
        hold: HOLD,
    };
    let mixed = |hold| Pace {
        calls: count(MIX_EVERY),
        every: MIX_EVERY,
        hold,
    };
    // A room per call: the callee rule's room is `soak-` and the number dialled.
    let per_call = |name: &str| scenario(name, &[]).replace("[service]", "[service][call_number]");
    let call = |hangup: &str| per_call("uac_call").replace("HANGUP", hangup);
    let pin_caller = |hangup: &str| call(hangup).replace("+15557770001", "+15557770005");
    vec![
        Phones {
            name: "in-pair-phone-hangs-up",
            scenario: looping(&call(PHONE_HANGS_UP), tone),
            number: "+19991",
            pace: steady(PAIR_EVERY),
            expected: ("CLIENT_INITIATED", 200),
        },
        Phones {
            name: "in-pair-room-ends",
            scenario: looping(&call(ROOM_HANGS_UP), tone),
            number: "+19992",
            pace: steady(PAIR_EVERY),
            expected: ("ROOM_DELETED", 200),
        },
        Phones {
            name: "in-unknown-number",
            scenario: scenario(
                "uac_refused",
                &[("EXPECTED_CODE", "404"), ("OFFER_BODY", PCMU_OFFER)],
            ),
            number: "+15550409",
            pace: mixed(Duration::ZERO),
            expected: ("SIP_TRUNK_FAILURE", 404),
        },
        Phones {
            name: "in-cancelled-ringing",
            scenario: per_call("uac_cancel"),
            number: "+19993",
            pace: mixed(Duration::ZERO),
            expected: ("CLIENT_INITIATED", 487),
        },
        Phones {
            name: "in-pin-right",
            // The phone's BYE comes after the PIN's five INFOs (CSeq 2–6): a CSeq above them.
            scenario: looping(
                &pin_caller(&keyed_pins(
                    &["4321#"],
                    &PHONE_HANGS_UP.replace("CSeq: 2 BYE", "CSeq: 10 BYE"),
                )),
                tone,
            ),
            number: "+19995",
            pace: mixed(Duration::from_secs(8)),
            expected: ("CLIENT_INITIATED", 200),
        },
        Phones {
            name: "in-pin-wrong",
            scenario: looping(
                // The third wrong PIN is judged at its fourth key: the BYE comes then.
                &pin_caller(&keyed_pins(&["1111#", "2222#", "9999"], ROOM_HANGS_UP)),
                tone,
            ),
            number: "+19996",
            pace: mixed(Duration::ZERO),
            expected: ("USER_REJECTED", 403),
        },
    ]
}

/// The API's streams for `duration`, each with its carrier started (SIPp files in `dir`).
fn api_streams(dir: &Path, tone: &Path, duration: Duration) -> Vec<Placed> {
    let count = |every| count(duration, every);
    let carrier = |name: &str, text: String| SippUas::start_in(dir, name, &text, 1_000_000, &[]);
    let own_room = |name: &str, k: u64| format!("soak-{name}-{k}");
    vec![
        Placed {
            name: "out-pair-carrier-hangs-up",
            carrier: carrier(
                "soak-pair-bye",
                looping(
                    &answer(&carrier_hangs_up_after(HOLD.as_millis() as u64)),
                    tone,
                ),
            ),
            room: |_, k| format!("soak-+19991{k}"),
            transfer: false,
            delete_room: false,
            calls: count(PAIR_EVERY),
            every: PAIR_EVERY,
            expected: ("CLIENT_INITIATED", 200),
        },
        Placed {
            name: "out-pair-room-ends",
            carrier: carrier("soak-pair-room", looping(&answer(BRIDGE_HANGS_UP), tone)),
            room: |_, k| format!("soak-+19992{k}"),
            transfer: false,
            delete_room: true,
            calls: count(PAIR_EVERY),
            every: PAIR_EVERY,
            expected: ("ROOM_DELETED", 200),
        },
        Placed {
            name: "out-busy",
            carrier: carrier("soak-busy", reject(486, "Busy Here")),
            room: own_room,
            transfer: false,
            delete_room: false,
            calls: count(MIX_EVERY),
            every: MIX_EVERY,
            expected: ("USER_REJECTED", 486),
        },
        Placed {
            name: "out-transfer-completed",
            carrier: carrier("soak-xfer-ok", carrier_answering(&completes(500))),
            room: own_room,
            transfer: true,
            delete_room: false,
            calls: count(MIX_EVERY),
            every: MIX_EVERY,
            expected: ("CLIENT_INITIATED", 200),
        },
        Placed {
            name: "out-transfer-refused",
            carrier: carrier(
                "soak-xfer-refused",
                carrier_answering(&fails(486, "Busy Here", 500)),
            ),
            room: own_room,
            transfer: true,
            delete_room: false,
            calls: count(MIX_EVERY),
            every: MIX_EVERY,
            expected: ("CLIENT_INITIATED", 200),
        },
    ]
}

/// Runs every stream for `duration`, waits for all their calls to end, and says what was
/// attempted.
pub(crate) fn run(bridge: &Bed, dir: &Path, duration: Duration) -> Run {
    let tone = tone_file(dir);
    let phones = phone_streams(&tone, duration);
    let placed = api_streams(dir, &tone, duration);
    let api = ApiDriver::start(bridge, dir);
    let started = Instant::now();
    let limit = duration + Duration::from_secs(180);
    std::thread::scope(|scope| {
        let phone_runs: Vec<_> = phones
            .iter()
            .map(|stream| {
                let running = PhoneStream::start(
                    dir,
                    &bridge.sip_addr,
                    stream.name,
                    &stream.scenario,
                    stream.number,
                    stream.pace,
                );
                scope.spawn(move || running.finish(limit))
            })
            .collect();
        let bursts = scope.spawn(|| bursts(bridge, dir, duration, limit));
        let placers: Vec<_> = placed
            .iter()
            .map(|stream| scope.spawn(|| place(&api, stream, started)))
            .collect();
        let placed_ids: Vec<Vec<String>> = placers.into_iter().map(|p| p.join().unwrap()).collect();
        let mut attempts = Vec::new();
        let (mut sipp_passed, mut sipp_failed) = (0, 0);
        for (stream, run) in phones.iter().zip(phone_runs) {
            let run = run.join().unwrap();
            sipp_passed += run.successful;
            sipp_failed += run.failed;
            attempts.push(Attempts {
                stream: stream.name.to_owned(),
                by_identity: false,
                ids: run.attempted,
                expected: stream.expected,
                setup_timed: stream.name.starts_with("in-pair"),
            });
        }
        let (burst_ids, burst_passed, burst_failed) = bursts.join().unwrap();
        sipp_passed += burst_passed;
        sipp_failed += burst_failed;
        attempts.push(Attempts {
            stream: "in-burst".to_owned(),
            by_identity: false,
            ids: burst_ids,
            expected: ("CLIENT_INITIATED", 200),
            setup_timed: true,
        });
        let answers = api_answers(api.finish(Duration::from_secs(180)));
        let mut transfers = Vec::new();
        for (stream, ids) in placed.iter().zip(placed_ids) {
            for id in &ids {
                if answers.get(id).is_some_and(|a| !a["transfer"].is_null()) {
                    transfers.push(TransferAttempt {
                        stream: stream.name.to_owned(),
                        identity: id.clone(),
                        expected: if stream.name.ends_with("completed") {
                            "STR_COMPLETED 200"
                        } else {
                            "STR_REJECTED 486"
                        },
                    });
                }
            }
            attempts.push(Attempts {
                stream: stream.name.to_owned(),
                by_identity: true,
                ids,
                expected: stream.expected,
                setup_timed: stream.name == "out-pair-carrier-hangs-up",
            });
        }
        Run {
            attempts,
            transfers,
            sipp_passed,
            sipp_failed,
        }
    })
}

/// Places `stream`'s calls on its pace from `started`; returns their participant identities.
fn place(api: &ApiDriver, stream: &Placed, started: Instant) -> Vec<String> {
    let mut ids = Vec::new();
    for k in 1..=stream.calls {
        let at = started + stream.every * u32::try_from(k - 1).unwrap();
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let identity = format!("{}-{k}", stream.name);
        let room = (stream.room)(stream.name, k);
        let mut job = json!({
            "id": identity,
            "create": {
                "sip_call_to": "+15550123",
                "sip_number": "+15550100",
                "room_name": room,
                "participant_identity": identity,
                "wait_until_answered": true,
                "trunk": {"hostname": stream.carrier.addr(), "transport": "udp"},
            },
        });
        if stream.transfer {
            job["transfer"] = json!({
                "room_name": room, "participant_identity": identity, "transfer_to": TRANSFER_TO,
            });
        }
        if stream.delete_room {
            job["delete_room_after_ms"] = json!(HOLD.as_millis() as u64);
        }
        api.submit(&job);
        ids.push(identity);
    }
    ids
}

/// The bursts of the run, one SIPp each; their Call-IDs and SIPp's passed and failed counts.
fn bursts(
    bridge: &Bed,
    dir: &Path,
    duration: Duration,
    limit: Duration,
) -> (Vec<String>, u64, u64) {
    let started = Instant::now();
    let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)])
        .replace("[service]", "[service][call_number]");
    let length = BURST.every * u32::try_from(BURST.calls).unwrap();
    let (mut ids, mut passed, mut failed) = (Vec::new(), 0, 0);
    let mut at = BURST_FIRST;
    let mut index = 0;
    while at + length <= duration {
        std::thread::sleep((started + at).saturating_duration_since(Instant::now()));
        index += 1;
        let name = format!("in-burst-{index}");
        let stream = PhoneStream::start(dir, &bridge.sip_addr, &name, &text, "+19994", BURST);
        let run = stream.finish(limit);
        ids.extend(run.attempted);
        passed += run.successful;
        failed += run.failed;
        at += BURST_EVERY;
    }
    (ids, passed, failed)
}

/// The API's answers by job id.
fn api_answers(answers: Vec<Value>) -> std::collections::HashMap<String, Value> {
    answers
        .into_iter()
        .filter_map(|a| Some((a["id"].as_str()?.to_owned(), a)))
        .collect()
}
