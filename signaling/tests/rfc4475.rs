//! RFC 4475 "SIP Torture Test Messages": every one of the 49 messages in
//! `../shared/testdata/rfc4475/` gets the handling its RFC section expects from a call
//! endpoint: accepted for processing, answered with the listed status (a 400's reason
//! phrase names the fault), or dropped when it is a response nobody can be told about.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use sipbridge_signaling::message::{Limits, Message, Request, parse_message};
use sipbridge_signaling::screen::{response_is_for_us, screen_request};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A request that passes every check and goes on to the transaction layer.
    Accepted,
    /// Answered with this status; the reason phrase contains the text.
    Answered(u16, &'static str),
    /// A response that parses and is for us, with this status code.
    Response(u16),
    /// Dropped (and counted): a response that is malformed or not ours.
    Dropped,
}
use Expect::*;

/// (file, RFC 4475 section, expected handling).
const TABLE: [(&str, &str, Expect); 49] = [
    // 3.1.1 Valid messages.
    ("wsinv", "3.1.1.1", Accepted),
    ("intmeth", "3.1.1.2", Answered(501, "Not Implemented")),
    ("esc01", "3.1.1.3", Accepted),
    ("escnull", "3.1.1.4", Answered(405, "Method Not Allowed")),
    ("esc02", "3.1.1.5", Answered(501, "Not Implemented")),
    ("lwsdisp", "3.1.1.6", Accepted),
    ("longreq", "3.1.1.7", Accepted),
    // The REGISTER is processed, the INVITE after it in the datagram is discarded.
    ("dblreq", "3.1.1.8", Answered(405, "Method Not Allowed")),
    ("semiuri", "3.1.1.9", Accepted),
    ("transports", "3.1.1.10", Accepted),
    ("mpart01", "3.1.1.11", Answered(405, "Method Not Allowed")),
    ("unreason", "3.1.1.12", Response(200)),
    ("noreason", "3.1.1.13", Response(100)),
    // 3.1.2 Invalid messages.
    ("badinv01", "3.1.2.1", Answered(400, "Via")),
    ("clerr", "3.1.2.2", Answered(400, "Content-Length 9999")),
    ("ncl", "3.1.2.3", Answered(400, "Content-Length")),
    ("scalar02", "3.1.2.4", Answered(400, "CSeq")),
    ("scalarlg", "3.1.2.5", Dropped),
    ("quotbal", "3.1.2.6", Answered(400, "To")),
    ("ltgtruri", "3.1.2.7", Answered(400, "Request-URI")),
    ("lwsruri", "3.1.2.8", Answered(400, "whitespace")),
    ("lwsstart", "3.1.2.9", Answered(400, "whitespace")),
    ("trws", "3.1.2.10", Answered(400, "whitespace")),
    (
        "escruri",
        "3.1.2.11",
        Answered(400, "headers in Request-URI"),
    ),
    ("baddate", "3.1.2.12", Answered(400, "Date")),
    ("regbadct", "3.1.2.13", Answered(400, "Contact")),
    ("badaspec", "3.1.2.14", Answered(400, "To")),
    ("baddn", "3.1.2.15", Answered(400, "From")),
    ("badvers", "3.1.2.16", Answered(505, "7.0")),
    ("mismatch01", "3.1.2.17", Answered(400, "CSeq method")),
    ("mismatch02", "3.1.2.18", Answered(400, "CSeq method")),
    ("bigcode", "3.1.2.19", Dropped),
    // 3.2 Transaction layer semantics.
    ("badbranch", "3.2.1", Accepted),
    // 3.3 Application layer semantics.
    ("insuf", "3.3.1", Answered(400, "Missing")),
    ("unkscm", "3.3.2", Answered(416, "Unsupported URI Scheme")),
    ("novelsc", "3.3.3", Answered(416, "Unsupported URI Scheme")),
    ("unksm2", "3.3.4", Answered(405, "Method Not Allowed")),
    ("bext01", "3.3.5", Answered(420, "Bad Extension")),
    ("invut", "3.3.6", Answered(415, "Unsupported Media Type")),
    ("regaut01", "3.3.7", Answered(405, "Method Not Allowed")),
    ("multi01", "3.3.8", Answered(400, "More than one")),
    (
        "mcl01",
        "3.3.9",
        Answered(400, "More than one Content-Length"),
    ),
    ("bcast", "3.3.10", Dropped),
    // An endpoint answers OPTIONS with Max-Forwards 0 itself (483 is for proxies).
    ("zeromf", "3.3.11", Accepted),
    ("cparam01", "3.3.12", Answered(405, "Method Not Allowed")),
    ("cparam02", "3.3.13", Answered(405, "Method Not Allowed")),
    ("regescrt", "3.3.14", Answered(405, "Method Not Allowed")),
    ("sdp01", "3.3.15", Answered(406, "Not Acceptable")),
    // 3.4 Backward compatibility: an RFC 2543 INVITE (no branch cookie, no Max-Forwards).
    ("inv2543", "3.4.1", Accepted),
];

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/rfc4475")
}

