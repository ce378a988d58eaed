//! The answered call under random interleavings of the phone's requests, the room, the
//! media, `lk.sip.EndCall` and the clock: at most one end, whatever the order, and exactly
//! one once the bridge shuts down. Seeded, so a failure names the seed that reproduces it.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sipbridge_signaling::outcome::DisconnectReason;

use super::Answered;
use super::tests::{Phone, answered};
use crate::call::machine::{Action, CallMachine, Input};

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

fn count_ends(call: &mut Answered) -> usize {
    std::iter::from_fn(|| call.poll_action())
        .filter(|action| matches!(action, Action::End { .. }))
        .count()
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
        let mut now = t0;
        let mut ends = count_ends(&mut call);
        for _ in 0..rng.random_range(0..30) {
            if rng.random_bool(0.3) {
                now += Duration::from_millis(rng.random_range(0..30_000));
                call.handle_timeout(now);
            } else {
                let input = random_input(&mut rng, &mut phone);
                call.handle_input(now, input);
            }
            ends += count_ends(&mut call);
            assert!(ends <= 1, "seed {seed}: {ends} ends");
        }
        ended_before_shutdown += ends;
        call.handle_input(now, Input::Shutdown);
        ends += count_ends(&mut call);
        assert_eq!(ends, 1, "seed {seed}: {ends} ends after shutdown");
    }
    println!("2000 random answered calls: {ended_before_shutdown} ended before the shutdown");
    assert!(ended_before_shutdown > 100 && ended_before_shutdown < 2000);
}
