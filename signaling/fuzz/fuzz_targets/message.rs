//! `parse_message` on one datagram, request screening, and the print → parse round trip:
//! whatever we accept must print to bytes that parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::message::{Limits, Message, parse_message};
use sipbridge_signaling::screen::screen_request;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let message = match parse_message(data, &limits) {
        Ok(message) => message,
        Err(malformed) => {
            // A 400 we would send must itself be a well-formed response.
            if let Some(reply) = malformed.reply {
                let (code, reason) = malformed.error.status();
                let bytes = reply.response_bytes(code, &reason, &[]);
                assert!(bytes.ends_with(b"\r\n\r\n"));
            }
            return;
        }
    };
    let printed = match &message {
        Message::Request(request) => {
            let _ = screen_request(request);
            request.to_bytes()
        }
        Message::Response(response) => response.to_bytes(),
    };
    let again = parse_message(&printed, &limits).expect("what we print must parse");
    assert_eq!(again, message);
});
