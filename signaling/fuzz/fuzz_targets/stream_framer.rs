//! The TCP stream framer fed the input in chunks whose sizes come from the input itself,
//! each framed message parsed; the framer must never yield more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::message::{Framed, Limits, StreamFramer, parse_message};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_seed, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk_seed % 64) + 1;
    let limits = Limits::default();
    let mut framer = StreamFramer::new(limits);
    let mut framed_bytes = 0;
    for piece in stream.chunks(chunk) {
        framer.push(piece);
        loop {
            match framer.next_frame() {
                Ok(Some(Framed::Message(message))) => {
                    framed_bytes += message.len();
                    let _ = parse_message(&message, &limits);
                }
                Ok(Some(Framed::Ping)) => framed_bytes += 4,
                Ok(None) => break,
                Err(_) => return, // The connection would be closed here.
            }
        }
    }
    assert!(framed_bytes <= stream.len());
});
