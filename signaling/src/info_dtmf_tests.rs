#![allow(clippy::unwrap_used)]

use super::*;

const RELAY: Option<&str> = Some("application/dtmf-relay");
const DTMF: Option<&str> = Some("application/dtmf");

fn relay(body: &str) -> Result<InfoDtmf, Error> {
    parse_info_dtmf(RELAY, body.as_bytes())
}

fn dtmf(body: &str) -> Result<InfoDtmf, Error> {
    parse_info_dtmf(DTMF, body.as_bytes())
}

fn press(key: char, code: u8, duration_ms: Option<u32>) -> InfoDtmf {
    InfoDtmf {
        key,
        code,
        duration_ms,
    }
}

const KEYS: [(char, u8); 16] = [
    ('0', 0),
    ('1', 1),
    ('2', 2),
    ('3', 3),
    ('4', 4),
    ('5', 5),
    ('6', 6),
    ('7', 7),
    ('8', 8),
    ('9', 9),
    ('*', 10),
    ('#', 11),
    ('A', 12),
    ('B', 13),
    ('C', 14),
    ('D', 15),
];

#[test]
fn every_key_in_dtmf_relay() {
    for (key, code) in KEYS {
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        assert_eq!(relay(&body), Ok(press(key, code, Some(160))), "{body:?}");
    }
}

#[test]
fn every_key_in_application_dtmf() {
    for (key, code) in KEYS {
        assert_eq!(dtmf(&key.to_string()), Ok(press(key, code, None)), "{key}");
        assert_eq!(dtmf(&format!("{key}\r\n")), Ok(press(key, code, None)));
    }
}

#[test]
fn letters_are_case_insensitive_and_normalised_to_upper_case() {
    for (lower, key, code) in [
        ('a', 'A', 12),
        ('b', 'B', 13),
        ('c', 'C', 14),
        ('d', 'D', 15),
    ] {
        assert_eq!(
            relay(&format!("Signal={lower}\r\n")),
            Ok(press(key, code, None))
        );
        assert_eq!(dtmf(&lower.to_string()), Ok(press(key, code, None)));
    }
}

#[test]
fn event_codes_stand_for_their_keys() {
    // `10`/`11` for `*`/`#` as some UAs send in application/dtmf; all of 0-15 are read.
    for (key, code) in KEYS {
        assert_eq!(dtmf(&code.to_string()), Ok(press(key, code, None)));
        assert_eq!(
            relay(&format!("Signal={code}\r\nDuration=100\r\n")),
            Ok(press(key, code, Some(100)))
        );
    }
    assert_eq!(dtmf("10"), Ok(press('*', 10, None)));
    assert_eq!(dtmf("11\r\n"), Ok(press('#', 11, None)));
}

#[test]
fn cisco_and_avaya_bodies() {
    // Cisco: CRLF after each line; Avaya and others: the same without the final CRLF.
    assert_eq!(
        relay("Signal=5\r\nDuration=160\r\n"),
        Ok(press('5', 5, Some(160)))
    );
    assert_eq!(
        relay("Signal=#\r\nDuration=250"),
        Ok(press('#', 11, Some(250)))
    );
    // Duration first.
    assert_eq!(
        relay("Duration=100\r\nSignal=*\r\n"),
        Ok(press('*', 10, Some(100)))
    );
}

#[test]
fn lf_and_cr_line_ends() {
    assert_eq!(
        relay("Signal=7\nDuration=80\n"),
        Ok(press('7', 7, Some(80)))
    );
    assert_eq!(
        relay("Signal=7\rDuration=80\r"),
        Ok(press('7', 7, Some(80)))
    );
    assert_eq!(
        relay("Signal=7\n\r\nDuration=80"),
        Ok(press('7', 7, Some(80)))
    );
    assert_eq!(dtmf("9\n"), Ok(press('9', 9, None)));
}

#[test]
fn names_case_insensitive_and_whitespace_tolerated() {
    assert_eq!(
        relay("signal=1\r\nduration=90\r\n"),
        Ok(press('1', 1, Some(90)))
    );
    assert_eq!(
        relay("SIGNAL=1\r\nDURATION=90\r\n"),
        Ok(press('1', 1, Some(90)))
    );
    assert_eq!(
        relay("Signal = 1\r\nDuration =\t90 \r\n"),
        Ok(press('1', 1, Some(90)))
    );
    assert_eq!(relay("Signal= 1\r\n"), Ok(press('1', 1, None)));
    assert_eq!(relay("  Signal=1  \r\n"), Ok(press('1', 1, None)));
    assert_eq!(dtmf("  #\t\r\n"), Ok(press('#', 11, None)));
}

