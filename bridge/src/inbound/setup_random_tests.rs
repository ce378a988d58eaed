//! The inbound set-up under random interleavings: whatever the phone, the room, the media
//! and the clock say, in whatever order, the machine gives at most one end, and once told to
//! shut down it always comes to a stop — ready for the answered call, or exactly one end.
//! Seeded, so a failure names the seed that reproduces it.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sipbridge_signaling::outcome::DisconnectReason;
use sipbridge_signaling::transaction::ServerTxId;

use super::tests::{OFFER, in_dialog, invite, setup_with};
use crate::call::machine::{CallMachine, EndsSeen, Input};
use crate::inbound::pin::PinCheck;

/// One input of the set-up's world, picked at random.
fn random_input(rng: &mut StdRng, cseq: &mut u32) -> Input {
    let request = |method: &str, cseq: &mut u32| {
        *cseq += 1;
        Input::Request {
            id: ServerTxId::from_raw(u64::from(*cseq)),
            request: in_dialog(method, *cseq, "", ""),
        }
    };
    match rng.random_range(0..16) {
        0 => Input::MediaStarted,
        1 => Input::MediaFailed("no codec".into()),
        2 => Input::RoomJoined,
        3 => Input::RoomJoinFailed("refused".into()),
        4 => Input::Cancelled,
        5 => Input::Subscribed,
        6 => Input::RoomEnded(DisconnectReason::ParticipantRemoved),
        7 => Input::Key { code: 1, key: '1' },
        8 => Input::MediaTimeout,
        9 => Input::Ack(in_dialog(
            "ACK",
            1,
            "Content-Type: application/sdp\n",
            OFFER,
        )),
        10 => Input::NoAck,
        11 => Input::EndCall(Vec::new()),
        12 => Input::PinChecked(Ok(rng.random_bool(0.5))),
        13 => request("BYE", cseq),
        14 => request("OPTIONS", cseq),
        _ => request("INFO", cseq),
    }
}

#[test]
fn random_interleavings_end_at_most_once_and_always_stop_after_shutdown() {
    let (mut handed_over, mut ended) = (0, 0);
    for seed in 0..2000_u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let body = if rng.random_bool(0.8) { OFFER } else { "" };
        let pin = rng.random_bool(0.3).then(|| PinCheck::Local("12".into()));
        let mut call = setup_with(invite(body, true), pin, t0, |params| {
            if rng.random_bool(0.5) {
                params.listener_timeout = Some(Duration::from_secs(rng.random_range(1..30)));
            }
            params.early_media = rng.random_bool(0.5);
        });
        let (mut seen, mut cseq) = (EndsSeen::default(), 1);
        let mut now = t0;
        seen.take(&mut call);
        for _ in 0..rng.random_range(0..40) {
            if rng.random_bool(0.2) {
                now += Duration::from_millis(rng.random_range(0..20_000));
                call.handle_timeout(now);
            } else {
                let input = random_input(&mut rng, &mut cseq);
                call.handle_input(now, input);
            }
            seen.take(&mut call);
            let (ends, ready) = (seen.ends, seen.hand_overs > 0);
            assert!(ends <= 1, "seed {seed}: {ends} ends");
            assert!(!(ready && ends > 0), "seed {seed}: handed over and ended");
        }
        call.handle_input(now, Input::Shutdown);
        seen.take(&mut call);
        let (ends, ready) = (seen.ends, seen.hand_overs > 0);
        assert!(ends <= 1, "seed {seed}: {ends} ends");
        assert!(
            ready || ends == 1,
            "seed {seed}: neither handed over nor ended after shutdown"
        );
        assert!(call.is_done(), "seed {seed}: still busy after its end");
        if ready {
            handed_over += 1;
        } else {
            ended += 1;
        }
    }
    println!("2000 random set-ups: {handed_over} handed over to the answered call, {ended} ended");
    // Both ways out are taken, or the inputs would not be exercising the machine.
    assert!(handed_over > 20 && ended > 100, "{handed_over} / {ended}");
}