/// What the endpoint does with one datagram, and the request if it was accepted.
fn handle(datagram: &[u8]) -> (Expect, String, Option<Request>) {
    match parse_message(datagram, &Limits::default()) {
        Err(malformed) => match malformed.reply {
            Some(_) => {
                let (code, reason) = malformed.error.status();
                (Answered(code, ""), reason, None)
            }
            None => (Dropped, malformed.error.to_string(), None),
        },
        Ok(Message::Response(response)) if response_is_for_us(&response) => {
            (Response(response.code), response.reason, None)
        }
        Ok(Message::Response(_)) => (Dropped, "more than one Via".into(), None),
        Ok(Message::Request(request)) => match screen_request(&request) {
            Ok(()) => (Accepted, String::new(), Some(request)),
            Err(rejection) => (Answered(rejection.code, ""), rejection.reason, None),
        },
    }
}

#[test]
fn every_torture_message_gets_the_handling_its_section_expects() {
    let mut files: Vec<String> = std::fs::read_dir(testdata())
        .expect("../shared/testdata/rfc4475 is missing")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = TABLE
        .iter()
        .map(|(name, ..)| format!("{name}.dat"))
        .collect();
    listed.sort();
    assert_eq!(files, listed, "the table must list every file exactly once");

    let mut failures = Vec::new();
    for (name, section, expected) in TABLE {
        let bytes = std::fs::read(testdata().join(format!("{name}.dat"))).unwrap();
        let (got, reason, _) = handle(&bytes);
        let matches = match (expected, got) {
            (Answered(code, text), Answered(got_code, _)) => {
                code == got_code && reason.contains(text)
            }
            _ => expected == got,
        };
        println!("{section:9} {name:11} {got:?} {reason:?}");
        if !matches {
            failures.push(format!(
                "{name} ({section}): expected {expected:?}, got {got:?} {reason:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn accepted_messages_keep_their_meaning_through_print_and_parse() {
    for (name, _, expected) in TABLE {
        if expected != Accepted {
            continue;
        }
        let bytes = std::fs::read(testdata().join(format!("{name}.dat"))).unwrap();
        let (_, _, request) = handle(&bytes);
        let request = request.unwrap();
        let printed = request.to_bytes();
        let reparsed = parse_message(&printed, &Limits::default()).unwrap();
        assert_eq!(reparsed, Message::Request(request), "{name}");
    }
}

#[test]
fn valid_messages_parse_to_what_they_say() {
    let read = |name: &str| std::fs::read(testdata().join(format!("{name}.dat"))).unwrap();
    let (_, _, wsinv) = handle(&read("wsinv"));
    let wsinv = wsinv.unwrap();
    assert_eq!(wsinv.head.via.len(), 3);
    assert_eq!(wsinv.head.max_forwards, Some(68));
    assert_eq!(wsinv.head.cseq.seq, 9);
    assert_eq!(wsinv.head.to.tag(), Some("1918181833n"));
    assert_eq!(
        wsinv.head.other.get("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );

    let (_, reason, _) = handle(&read("unreason"));
    assert!(reason.starts_with("= 2**3 * 5**2 "), "{reason}");
    let (_, reason, _) = handle(&read("noreason"));
    assert_eq!(reason, "");

    let (_, _, esc01) = handle(&read("esc01"));
    let esc01 = esc01.unwrap();
    assert_eq!(esc01.uri.user(), Some("sips:user@example.com"));
    assert_eq!(esc01.head.from.uri.user(), Some("I have spaces"));
}
