//! `sdp::parse` on an offer, answered by a `LocalSession`: every answer we produce must
//! parse and be accepted back by the offerer's side of the same negotiation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::sdp::{CodecPreferences, LocalSession, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = parse(data) else {
        return;
    };
    let address = "192.0.2.10:20000".parse().expect("literal address");
    let mut session = LocalSession::new(1, address, CodecPreferences::default());
    if let Ok((answer, negotiated)) = session.answer(&offer) {
        let parsed = parse(answer.as_bytes()).expect("our answer must parse");
        assert!(!parsed.media.is_empty());
        assert!((10..=60).contains(&negotiated.ptime_ms));
    }
});
