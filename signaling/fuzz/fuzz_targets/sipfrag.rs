//! `sipfrag::parse_status` on a NOTIFY body: a status that parses is in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::sipfrag::parse_status;

fuzz_target!(|data: &[u8]| {
    if let Ok(status) = parse_status(data) {
        assert!((100..700).contains(&status.code));
        assert!(!status.reason.contains(['\r', '\n']));
    }
});