#[test]
fn extra_lines_are_ignored() {
    assert_eq!(
        relay("\r\nSignal=3\r\nDuration=120\r\nVolume=10\r\nX-Vendor: yes\r\n\r\n"),
        Ok(press('3', 3, Some(120)))
    );
    assert_eq!(
        relay("garbage line\r\nSignal=3\r\n"),
        Ok(press('3', 3, None))
    );
}

#[test]
fn duration_absent_or_unreadable_leaves_the_key() {
    assert_eq!(relay("Signal=2"), Ok(press('2', 2, None)));
    for duration in ["", "abc", "-5", "+160", "160ms", "1.5", "99999999999", " "] {
        let body = format!("Signal=2\r\nDuration={duration}\r\n");
        assert_eq!(relay(&body), Ok(press('2', 2, None)), "{body:?}");
    }
    assert_eq!(
        relay("Signal=2\r\nDuration=0\r\n"),
        Ok(press('2', 2, Some(0)))
    );
    assert_eq!(
        relay("Signal=2\r\nDuration=4294967295\r\n"),
        Ok(press('2', 2, Some(u32::MAX)))
    );
    // The first Duration counts.
    assert_eq!(
        relay("Signal=2\r\nDuration=100\r\nDuration=200\r\n"),
        Ok(press('2', 2, Some(100)))
    );
}

#[test]
fn unknown_signals_are_refused() {
    for signal in [
        "X", "16", "55", "", "!", "E", "e", "05", "010", "1 2", "12a", "**", "é", "٣", "-1",
    ] {
        let body = format!("Signal={signal}\r\nDuration=160\r\n");
        assert!(
            matches!(relay(&body), Err(Error::InfoDtmfUnknownSignal(_))),
            "{body:?}: {:?}",
            relay(&body)
        );
    }
    for body in ["X", "16", "55", "!", "E", "1 2", "5\r\n6"] {
        assert!(
            matches!(dtmf(body), Err(Error::InfoDtmfUnknownSignal(_))),
            "{body:?}"
        );
    }
    assert_eq!(
        relay("Signal=X\r\n"),
        Err(Error::InfoDtmfUnknownSignal("X".into()))
    );
}

#[test]
fn unknown_signal_is_cut_short_in_the_error() {
    let long = "9".repeat(500);
    let Err(Error::InfoDtmfUnknownSignal(signal)) = relay(&format!("Signal={long}")) else {
        panic!("a long signal is refused");
    };
    assert_eq!(signal.chars().count(), 16);
}

#[test]
fn missing_signal_is_refused() {
    for body in [
        "",
        "\r\n",
        "Duration=160\r\n",
        "Signal5\r\n",
        "Sig=5\r\n",
        "Signals=5\r\n",
    ] {
        assert_eq!(relay(body), Err(Error::InfoDtmfNoSignal), "{body:?}");
    }
    assert_eq!(dtmf(""), Err(Error::InfoDtmfNoSignal));
    assert_eq!(dtmf(" \r\n"), Err(Error::InfoDtmfNoSignal));
}

#[test]
fn repeated_signal_is_refused() {
    assert_eq!(
        relay("Signal=5\r\nSignal=6\r\n"),
        Err(Error::InfoDtmfRepeatedSignal)
    );
    assert_eq!(
        relay("Signal=5\r\nsignal=5\r\n"),
        Err(Error::InfoDtmfRepeatedSignal)
    );
}

#[test]
fn relay_body_labelled_application_dtmf_is_read() {
    assert_eq!(
        dtmf("Signal=8\r\nDuration=200\r\n"),
        Ok(press('8', 8, Some(200)))
    );
    assert_eq!(dtmf("Duration=200\r\n"), Err(Error::InfoDtmfNoSignal));
}

#[test]
fn content_types() {
    let body = b"Signal=5\r\n";
    for content_type in [
        "application/dtmf-relay",
        "Application/DTMF-Relay",
        "APPLICATION/DTMF-RELAY",
        "application / dtmf-relay",
        "application/dtmf-relay;charset=utf-8",
        "application/dtmf-relay ; x=y",
        " application/dtmf-relay ",
    ] {
        assert_eq!(
            parse_info_dtmf(Some(content_type), body),
            Ok(press('5', 5, None)),
            "{content_type}"
        );
    }
    for content_type in [
        "application/dtmf",
        "Application/DTMF",
        "application/dtmf; a=b",
    ] {
        assert_eq!(
            parse_info_dtmf(Some(content_type), b"#"),
            Ok(press('#', 11, None)),
            "{content_type}"
        );
    }
}

