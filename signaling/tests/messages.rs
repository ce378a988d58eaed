//! Message parsing beyond the torture suite: inputs the fuzzers found, responses we build,
//! and the limits.
#![allow(clippy::unwrap_used)]

use sipbridge_signaling::Error;
use sipbridge_signaling::message::{Limits, Message, Response, parse_message};

const OPTIONS: &str = "OPTIONS sip:bridge@192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:bridge@192.0.2.10>\r\n\
From: \"Carrier\" <sip:ping@192.0.2.20>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@192.0.2.20\r\n\
CSeq: 63104 OPTIONS\r\n\
Accept: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn multibyte_text_where_a_start_line_is_expected_is_an_error_not_a_panic() {
    // Found by the `message` fuzz target: the 4th byte inside a UTF-8 sequence.
    for input in [
        "SIPé 200 OK\r\n\r\n",
        "ééé\r\n\r\n",
        "SI\u{99}/2.0 200 OK\r\nVia: x\r\n\r\n",
    ] {
        assert!(
            parse_message(input.as_bytes(), &Limits::default()).is_err(),
            "{input:?}"
        );
    }
}

#[test]
fn a_response_copies_what_rfc_3261_says_and_prints_a_content_length() {
    let Message::Request(request) = parse_message(OPTIONS.as_bytes(), &Limits::default()).unwrap()
    else {
        panic!("a request")
    };
    let mut response = Response::to(&request, 200, None);
    response.head.via[0].stamp_source("198.51.100.7:61000".parse().unwrap());
    response.head.to.params.set("tag", Some("b2b".into()));
    let text = String::from_utf8(response.to_bytes()).unwrap();
    assert_eq!(
        text,
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK776asdhds;rport=61000;received=198.51.100.7\r\n\
From: \"Carrier\" <sip:ping@192.0.2.20>;tag=1928301774\r\n\
To: <sip:bridge@192.0.2.10>;tag=b2b\r\n\
Call-ID: a84b4c76e66710@192.0.2.20\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn a_latin1_display_name_costs_nothing_but_the_character() {
    let input = OPTIONS.replace("\"Carrier\"", "\"Caf\u{e9}\"");
    let mut bytes = input.into_bytes();
    // Re-encode é as Latin-1 (one byte 0xE9), as old PBXs send it.
    let at = bytes.windows(2).position(|w| w == [0xC3, 0xA9]).unwrap();
    bytes.splice(at..at + 2, [0xE9]);
    let message = parse_message(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        message.head().from.display_name_text().as_deref(),
        Some("Caf\u{fffd}")
    );
}

#[test]
fn limits_are_enforced_and_answerable() {
    let many_headers = OPTIONS.replace("Accept: application/sdp\r\n", &"X-A: 1\r\n".repeat(300));
    let malformed = parse_message(many_headers.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(malformed.error, Error::TooManyHeaders(200));

    let long_line = OPTIONS.replace("application/sdp", &"a".repeat(10_000));
    let malformed = parse_message(long_line.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(malformed.error, Error::LineTooLong(8_192));

    let truncated = OPTIONS.replace("Content-Length: 0", "Content-Length: 10");
    let malformed = parse_message(truncated.as_bytes(), &Limits::default()).unwrap_err();
    let reply = malformed.reply.unwrap();
    let (code, reason) = malformed.error.status();
    let answer = String::from_utf8(reply.response_bytes(code, &reason, &[])).unwrap();
    assert!(answer.starts_with("SIP/2.0 400 Content-Length 10 exceeds the 0 bytes of body\r\n"));
    assert!(answer.contains("Call-ID: a84b4c76e66710@192.0.2.20\r\n"));
}

#[test]
fn a_message_without_an_empty_line_after_its_headers_is_dropped() {
    let cut = &OPTIONS[..OPTIONS.len() - 2];
    let malformed = parse_message(cut.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(malformed.error, Error::UnterminatedHead);
}
