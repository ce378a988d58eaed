//! Digest header values: challenges and credentials parse, print, and parse back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::auth::{Challenge, Credentials};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        let again = Challenge::parse(&challenge.to_string()).expect("printed challenge parses");
        assert_eq!(again, challenge);
    }
    if let Ok(credentials) = Credentials::parse(text) {
        let again =
            Credentials::parse(&credentials.to_string()).expect("printed credentials parse");
        assert_eq!(again, credentials);
    }
});