#[test]
fn other_content_types_are_refused() {
    for content_type in [
        "application/sdp",
        "text/plain",
        "application/dtmf-relayx",
        "application/dtmfrelay",
        "application/media_control+xml",
        "application",
        "dtmf-relay",
        "/dtmf-relay",
        "",
        ";application/dtmf-relay",
    ] {
        assert_eq!(
            parse_info_dtmf(Some(content_type), b"Signal=5\r\n"),
            Err(Error::InfoDtmfContentType),
            "{content_type:?}"
        );
    }
    assert_eq!(
        parse_info_dtmf(None, b"Signal=5\r\n"),
        Err(Error::InfoDtmfContentType)
    );
}

#[test]
fn garbage_bytes_are_refused() {
    assert_eq!(
        parse_info_dtmf(RELAY, b"Signal=\xff\r\n"),
        Err(Error::InfoDtmfNotUtf8)
    );
    assert_eq!(parse_info_dtmf(DTMF, b"\xc3"), Err(Error::InfoDtmfNotUtf8));
    assert_eq!(
        parse_info_dtmf(RELAY, b"\0\0\0\0"),
        Err(Error::InfoDtmfNoSignal)
    );
    assert!(matches!(
        parse_info_dtmf(RELAY, b"Signal=\0\r\n"),
        Err(Error::InfoDtmfUnknownSignal(_))
    ));
    assert!(matches!(
        parse_info_dtmf(DTMF, b"\x01"),
        Err(Error::InfoDtmfUnknownSignal(_))
    ));
    // Every single byte, and every pair, gives an answer without panicking; a key only for
    // the 16 keys (and `a`-`d`), alone or with whitespace.
    for a in 0..=255u8 {
        for content_type in [RELAY, DTMF] {
            let _ = parse_info_dtmf(content_type, &[a]);
            for b in 0..=255u8 {
                if let Ok(dtmf) = parse_info_dtmf(content_type, &[a, b]) {
                    assert_eq!(key_for_code(dtmf.code), Some(dtmf.key));
                }
            }
        }
    }
}

#[test]
fn oversized_body_is_refused() {
    let mut body = b"Signal=5\r\n".to_vec();
    body.resize(MAX_BODY, b' ');
    assert_eq!(parse_info_dtmf(RELAY, &body), Ok(press('5', 5, None)));
    body.push(b' ');
    assert_eq!(
        parse_info_dtmf(RELAY, &body),
        Err(Error::InfoDtmfTooLarge {
            len: MAX_BODY + 1,
            max: MAX_BODY
        })
    );
}

#[test]
fn rejections_name_the_problem() {
    let rejection = |body: &[u8]| {
        parse_info_dtmf(RELAY, body)
            .unwrap_err()
            .info_dtmf_rejection()
    };
    assert_eq!(
        rejection(b"Signal=X"),
        Some((400, "Bad Request - unknown DTMF signal"))
    );
    assert_eq!(
        rejection(b"Duration=1"),
        Some((400, "Bad Request - no DTMF signal"))
    );
    assert_eq!(
        rejection(b"Signal=1\nSignal=2"),
        Some((400, "Bad Request - more than one DTMF signal"))
    );
    assert_eq!(
        rejection(b"\xff"),
        Some((400, "Bad Request - DTMF body not UTF-8"))
    );
    assert_eq!(
        rejection(&[b' '; MAX_BODY + 1]),
        Some((413, "Request Entity Too Large - DTMF body too large"))
    );
    assert_eq!(
        Error::InfoDtmfContentType.info_dtmf_rejection(),
        Some((415, "Unsupported Media Type - not a DTMF body"))
    );
    // Not about INFO DTMF.
    assert_eq!(Error::SdpNoCommonCodec.info_dtmf_rejection(), None);
    assert_eq!(Error::SipfragEmpty.info_dtmf_rejection(), None);
}

#[test]
fn error_messages_are_safe_to_log() {
    let error = relay("Signal=\u{1b}[2J").unwrap_err();
    assert_eq!(error.to_string(), r#"unknown DTMF signal "\u{1b}[2J""#);
}
