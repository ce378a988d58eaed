//! Placing a call under random interleavings of the far end's responses (in any order, twice,
//! late), the room, the media, the API caller leaving, transport failures and the clock: the
//! call either becomes ready for its answered life or ends — never both, never twice — and
//! after a shutdown one of the two has happened. Seeded, so a failure names its seed.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sipbridge_signaling::message::{Method, Request};
use sipbridge_signaling::outcome::DisconnectReason;

use super::Placing;
use super::tests::{PCMU_ANSWER, WAITING, placed, reply};
use crate::call::machine::{CallMachine, EndsSeen, Failure, Input};

fn random_input(rng: &mut StdRng, invite: &Request) -> Input {
    match rng.random_range(0..14) {
        0 => reply(invite, 100, None, false),
        1 => reply(invite, 180, None, true),
        2 => reply(invite, 183, Some(PCMU_ANSWER), true),
        3 => reply(invite, 200, Some(PCMU_ANSWER), true),
        4 => reply(invite, 200, Some(PCMU_ANSWER), false),
        5 => reply(invite, 486, None, false),
        6 => reply(invite, 487, None, false),
        7 => reply(invite, 503, None, false),
        8 => Input::ApiGone,
        9 => Input::RoomEnded(DisconnectReason::RoomDeleted),
        10 => Input::MediaStarted,
        11 => Input::MediaFailed("no codec".into()),
        12 => Input::RequestFailed {
            method: Method::Invite,
            cseq: invite.head.cseq.seq,
            failure: Failure::NoResponse,
        },
        _ => Input::RequestFailed {
            method: Method::Invite,
            cseq: invite.head.cseq.seq,
            failure: Failure::Transport("connection refused".into()),
        },
    }
}

/// Every timer the call still sets (the ringing timeout, the CANCEL's grace, the
/// transaction's life), as the driver would fire them; returns the time after the last.
fn fire_timers(call: &mut Placing, mut now: Instant) -> Instant {
    for _ in 0..100 {
        let Some(at) = call.poll_timeout() else { break };
        now = now.max(at);
        call.handle_timeout(now);
    }
    now
}

#[test]
fn random_interleavings_end_or_become_ready_exactly_once() {
    let (mut ended, mut ready) = (0, 0);
    for seed in 0..2000_u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let (mut call, invite, _) = placed(t0, &WAITING);
        let (mut now, mut seen) = (t0, EndsSeen::default());
        for _ in 0..rng.random_range(0..25) {
            if rng.random_bool(0.25) {
                now += Duration::from_millis(rng.random_range(0..15_000));
                call.handle_timeout(now);
            } else {
                let input = random_input(&mut rng, &invite);
                call.handle_input(now, input);
            }
            seen.take(&mut call);
            let (ends, readies) = (seen.ends, seen.hand_overs);
            assert!(
                ends + readies <= 1,
                "seed {seed}: {ends} ends, {readies} readies"
            );
        }
        call.handle_input(now, Input::Shutdown);
        now = fire_timers(&mut call, now);
        // The INVITE transaction always ends, if nothing else by Timer B (the endpoint's).
        let timer_b = Input::RequestFailed {
            method: Method::Invite,
            cseq: invite.head.cseq.seq,
            failure: Failure::NoResponse,
        };
        call.handle_input(now, timer_b);
        fire_timers(&mut call, now);
        seen.take(&mut call);
        let (ends, readies) = (seen.ends, seen.hand_overs);
        assert_eq!(
            ends + readies,
            1,
            "seed {seed}: {ends} ends, {readies} readies"
        );
        assert!(call.is_done(), "seed {seed}: still busy after the shutdown");
        ended += ends;
        ready += readies;
    }
    println!("2000 random placed calls: {ended} ended, {ready} ready for their answered life");
    assert!(ended > 100 && ready > 20, "both ways came up");
}
