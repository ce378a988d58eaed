//! The answered call under random interleavings of the phone's requests, the room, the
//! media, `lk.sip.EndCall` and the clock: at most one end, whatever the order, and exactly
//! one once the bridge shuts down. Seeded, so a failure names the seed that reproduces it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::DisconnectReason;

use super::Answered;
use super::tests::{Phone, answered, notify, plan};
use crate::call::machine::{Action, CallMachine, EndsSeen, Failure, Input};

fn random_input(rng: &mut StdRng, phone: &mut Phone) -> Input {
    let mut request = |method: &str| {
        let (id, request) = phone.in_dialog(method, "", "");
        Input::Request { id, request }
    };
    match rng.random_range(0..10) {
        0 => request("BYE"),
        1 => request("OPTIONS"),
        2 => request("INFO"),
        3 => request("UPDATE"),
        4 => Input::RoomEnded(DisconnectReason::RoomDeleted),
        5 => Input::MediaTimeout,
        6 => Input::Key { code: 5, key: '5' },
        7 => Input::EndCall(vec![("X-Why".into(), "done".into())]),
        8 => Input::Subscribed,
        _ => Input::NoAck,
    }
}

#[test]
fn random_interleavings_end_at_most_once_and_exactly_once_after_shutdown() {
    let mut ended_before_shutdown = 0;
    for seed in 0..2000_u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let max = rng
            .random_bool(0.3)
            .then(|| Duration::from_secs(rng.random_range(1..60)));
        let (mut call, mut phone) = answered(t0, "", max);
        let (mut now, mut seen) = (t0, EndsSeen::default());
        seen.take(&mut call);
        for _ in 0..rng.random_range(0..30) {
            if rng.random_bool(0.3) {
                now += Duration::from_millis(rng.random_range(0..30_000));
                call.handle_timeout(now);
            } else {
                let input = random_input(&mut rng, &mut phone);
                call.handle_input(now, input);
            }
            seen.take(&mut call);
            assert!(seen.ends <= 1, "seed {seed}: {} ends", seen.ends);
        }
        ended_before_shutdown += seen.ends;
        call.handle_input(now, Input::Shutdown);
        seen.take(&mut call);
        assert_eq!(
            seen.ends, 1,
            "seed {seed}: {} ends after shutdown",
            seen.ends
        );
    }
    println!("2000 random answered calls: {ended_before_shutdown} ended before the shutdown");
    assert!(ended_before_shutdown > 100 && ended_before_shutdown < 2000);
}

/// One step of a random transfer: the API asks for one, or the phone answers the last REFER
/// or reports on it with a NOTIFY, or the REFER is never answered.
fn random_transfer_input(
    rng: &mut StdRng,
    phone: &mut Phone,
    last_refer: Option<&Request>,
    next_id: &mut usize,
) -> Input {
    let Some(refer) = last_refer.filter(|_| rng.random_bool(0.7)) else {
        *next_id += 1;
        let timeout = Duration::from_secs(rng.random_range(1..40));
        return Input::Transfer(plan(&format!("STF_{next_id}"), timeout));
    };
    match rng.random_range(0..6) {
        0 => Input::Response(Response::to(refer, 202, None)),
        1 => Input::Response(Response::to(refer, 403, Some("Forbidden"))),
        2 => Input::RequestFailed {
            method: Method::Refer,
            cseq: refer.head.cseq.seq,
            failure: Failure::NoResponse,
        },
        step => {
            let (state, sipfrag) = [
                ("active", "SIP/2.0 180 Ringing"),
                ("terminated", "SIP/2.0 200 OK"),
                ("terminated", "SIP/2.0 486 Busy Here"),
            ][step - 3];
            let (id, request) = notify(phone, refer, state, sipfrag);
            Input::Request { id, request }
        }
    }
}

/// What a random call's actions said so far.
#[derive(Default)]
struct Seen {
    call_ends: usize,
    last_refer: Option<Request>,
    transfers_ended: Vec<String>,
}

impl Seen {
    fn take_actions(&mut self, call: &mut Answered, labels: &mut BTreeMap<&'static str, usize>) {
        for action in std::iter::from_fn(|| call.poll_action()) {
            match action {
                Action::End { .. } => self.call_ends += 1,
                Action::Send(out) if out.request.method == Method::Refer => {
                    self.last_refer = Some(out.request);
                }
                Action::TransferEnded {
                    transfer_id, label, ..
                } => {
                    *labels.entry(label).or_default() += 1;
                    self.transfers_ended.push(transfer_id);
                }
                _ => {}
            }
        }
    }
}

/// Transfers asked for at random moments of random calls, their REFERs answered, reported
/// on, or never answered, among the other inputs and the clock: every transfer asked for
/// while the call is up ends exactly once (answered to the API, refused, or abandoned with
/// the call), and the call at most once, exactly once after the shutdown.
#[test]
fn random_transfers_each_end_exactly_once_and_the_call_at_most_once() {
    let mut labels = BTreeMap::<&'static str, usize>::new();
    for seed in 0..2000_u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let (mut call, mut phone) = answered(t0, "", None);
        let (mut now, mut next_id) = (t0, 0);
        let mut seen = Seen::default();
        // Transfers asked while the call was up; one asked after its end never reaches the
        // machine's answer (the call's transfer desk answers it as it closes).
        let mut asked: Vec<String> = Vec::new();
        for _ in 0..rng.random_range(1..40) {
            match rng.random_range(0..10) {
                0..=1 => {
                    now += Duration::from_millis(rng.random_range(0..20_000));
                    call.handle_timeout(now);
                }
                2..=3 => {
                    let input = random_input(&mut rng, &mut phone);
                    call.handle_input(now, input);
                }
                _ => {
                    let refer = seen.last_refer.as_ref();
                    let input = random_transfer_input(&mut rng, &mut phone, refer, &mut next_id);
                    if let Input::Transfer(plan) = &input
                        && seen.call_ends == 0
                    {
                        asked.push(plan.transfer_id.clone());
                    }
                    call.handle_input(now, input);
                }
            }
            seen.take_actions(&mut call, &mut labels);
            assert!(seen.call_ends <= 1, "seed {seed}: {} ends", seen.call_ends);
        }
        call.handle_input(now, Input::Shutdown);
        call.handle_timeout(now + Duration::from_secs(60));
        seen.take_actions(&mut call, &mut labels);
        assert_eq!(seen.call_ends, 1, "seed {seed}: ends after shutdown");
        seen.transfers_ended.sort();
        asked.sort();
        assert_eq!(
            seen.transfers_ended, asked,
            "seed {seed}: each transfer ends once"
        );
    }
    println!("transfers of 2000 random calls ended: {labels:?}");
    assert_eq!(
        labels.len(),
        7,
        "every way a transfer ends came up: {labels:?}"
    );
}
