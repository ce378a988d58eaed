//! `info_dtmf::parse_info_dtmf` on an INFO's Content-Type and body: never panics, a key that
//! parses agrees with its RFC 4733 event code, and a refusal is a 4xx with a clean phrase.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_signaling::info_dtmf::{MAX_BODY, parse_info_dtmf};

/// Content types the first byte picks from, so that most inputs reach the body parsers.
const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/dtmf-relay"),
    Some("application/dtmf"),
    Some("Application/DTMF-Relay ; charset=utf-8"),
    Some(" application / dtmf "),
    Some("application/sdp"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Selectors past the list take the Content-Type from the input, up to the first NUL.
    let (content_type, body) = match CONTENT_TYPES.get(usize::from(selector)) {
        Some(&content_type) => (content_type, rest),
        None => {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (content_type, body) = rest.split_at(end);
            let body = body.get(1..).unwrap_or_default();
            (std::str::from_utf8(content_type).ok(), body)
        }
    };
    match parse_info_dtmf(content_type, body) {
        Ok(dtmf) => {
            assert!(body.len() <= MAX_BODY);
            assert!(dtmf.code < 16);
            let keys = "0123456789*#ABCD";
            assert_eq!(keys.chars().nth(usize::from(dtmf.code)), Some(dtmf.key));
        }
        Err(error) => {
            let (status, reason) = error
                .info_dtmf_rejection()
                .expect("every refusal maps to a status");
            assert!((400..500).contains(&status));
            assert!(!reason.chars().any(char::is_control));
        }
    }
});
